"""What the framework and application scenarios share: the two modes, a reload, a load,
and the scenario model of the application tests.

An application scenario is a set of files, the text they have after the edit, and what must
then hold (``expect``). That expectation is checked twice: on a fresh import of the edited
text (:func:`check_fresh_import`: it is what "right" means) and after the edit is reloaded
into the running modules (each scenario's own test, in both modes), where the test also
checks what only a reload can keep: the objects held before the edit, state built at import
time, nothing run or registered twice.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import Project

Mods = Mapping[str, ModuleType]


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


@dataclass(frozen=True)
class Scenario:
    """Files before the edit, the edited texts, the module to import, what must hold."""

    files: dict[str, str]
    after: dict[str, str]
    main: str
    expect: Callable[[Mods], None]
    # Undo what the import did outside the modules (a logger's handlers, atexit).
    cleanup: Callable[[Mods], None] | None = None
    before_import: Callable[[], None] | None = None


def edited(text: str, *pairs: tuple[str, str]) -> str:
    """``text`` with each ``old`` replaced by ``new``; each must be there."""
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new)
    return text


def start(project: Project, sc: Scenario) -> ModuleType:
    """Write the files as they are before the edit and import the scenario's module."""
    if sc.before_import is not None:
        sc.before_import()
    module: ModuleType = load(project, sc.files, sc.main)
    return module


def apply_edit(project: Project, mode: str, sc: Scenario) -> list[dict[str, Any]]:
    """Reload each edited file; the results, in order."""
    return [reload_with(project, mode, rel, text) for rel, text in sc.after.items()]


def check_fresh_import(project: Project, sc: Scenario) -> None:
    """The scenario's expectation, on a fresh import of the edited text."""
    if sc.before_import is not None:
        sc.before_import()
    load(project, {**sc.files, **sc.after}, sc.main)
    try:
        sc.expect(sys.modules)
    finally:
        if sc.cleanup is not None:
            sc.cleanup(sys.modules)
