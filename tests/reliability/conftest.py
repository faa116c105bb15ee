"""Shared pieces of the reliability suite.

:class:`Versioned` is a two-module package in which every view of the loaded code (module
constants, functions, methods, references held from before, instances made before, the
dependent module's copies) carries one version number. "The loaded code is entirely old or
entirely new" is then one set comparison, and :meth:`Versioned.check_after_fault` states the
whole promise of SPEC §4 for one attempted reload: the file holds one complete text, the loaded
code is one version, the events tell the same story, the graph is not corrupted, an error
names the file, and the next reload works.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import ipython_hotreload as hr
from tests.conftest import Project

BASE = """\
VERSION = {n}


def f():
    return {n}


class C:
    def m(self):
        return {n}
"""

# ``VERSION`` used at module level and ``C`` as a base class make compile edges: the
# dependent is re-executed after every reload of the base.
DEP = """\
import pkg.base as base
from pkg.base import VERSION, C

DEP_VERSION = VERSION


class D(C):
    def dm(self):
        return base.f()
{extra}"""


@dataclass
class Outcome:
    """What one attempted reload did: its result or the exception (of any kind) it raised,
    and the events published while it ran."""

    result: dict[str, Any] | None
    error: BaseException | None
    events: list[hr.ModuleEvent] = field(default_factory=list)

    def kinds(self) -> list[tuple[str, str | None]]:
        return [(e.kind, e.mod) for e in self.events]

    def recompiled(self) -> list[str | None]:
        return [e.mod for e in self.events if e.kind == "recompiled"]


class Versioned:
    """``pkg.base`` (version ``n`` everywhere) and ``pkg.dep`` (compile-dependent on it)."""

    def __init__(self, project: Project, *, dep_extra: str = "") -> None:
        self.project = project
        self.texts: dict[int, str] = {1: BASE.format(n=1)}
        project.files(
            {
                "pkg/__init__.py": "",
                "pkg/base.py": self.texts[1],
                "pkg/dep.py": DEP.format(extra=dep_extra),
            }
        )
        self.base = project.import_("pkg.base")
        self.dep = project.import_("pkg.dep")
        # References taken before any reload: they must follow the reloads (in-place patching).
        self.held_f = self.base.f
        self.held_c = self.base.C()
        self.held_d = self.dep.D()

    @property
    def path(self) -> Path:
        return self.project.path("pkg/base.py")

    @property
    def pkg_dir(self) -> Path:
        return self.project.path("pkg")

    def text(self, n: int, suffix: str = "") -> str:
        return BASE.format(n=n) + suffix

    def attempt(self, n: int, *, suffix: str = "", **kw: Any) -> Outcome:
        """Reload ``pkg.base`` at version ``n``; never lets anything escape (a raw
        ``KeyboardInterrupt`` would end the whole pytest session)."""
        text = self.text(n, suffix)
        self.texts[n] = text
        start = len(self.project.events)
        try:
            result = self.project.reloader.reload(self.path, text, **kw)
        except BaseException as exc:
            return Outcome(None, exc, self.project.events[start:])
        return Outcome(result, None, self.project.events[start:])

    def views(self) -> dict[str, object]:
        """Every way the test can observe which version runs."""
        base = sys.modules.get("pkg.base")
        dep = sys.modules.get("pkg.dep")
        probes: dict[str, Callable[[], object]] = {
            "base.VERSION": lambda: base.VERSION,  # type: ignore[union-attr]
            "base.f()": lambda: base.f(),  # type: ignore[union-attr]
            "base.C().m()": lambda: base.C().m(),  # type: ignore[union-attr]
            "f held from before": lambda: self.held_f(),
            "C instance made before": lambda: self.held_c.m(),
            "dep.DEP_VERSION": lambda: dep.DEP_VERSION,  # type: ignore[union-attr]
            "dep.VERSION": lambda: dep.VERSION,  # type: ignore[union-attr]
            "dep.D().m()": lambda: dep.D().m(),  # type: ignore[union-attr]
            "dep.D().dm()": lambda: dep.D().dm(),  # type: ignore[union-attr]
            "D instance made before": lambda: self.held_d.m(),
        }
        out: dict[str, object] = {}
        for name, probe in probes.items():
            try:
                out[name] = probe()
            except Exception as exc:  # a wiped namespace shows up here, named
                out[name] = f"<{type(exc).__name__}: {exc}>"
        return out

    def loaded_version(self) -> object:
        """The one version every view agrees on (fails, listing the views, if they differ)."""
        views = self.views()
        seen = set(map(repr, views.values()))
        assert len(seen) == 1, f"half-applied: the loaded code mixes versions {views}"
        assert sys.modules.get("pkg.base") is self.base, "pkg.base lost its module object"
        assert sys.modules.get("pkg.dep") is self.dep, "pkg.dep lost its module object"
        return next(iter(views.values()))

    def disk_version(self) -> int:
        """The version whose complete text is on disk (fails on a truncated or mixed file)."""
        data = self.path.read_bytes()
        for n, text in self.texts.items():
            if data == text.encode("utf-8"):
                return n
        raise AssertionError(
            f"{self.path} holds neither an old nor a new text completely "
            f"({len(data)} bytes: {data[:80]!r}...)"
        )

    def leftovers(self) -> list[str]:
        """Temporary files a write left behind next to the source or its bytecode."""
        found: list[str] = []
        for directory in (self.pkg_dir, self.pkg_dir / "__pycache__"):
            if directory.is_dir():
                found += [p.name for p in directory.iterdir() if p.name.startswith(".")]
        return found

    def check_graph(self) -> None:
        """The incremental graph equals one built from scratch on the same files."""
        fresh = hr.HotReloader(roots=self.project.reloader.roots, formatter=None, graph_cache=False)
        try:
            assert self.project.reloader.compile_dep_edges() == fresh.compile_dep_edges()
        finally:
            fresh.close()

    def check_after_fault(self, outcome: Outcome, *, old: int, new: int) -> int:
        """Check everything SPEC §4 promises after an attempted reload from ``old`` to ``new``,
        then that the next reload works; returns the version that was loaded after the fault."""
        error = outcome.error
        if error is not None:
            assert isinstance(error, hr.HotReloadError), (
                f"{type(error).__name__} escaped raw instead of a HotReloadError naming the "
                f"file: {error!r}"
            )
            named = [str(self.path), str(self.project.path("pkg/dep.py"))]
            assert any(p in str(error) for p in named), f"the error names no file: {error}"
        on_disk = self.disk_version()
        assert on_disk in (old, new)
        loaded = self.loaded_version()
        if error is None:
            assert loaded == new and on_disk == new, (loaded, on_disk)
        else:
            assert loaded == old, f"{type(error).__name__} raised but version {loaded} runs"
        # The events tell the same story as the loaded code.
        if loaded == new:
            assert outcome.recompiled() == ["pkg.base", "pkg.dep"], outcome.kinds()
        else:
            assert outcome.recompiled() == [], outcome.kinds()
        if isinstance(error, hr.ReloadError):
            assert outcome.events and outcome.events[-1].kind == "compile_failed", outcome.kinds()
        if isinstance(error, hr.SourceWriteError | hr.UnsafePathError):
            assert outcome.events == [], outcome.kinds()
        assert self.leftovers() == []
        self.check_graph()
        self.check_next_reload_works(new + 1)
        assert isinstance(loaded, int)
        return loaded

    def check_next_reload_works(self, n: int) -> None:
        after = self.attempt(n)
        assert after.error is None, f"the next reload failed: {after.error!r}"
        assert self.loaded_version() == n
        assert self.disk_version() == n
        assert after.kinds() == [
            ("source_written", "pkg.base"),
            ("recompiled", "pkg.base"),
            ("recompiled", "pkg.dep"),
        ]


@pytest.fixture
def versioned(project: Project) -> Versioned:
    """The two-module package, loaded at version 1."""
    return Versioned(project)


def fd_path(fd: int) -> str:
    """The file an open descriptor refers to (Linux ``/proc``)."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


