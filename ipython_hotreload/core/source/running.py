"""The exact source each loaded module runs, and its statement index (SPEC §1.5).

A statement-level update compares a module's new text with the text it runs. That text is
the one the reloader last executed for it or, for a module it has not run, its file as it
was imported, when the file can vouch for that (:mod:`.provenance`): older than the process,
or with the stamp it had when the import system read it. For the file being saved, the
bytes it held just before the write are what counts (:meth:`RunningSources.expect_write`).
"""

from __future__ import annotations

import ast
import atexit
import contextlib
import hashlib
import logging
import marshal
import os
import sys
import tempfile
import threading
import weakref
from pathlib import Path
from types import ModuleType
from typing import Any

from ipython_hotreload.core.paths import Stamp, read_source
from ipython_hotreload.core.source.mentions import Mentions, mentions_of
from ipython_hotreload.core.source.provenance import PROCESS_STARTED_NS, import_stamp
from ipython_hotreload.core.source.splice import Spliced, splice
from ipython_hotreload.core.source.statements import ModuleIndex, Readings
from ipython_hotreload.core.source.texts import Running, Source, code_filename

__all__ = ["CACHE_ENTRIES", "RunningSources", "digest", "pack_readings", "package_of"]

log = logging.getLogger(__name__)

_UNKNOWN = Mentions(b"", True, 0)  # a text that cannot be read: it may mention anything


#: Readings the cache file keeps at most (the most recently read; a few kB each).
CACHE_ENTRIES = 5000
_CACHE_VERSION = 2

_Key = tuple[str, str]  # (digest of a module text, the package it is read in)


def digest(data: bytes) -> str:
    """The key of a module text in the readings cache."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


_digest = digest  # (its name inside the class, where `digest` is a local's)


def package_of(name: str, module: ModuleType | None) -> str:
    """The package a module's relative imports start from."""
    if module is not None and hasattr(module, "__path__"):
        return name
    return getattr(module, "__package__", None) or name.rpartition(".")[0]


def pack_readings(r: Readings) -> tuple[Any, ...]:
    """``r`` as plain data for marshal."""
    return (
        tuple(r.statements),
        r.function_reads,
        r.function_later,
        r.module_aliases,
        tuple(r.from_imports),
        frozenset(r.star_imports),
    )


def _unpack(packed: Any) -> Readings:
    statements, function_reads, function_later, aliases, from_imports, stars = packed
    for record in statements:
        if len(record) != 3 or not all(isinstance(part, frozenset) for part in record):
            raise TypeError("not readings")
    if not all(isinstance(d, dict) for d in (function_reads, function_later, aliases)):
        raise TypeError("not readings")
    return Readings(
        list(statements),
        function_reads,
        function_later,
        aliases,
        [tuple(i) for i in from_imports],
        set(stars),
    )


_writers: weakref.WeakSet[threading.Thread] = weakref.WeakSet()


@atexit.register
def _finish_writes() -> None:
    """A kernel that exits right after a reload still leaves what it read for the next."""
    for thread in list(_writers):
        thread.join(5)


def _stamp() -> tuple[int, int, int, str]:
    """What a cache file must have been written by: this Python, this code of readings."""
    global _code_stamp
    if _code_stamp is None:
        from ipython_hotreload.core.source import reads, statements

        h = hashlib.blake2b(digest_size=8)
        for mod in (reads, statements, sys.modules[__name__]):
            h.update(Path(str(mod.__file__)).read_bytes())
        _code_stamp = h.hexdigest()
    return (_CACHE_VERSION, *sys.version_info[:2], _code_stamp)


_code_stamp: str | None = None


def _read_cache(path: Path | None) -> dict[_Key, object]:
    if path is None:
        return {}
    try:
        stamp, entries = marshal.loads(path.read_bytes())
        current = _stamp()  # (reads this code's files: a zip install may refuse)
    except FileNotFoundError:
        return {}
    except (OSError, EOFError, ValueError, TypeError) as exc:
        log.warning("ignoring the unreadable readings cache %s: %s", path, exc)
        return {}
    return entries if stamp == current and isinstance(entries, dict) else {}


