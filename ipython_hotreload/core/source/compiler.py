"""Compiling a module's new source: the saved module and its dependents through the same code.

A saved (or changed-on-disk) module's bytes are parsed once: read from the last index of
its module when there is one (:mod:`.splice`: only the statements the edit touched are
parsed), else parsed whole. A dependent that must run again is read from its file, or,
when its file has not changed since it last ran, taken as the code compiled then. Every
failure is a :class:`~ipython_hotreload.errors.ModuleFailed` naming the module.

The :class:`Compiler` also keeps what each module runs (:class:`.running.RunningSources`),
which is what the next edit of it is compared with.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path
from types import CodeType

from ipython_hotreload.core.paths import Stamp, read_source, stamp_of
from ipython_hotreload.core.source.running import RunningSources
from ipython_hotreload.core.source.statements import Readings
from ipython_hotreload.core.source.texts import Source, code_filename
from ipython_hotreload.errors import ModuleFailed

__all__ = ["Compiler"]


class Compiler:
    """Reads, parses and compiles the sources of one reloader's reloads."""

    def __init__(self, readings_cache: Path | None = None) -> None:
        #: What each module runs: the text the next edit of it is compared with.
        self.running = RunningSources(readings_cache)
        # module -> (stamp of its file, the code compiled from it): a dependent whose file
        # did not change is re-executed from this, not read, parsed and compiled again.
        self._codes: dict[str, tuple[Stamp, CodeType]] = {}
        # module -> (its readings, the state of what changed) of a dependent that ran
        # nothing then: the same edit again (the usual loop) leaves it alone at once
        self._unmoved: dict[str, tuple[Readings, object]] = {}

    def compile(self, src: Source) -> bool:
        """Parse and compile ``src`` (raises :class:`ModuleFailed`); True when only the
        statements its edit touched were parsed (the whole module's code is then compiled
        when needed) and its import statements are as they were."""
        filename = src.filename = code_filename(src.mod, src.path)
        try:
            src.text = src.data.decode("utf-8")
            spliced = self.running.splice(src)
            if spliced is not None:
                flags = spliced.index.future_flags
                compile(spliced.chunk, filename, "exec", flags=flags, dont_inherit=True)
                src.index, src.tree = spliced.index, spliced.index.tree
                return spliced.same_imports
            src.tree = ast.parse(src.data, filename)
            src.code = compile(src.tree, filename, "exec", dont_inherit=True)
        except BaseException as exc:  # SyntaxError, but also RecursionError, MemoryError, Ctrl-C
            raise ModuleFailed(src.mod, str(src.path)) from exc
        return False

    @staticmethod
    def read(mod: str, path: Path) -> Source:
        """A module's file as it is on disk now (not compiled yet)."""
        data, stamp = read_source(path)
        return Source(mod, path, data, full=False, stamp=stamp)

    def dependent(self, mod: str, path: Path) -> Source:
        """A dependent's file as it is on disk, compiled: or its code from the last time it
        ran, when the file has not changed since."""
        kept = self._codes.get(mod)
        if kept is not None and stamp_of(path) == kept[0]:
            return Source(mod, path, b"", full=False, stamp=kept[0], code=kept[1], reused=True)
        src = self.read(mod, path)
        self.compile(src)
        return src

    def running_text(self, mod: str, path: Path) -> Source:
        """A module's source as it runs now, compiled: a module whose file holds a failed
        edit follows a change as the text it runs (SPEC §1.8)."""
        data = self.running.text(mod)
        if data is None:
            return self.dependent(mod, path)
        src = Source(mod, path, data, full=False, kept=True)
        self.compile(src)
        return src

    def ran(self, src: Source) -> None:
        """``src``'s module now runs exactly its bytes."""
        self.running.ran(src.mod, src.data, src.stamp)
        if src.code is not None and src.stamp is not None:
            self._codes[src.mod] = (src.stamp, src.code)

    def unmoved(self, mod: str, readings: Readings, state: Callable[[], object]) -> bool:
        """Did the dependent ``mod``, reading as ``readings`` (the very object: its text),
        run nothing when what changed was ``state()`` (:meth:`note_unmoved`)? (``state`` is
        asked only of a dependent noted with these readings.)"""
        kept = self._unmoved.get(mod)
        return kept is not None and kept[0] is readings and kept[1] == state()

    def note_unmoved(self, mod: str, readings: Readings, state: object) -> None:
        """The dependent ``mod``, reading as ``readings``, ran nothing for ``state`` (a value
        equal for the same changes: the same names in the same modules)."""
        self._unmoved[mod] = (readings, state)

    def forget(self, mod: str) -> None:
        """The module was purged."""
        self._codes.pop(mod, None)
        self._unmoved.pop(mod, None)
        self.running.forget(mod)
