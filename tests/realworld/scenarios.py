"""What the framework and application scenarios share: the two modes, a reload, a load."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.conftest import Project


def modes(module_cannot: str | None = None, minimal_fails: str | None = None) -> Any:
    """Both modes; ``module_cannot`` says why a whole-module re-execution cannot pass (by
    what re-running a module means), ``minimal_fails`` which engine fault the default mode
    meets today."""
    return pytest.mark.parametrize(
        "mode",
        [
            _param("minimal", minimal_fails),
            _param("module", module_cannot),
        ],
    )


def _param(mode: str, fails: str | None) -> Any:
    if fails is None:
        return mode
    return pytest.param(mode, marks=pytest.mark.xfail(strict=True, reason=fails))


def reload_with(project: Project, mode: str, rel: str, text: str) -> dict[str, Any]:
    return project.reload(rel, text, reexecute=mode)  # type: ignore[arg-type]


unique = itertools.count()


def load(project: Project, files: dict[str, str], name: str) -> Any:
    project.files(files)
    return project.import_(name)
