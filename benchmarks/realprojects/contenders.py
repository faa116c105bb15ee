"""The contenders: each turns "this module's file now has this text" into running code.

A contender is set up once in its process, after the project is imported, with the files
it will be asked to edit; :meth:`apply` then writes the text and makes the process run it,
timing that (and nothing else) with ``time.perf_counter``, and returns its measures in ms:
``ms`` always, ``work_ms`` where a contender's reload work is timed apart from what
triggers it (``%autoreload 2``).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import importlib.util
import io
import os
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import run_all as h

Measures = dict[str, float]


class Contender:
    """The interface; :class:`Nothing` is the contender that only writes the file."""

    name = "nothing"
    needs_engine = False  # ours: the engine is imported before the project
    distribution = ""  # whose version the report names

    def version(self) -> str:
        return importlib.metadata.version(self.distribution) if self.distribution else ""

    def setup(self, root: Path, files: dict[str, Path]) -> None:
        """Called once, after the project's modules are imported; ``files`` maps each
        module that will be edited to its file."""

    def apply(self, module: str, path: Path, text: str) -> Measures:
        t0 = time.perf_counter()
        path.write_text(text)
        return {"ms": _since(t0)}


Nothing = Contender


class Ours(Contender):
    """``HotReloader(roots=[root], formatter=...).reload(path, text)``."""

    needs_engine = True
    distribution = "ipython_hotreload"

    def __init__(self, formatter: str | None = None, warm_up: bool = False) -> None:
        self.name = "ours" if formatter is None else f"ours-{formatter}"
        self.formatter = formatter
        self.warm_up = warm_up
        self.reloader: Any = None

    def setup(self, root: Path, files: dict[str, Path]) -> None:
        import ipython_hotreload as hr

        self.reloader = hr.HotReloader(roots=[root], formatter=self.formatter)
        if self.warm_up:
            self.reloader.warm_up()
            self.reloader.wait_for_prefetch(600)

    def apply(self, module: str, path: Path, text: str) -> Measures:
        t0 = time.perf_counter()
        self.reloader.reload(path, text)
        measures = {"ms": _since(t0)}
        h.settle()  # the .pyc written behind, untimed (see run_all.settle)
        return measures


class Floor(Contender):
    """Write the file, then ``importlib.reload`` of that module alone (which compiles and
    writes its ``.pyc``)."""

    name = "floor"

    def apply(self, module: str, path: Path, text: str) -> Measures:
        # Untimed: a .pyc written for an earlier text of the same size in the same second
        # would pass for this one's.
        Path(importlib.util.cache_from_source(str(path))).unlink(missing_ok=True)
        t0 = time.perf_counter()
        path.write_text(text)
        importlib.reload(sys.modules[module])
        return {"ms": _since(t0)}


class Autoreload(Contender):
    """``%autoreload 2`` (deduperreload on) in a real ``InteractiveShell``: write, then the
    ``run_cell("pass")`` on which it notices and reloads the file (``ms``: the whole
    triggering cell), and its reload work alone (``work_ms``: the write plus the calls its
    check makes for the changed module: ``maybe_reload_module``, ``superreload``)."""

    name = "autoreload"
    distribution = "ipython"

    def setup(self, root: Path, files: dict[str, Path]) -> None:
        from benchmarks import run_all as h
        from benchmarks.minimal import _AutoreloadTimer, _shell

        self.shell = _shell()
        with h.quiet_stdout():
            self.bare = h.time_ms(lambda i: self.shell.run_cell("pass"), repeat=50, warmup=5)
            self.shell.run_line_magic("load_ext", "autoreload")
            self.shell.run_line_magic("autoreload", "2")
            self.shell.run_cell("pass")
        registry = self.shell.magics_manager.registry
        self.autoreloader = dict.get(registry, "AutoreloadMagics")._reloader
        deduper = getattr(self.autoreloader, "deduper_reloader", None)
        self.timer = _AutoreloadTimer(deduper)
        self.deduper = deduper is not None and bool(getattr(deduper, "enabled", False))
        self.last = {str(p): p.stat().st_mtime_ns for p in files.values()}

    def _newer(self, path: Path) -> None:
        """Make the file's mtime later than any before (a coarse clock can repeat one):
        autoreload compares mtimes."""
        st = path.stat()
        last = self.last.get(str(path), 0)
        if st.st_mtime_ns <= last:
            os.utime(path, ns=(last + 1_000_000, last + 1_000_000))
            st = path.stat()
        self.last[str(path)] = st.st_mtime_ns

    def apply(self, module: str, path: Path, text: str) -> Measures:
        Path(importlib.util.cache_from_source(str(path))).unlink(missing_ok=True)
        self.timer.work.clear()
        errors = io.StringIO()
        t0 = time.perf_counter()
        path.write_text(text)
        t1 = time.perf_counter()
        self._newer(path)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(errors):
            self.shell.run_cell("pass")
        ms = _since(t0)
        if str(path) in self.autoreloader.failed:
            tail = errors.getvalue().strip().splitlines()[-1:] or ["failed"]
            raise RuntimeError(f"autoreload of {module} failed: {tail[0]}")
        return {"ms": ms, "work_ms": (t1 - t0) * 1000 + sum(self.timer.work) * 1000}


class Jurigged(Contender):
    """jurigged: each edited file registered up front, then write + ``CodeFile.refresh()``."""

    name = "jurigged"
    distribution = "jurigged"

    def setup(self, root: Path, files: dict[str, Path]) -> None:
        from jurigged.register import registry

        self.codefiles = {}
        for module, path in files.items():
            filename = sys.modules[module].__file__
            registry.prepare(module, filename)
            self.codefiles[path] = registry.get(filename)

    def apply(self, module: str, path: Path, text: str) -> Measures:
        t0 = time.perf_counter()
        path.write_text(text)
        self.codefiles[path].refresh()
        return {"ms": _since(t0)}


def make(name: str) -> Contender:
    """The contender of that name (``ours-warm`` warms up before its first reload)."""
    if name == "ours":
        return Ours()
    if name == "ours-ruff":
        return Ours(formatter="ruff")
    if name == "ours-warm":
        return Ours(warm_up=True)
    return {"floor": Floor, "autoreload": Autoreload, "jurigged": Jurigged, "nothing": Nothing}[
        name
    ]()


def _since(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0
