"""Shared fixtures: throw-away projects under ``tmp_path`` with a reloader and an event log."""

from __future__ import annotations

import importlib
import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import ipython_hotreload as hr

# The package resolves its names lazily: load the engine now, before any test, so the
# fixture that drops modules imported during a test never drops the engine itself (its
# classes would then differ from the ones `hr` handed out).
hr.HotReloader


class Project:
    """A package tree in a temp dir, on ``sys.path``, with its own :class:`HotReloader`."""

    def __init__(self, root: Path, reloader: hr.HotReloader) -> None:
        self.root = root
        self.reloader = reloader
        self.events: list[hr.ModuleEvent] = []

    def path(self, rel: str) -> Path:
        return self.root / rel

    def write(self, rel: str, text: str = "") -> Path:
        """Write a file (dedented) without reloading; parents and ``__init__.py`` made."""
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text), encoding="utf-8")
        return p

    def files(self, files: dict[str, str]) -> None:
        for rel, text in files.items():
            self.write(rel, text)

    def import_(self, name: str) -> ModuleType:
        importlib.invalidate_caches()
        return importlib.import_module(name)

    def reload(self, rel: str, text: str, **kw: Any) -> dict[str, Any]:
        return self.reloader.reload(self.root / rel, textwrap.dedent(text), **kw)

    def kinds(self) -> list[tuple[str, str | None]]:
        return [(e.kind, e.mod) for e in self.events]

    def mods(self, result: dict[str, Any]) -> list[str]:
        return [p["mod"] for p in result["recompiled"]]


@pytest.fixture(autouse=True, scope="session")
def private_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The graph's on-disk cache goes to a temp dir, not the user's ~/.cache."""
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if old is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = old


@pytest.fixture
def clean_modules() -> Iterator[None]:
    """Restore ``sys.modules`` and ``sys.path`` after the test."""
    before = dict(sys.modules)
    path_before = list(sys.path)
    yield
    for name in list(sys.modules):
        if name not in before:
            del sys.modules[name]
    sys.modules.update(before)
    sys.path[:] = path_before
    importlib.invalidate_caches()


@pytest.fixture
def project(tmp_path: Path, clean_modules: None) -> Iterator[Project]:
    root = tmp_path / "proj"
    root.mkdir()
    sys.path.insert(0, str(root))
    reloader = hr.HotReloader(roots=[root], formatter=None)
    proj = Project(root, reloader)
    sub = hr.subscribe(proj.events.append)
    try:
        yield proj
    finally:
        sub.close()
        reloader.close()