def os_error(code: int, filename: str | None = None) -> OSError:
    """The ``OSError`` subclass the OS raises for ``code``, as the real call would."""
    return OSError(code, os.strerror(code), filename)


def tree_state(top: Path, skip: Path | None = None) -> dict[str, tuple[int, int, int, int]]:
    """Every entry under ``top`` (not following symlinks, ``skip`` left out) with its type,
    size, mtime and inode: any write, creation, deletion or rename changes it."""
    out: dict[str, tuple[int, int, int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        here = Path(dirpath)
        if skip is not None:
            dirnames[:] = [d for d in dirnames if here / d != skip]
        for name in [*dirnames, *filenames]:
            p = here / name
            if skip is not None and p == skip:
                continue
            st = os.lstat(p)
            size = 0 if stat.S_ISDIR(st.st_mode) else st.st_size
            out[str(p.relative_to(top))] = (st.st_mode, size, st.st_mtime_ns, st.st_ino)
    return out


class WriteDenier:
    """Creating files in the denied directories fails with ``EACCES`` at ``os.open``.

    Use after a real ``chmod``: for an ordinary user the chmod already does it; the tests run
    as root, which ignores permission bits, so the same refusal is raised at the OS call.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.denied: set[Path] = set()
        real_open = os.open

        def guarded_open(path: Any, flags: int, mode: int = 0o777, *a: Any, **kw: Any) -> int:
            if flags & os.O_CREAT and Path(os.fsdecode(path)).parent in self.denied:
                raise os_error(errno.EACCES, os.fsdecode(path))
            return real_open(path, flags, mode, *a, **kw)

        if os.geteuid() == 0:
            monkeypatch.setattr(os, "open", guarded_open)

    def deny(self, directory: Path) -> None:
        self.denied.add(directory)

    def allow(self, directory: Path) -> None:
        self.denied.discard(directory)


@pytest.fixture
def write_denier(monkeypatch: pytest.MonkeyPatch) -> WriteDenier:
    """See :class:`WriteDenier`."""
    return WriteDenier(monkeypatch)