def _write_cache(path: Path, entries: dict[_Key, object]) -> None:
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".readings-", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(marshal.dumps((_stamp(), entries)))
        os.replace(tmp, path)
        tmp = None
    except (OSError, ValueError) as exc:
        log.warning("could not save the readings cache %s: %s", path, exc)
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


class RunningSources:
    """What each module runs, as far as the reloader knows it (a plan's ``SourceBook``)."""

    def __init__(self, cache: Path | None = None) -> None:
        """``cache``: the file that keeps readings between sessions (None: none)."""
        self._texts: dict[str, bytes] = {}  # module -> the exact source bytes it runs
        self._stamps: dict[str, Stamp] = {}  # module -> the stamp of those bytes on disk
        self._indexes: dict[str, tuple[bytes, ModuleIndex]] = {}  # module -> its last index
        self._readings: dict[str, tuple[bytes, Readings]] = {}  # a dependent's, by its text
        # Readings by (digest of a text, its package): from the disk cache, the warm-up's
        # prefetch, or read here; what a module's first readings() takes before parsing.
        self._known: dict[_Key, Readings] = {}
        self._cache = cache
        self._cache_loaded = cache is None
        self._unsaved = 0  # readings read here since the cache was last written
        self._saving = threading.Lock()
        self._before_write: dict[Path, tuple[bytes | None, Stamp | None]] = {}
        # module -> (the text it runs, or a digest (str) of its file's bytes when that text
        # is not known yet), and what that text mentions
        self._mentions: dict[str, tuple[bytes | str, Mentions]] = {}
        self._filenames: dict[tuple[str, Path, object], str] = {}

    # -- what the engine tells it ----------------------------------------------------------

    def text(self, name: str) -> bytes | None:
        """The exact bytes ``name`` runs, if known."""
        return self._texts.get(name)

    def ran(self, name: str, data: bytes, stamp: Stamp | None = None) -> None:
        """``name`` now runs ``data`` (read or written with ``stamp``)."""
        self._texts[name] = data
        if stamp is not None:
            self._stamps[name] = stamp
        else:
            self._stamps.pop(name, None)

    def forget(self, name: str) -> None:
        """The module was purged."""
        self._texts.pop(name, None)
        self._stamps.pop(name, None)
        self._indexes.pop(name, None)
        self._readings.pop(name, None)
        self._mentions.pop(name, None)
        for key in [k for k in self._filenames if k[0] == name]:
            del self._filenames[key]

    def remember(self, name: str, module: ModuleType, path: Path) -> None:
        """Note the text ``name`` runs now, if its file (``path``) vouches for it (before a
        watcher starts: the edits it reports arrive with the file already replaced)."""
        if name in self._texts:
            return
        found = self._as_imported(module, path)
        if found is not None:
            self.ran(name, *found)

    def expect_write(self, path: Path, before: bytes | None, stamp: Stamp | None) -> None:
        """``path`` is about to be overwritten: it held ``before`` (with ``stamp``)."""
        self._before_write = {path: (before, stamp)}

    def written(self) -> None:
        """The reload that wrote is over: the bytes before it say nothing any more."""
        self._before_write = {}

    # -- what a plan asks ------------------------------------------------------------------

    def running(self, name: str, module: ModuleType, path: Path) -> Running:
        """The source ``name`` runs, or why it is not known exactly (``path``: its file, or
        the file being reloaded for it, which a module that mirrors another's ``__file__``
        needs)."""
        filename = self._filename(name, path, module)
        data = self._running_text(name, module, path)
        if data is None:
            return Running(None, filename, "the source the module runs is not known exactly")
        return Running(self._index_of(name, data, None, module, filename), filename)

    def readings(self, name: str, module: ModuleType, path: Path) -> Readings | None:
        """What the source ``name`` runs reads at import time and imports (None: that
        source is not known exactly; :meth:`running` says why). Kept per text without its
        syntax tree: a dependent is asked on every edit of what it imports, and seldom runs
        anything."""
        data = self._running_text(name, module, path)
        if data is None:
            return None
        kept = self._readings.get(name)
        if kept is not None and (kept[0] is data or kept[0] == data):
            return kept[1]
        full = self._indexes.get(name)
        if full is not None and full[0] == data:
            found = full[1].readings()
        else:
            if not self._cache_loaded:
                self.load_cache()
            key = (_digest(data), package_of(name, module))
            known = self._known.pop(key, None)  # (put back last: the most recently read)
            if known is not None:
                self._known[key] = known
            else:
                filename = self._filename(name, path, module)
                known = self._build(name, data, None, module, filename, None).readings()
                self._known[key] = known
                if len(self._known) > CACHE_ENTRIES:  # a long session: the oldest go
                    del self._known[next(iter(self._known))]
                self._unsaved += 1
            found = known
        self._readings[name] = (data, found)
        return found

    # -- readings kept between sessions ----------------------------------------------------

    def seed(self, digest: str, package: str, packed: object) -> bool:
        """Take the readings of a text another process read (``packed`` as
        :func:`pack_readings` made it), for the module that turns out to run that text."""
        try:
            readings = _unpack(packed)
        except (TypeError, ValueError):
            return False
        self._known.setdefault((digest, package), readings)
        return True

    def load_cache(self) -> None:
        """Read the readings the cache file keeps (once; an unreadable file is no cache).
        What a text mentions is not kept: its filter is built from this process's string
        hash, which another process seeds differently."""
        self._cache_loaded = True
        for key, packed in _read_cache(self._cache).items():
            if isinstance(key, tuple) and len(key) == 2 and all(type(k) is str for k in key):
                self.seed(key[0], key[1], packed)

    def save_cache_behind(self) -> threading.Thread | None:
        """Write the readings read since the last write to the cache file, in a thread of
        its own (merged with what other sessions wrote meanwhile); None when there is
        nothing to write."""
        if self._cache is None or not self._unsaved or self._saving.locked():
            return None
        self._unsaved = 0
        entries = {k: pack_readings(r) for k, r in list(self._known.items())}
        thread = threading.Thread(
            target=self._write, args=(self._cache, entries), name="hotreload-readings", daemon=True
        )
        thread.start()
        _writers.add(thread)
        return thread

    def _write(self, path: Path, entries: dict[_Key, object]) -> None:
        with self._saving:
            # This session's readings are the newest: the oldest of the others go first.
            merged = {k: v for k, v in _read_cache(path).items() if k not in entries}
            merged.update(entries)
            _write_cache(path, dict(list(merged.items())[-CACHE_ENTRIES:]))

    def mentions(self, name: str, path: Path) -> Mentions:
        """What the text ``name`` runs mentions (its file's, when that text is not known
        yet), summarised once per text: a cheap first answer to whether it can read a name.
        A summary of the file holds for the text the module turns out to run when the two
        are the same bytes (a digest of the file's is kept, not a second copy)."""
        data = self._texts.get(name)
        kept = self._mentions.get(name)
        if kept is not None:
            text, summary = kept
            if data is None and isinstance(text, str):
                return summary
            if data is not None and (text is data or text == _digest(data)):
                if text is not data:
                    self._mentions[name] = (data, summary)
                return summary
        if data is None:
            try:
                found = read_source(path)[0]
            except OSError:
                return _UNKNOWN
            summary = mentions_of(found)
            self._mentions[name] = (_digest(found), summary)
        else:
            summary = mentions_of(data)
            self._mentions[name] = (data, summary)
        return summary

    def index(self, src: Source) -> ModuleIndex:
        """The statement index of a new, parsed source."""
        if src.index is not None:
            self._indexes[src.mod] = (src.data, src.index)
            return src.index
        module = sys.modules.get(src.mod)
        return self._index_of(src.mod, src.data, src.tree, module, src.filename)

    def splice(self, src: Source) -> Spliced | None:
        """The new source read from the last index of its module, parsing only the
        statements the edit touched (None: parse it whole)."""
        kept = self._indexes.get(src.mod)
        if kept is None:
            return None
        return splice(kept[1], src.text, src.filename)

    def runs_text(self, src: Source, module: ModuleType | None) -> bool:
        """Does the module already run exactly ``src``'s bytes?"""
        running = self._texts.get(src.mod)
        if running is None and module is not None:
            pending = self._before_write.get(src.path)
            if pending is not None and self._vouched(module, src.path, pending[1]):
                running = pending[0]
        return running is not None and running == src.data

    # -- helpers ---------------------------------------------------------------------------

    def _filename(self, name: str, path: Path, module: ModuleType) -> str:
        """The file name ``name``'s code carries (worked out once per file and ``__file__``:
        a plan asks it for every dependent, and the answer costs stats)."""
        key = (name, path, getattr(module, "__file__", None))
        known = self._filenames.get(key)
        if known is None:
            known = self._filenames[key] = code_filename(name, path)
        return known

    def _index_of(
        self,
        name: str,
        data: bytes,
        tree: ast.Module | None,
        module: ModuleType | None,
        filename: str,
    ) -> ModuleIndex:
        kept = self._indexes.get(name)
        if kept is not None and kept[0] == data:
            return kept[1]
        index = self._build(name, data, tree, module, filename, kept[1] if kept else None)
        self._indexes[name] = (data, index)
        return index

    @staticmethod
    def _build(
        name: str,
        data: bytes,
        tree: ast.Module | None,
        module: ModuleType | None,
        filename: str,
        previous: ModuleIndex | None,
    ) -> ModuleIndex:
        if tree is None:
            tree = ast.parse(data, filename or name)
        return ModuleIndex(data.decode("utf-8"), tree, package_of(name, module), previous)

    def _running_text(self, name: str, module: ModuleType, path: Path) -> bytes | None:
        """The exact bytes ``name`` runs: the ones the reloader ran, unless the import
        system ran the file since, else its file if that vouches for them."""
        data = self._texts.get(name)
        if data is not None and self._reimported(name, module, path):
            data = None  # importlib.reload (or %autoreload) ran the file since: it runs that
        if data is None:
            found = self._as_imported(module, path)
            if found is None:
                return None
            data = found[0]
            self.ran(name, *found)
        return data

    def _as_imported(self, module: ModuleType, path: Path) -> tuple[bytes, Stamp] | None:
        """The file of a module not run by the reloader, if it is certainly the text the
        module was imported from."""
        pending = next(
            (
                entry
                for written, entry in self._before_write.items()
                # (a name apart is another file: no resolving of every dependent's path)
                if path == written or (path.name == written.name and path.resolve() == written)
            ),
            None,
        )
        if pending is not None:
            data, stamp = pending
        else:
            try:
                data, stamp = read_source(path)
            except OSError:
                return None
        if data is None or stamp is None or not self._vouched(module, path, stamp):
            return None
        return data, stamp

    def _reimported(self, name: str, module: ModuleType, path: Path) -> bool:
        """Did the import system read the module's file again after the reloader ran it?"""
        ours = self._stamps.get(name)
        file = getattr(module, "__file__", None) or str(path)
        theirs = import_stamp(file) or import_stamp(str(path))
        # A newer file than the one the reloader ran (the import system's own first read
        # of the module, older than ours, says nothing).
        return ours is not None and theirs is not None and theirs[0] > ours[0]

    @staticmethod
    def _vouched(module: ModuleType, path: Path, stamp: Stamp | None) -> bool:
        if stamp is None:
            return False
        if stamp[0] < PROCESS_STARTED_NS:
            return True
        file = getattr(module, "__file__", None) or str(path)
        return stamp in (import_stamp(file), import_stamp(str(path)))
