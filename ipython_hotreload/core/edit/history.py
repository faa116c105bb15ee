"""History of committed reloads, with the exact bytes of every file, and undo (SPEC §1.7).

:class:`History` listens to a reloader's committed batches (``add_batch_listener``): each is
an entry holding every file's bytes before and after, newest first, at most ``limit`` of
them. :meth:`History.undo` writes back the before-bytes of the newest entries not yet undone
through the reloader's ``reload_files`` (one all-or-nothing batch) and is itself recorded as
one entry with origin ``"undo"``, so undoing an undo redoes.

An undo runs in two batches recorded as one entry: first the files that get text back (a
failure there rolls the modules back, and the files are put back to the bytes they had before
the undo), then the files the undone entries created are deleted and their modules purged,
which cannot fail on code and must come second (restored modules may stop importing them).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ipython_hotreload.core.batch import CommittedBatch
from ipython_hotreload.core.paths import atomic_write
from ipython_hotreload.core.results import ReloadResult
from ipython_hotreload.errors import HotReloadError

__all__ = ["History", "HistoryEntry", "HistoryFile"]

log = logging.getLogger(__name__)


#: ``reload_files({path: bytes | None}, origin="undo")`` of a reloader.
ReloadFiles = Callable[..., ReloadResult]


def _hash(data: bytes | None) -> str | None:
    return hashlib.sha256(data).hexdigest() if data is not None else None


@dataclass(frozen=True)
class HistoryFile:
    """One file of an entry: its exact bytes before (None: it did not exist) and after (None:
    it was deleted). ``before_known`` is False when the reloader never knew the text the
    module ran before (a file first changed by another editor): such a change cannot be undone."""

    mod: str
    path: Path
    before: bytes | None
    after: bytes | None
    before_known: bool = True

    def to_json(self) -> dict[str, Any]:
        """``{"path", "before_hash", "after_hash"}`` (SPEC §1.7)."""
        return {
            "path": str(self.path),
            "before_hash": _hash(self.before),
            "after_hash": _hash(self.after),
        }


@dataclass
class HistoryEntry:
    """One committed reload. ``undone`` is set once a later undo has reverted it."""

    id: int
    at: float
    origin: str
    mods: tuple[str, ...]
    files: tuple[HistoryFile, ...]
    undoes: tuple[int, ...] = ()
    undone: bool = field(default=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The entry as SPEC §1.7 shows it (plus ``undoes`` and ``undone``)."""
        return {
            "id": self.id,
            "at": self.at,
            "origin": self.origin,
            "mods": list(self.mods),
            "files": [f.to_json() for f in self.files],
            "undoes": list(self.undoes),
            "undone": self.undone,
        }


class History:
    """The last ``limit()`` committed reloads of one reloader, newest first, and undo."""

    def __init__(self, limit: Callable[[], int]) -> None:
        self._limit = limit
        self._entries: deque[HistoryEntry] = deque()
        self._next_id = 1
        self._lock = threading.Lock()
        # While an undo runs, its batches are gathered here and recorded as one entry.
        self._gathering: list[CommittedBatch] | None = None

    # -- recording -------------------------------------------------------------------------

    def record(self, batch: CommittedBatch) -> None:
        """A reloader's batch listener: keep ``batch`` as an entry."""
        if self._gathering is not None:
            self._gathering.append(batch)
            return
        self._add(batch.origin, [batch])

    def _add(
        self, origin: str, batches: Sequence[CommittedBatch], undoes: tuple[int, ...] = ()
    ) -> None:
        files: dict[Path, HistoryFile] = {}
        mods: list[str] = []
        for batch in batches:
            for f in batch.files:
                known = f.before is not None or batch.origin != "watch"
                earlier = files.get(f.path)
                if earlier is None:
                    files[f.path] = HistoryFile(f.mod, f.path, f.before, f.after, known)
                else:  # a file in two batches: before from the first, after from the last
                    files[f.path] = HistoryFile(
                        f.mod, f.path, earlier.before, f.after, earlier.before_known
                    )
                mods.append(f.mod)
            recompiled = batch.result.get("recompiled") or ()
            mods += [p["mod"] for p in recompiled if isinstance(p, Mapping) and "mod" in p]
            mods += list(batch.purged)
        if not files:
            return  # nothing whose bytes could be put back (a purge of a module with no file)
        with self._lock:
            files = {path: self._shared(f) for path, f in files.items()}
            entry = HistoryEntry(
                self._next_id,
                time.time(),
                origin,
                tuple(dict.fromkeys(mods)),
                tuple(files.values()),
                undoes,
            )
            self._next_id += 1
            self._entries.appendleft(entry)
            limit = max(0, int(self._limit()))
            while len(self._entries) > limit:
                self._entries.pop()

    def _shared(self, f: HistoryFile) -> HistoryFile:
        """``f`` holding the very bytes objects the kept entries hold for the same text:
        each edit's "before" is the last one's "after", read back from disk, and a session
        that goes back and forth between two texts keeps two copies, not two per entry."""
        texts = {id(t): t for e in self._entries for g in e.files for t in (g.before, g.after)}
        by_size: dict[int, list[bytes]] = {}
        for t in texts.values():
            if t is not None:
                by_size.setdefault(len(t), []).append(t)

        def same(data: bytes | None) -> bytes | None:
            if data is None:
                return None
            return next((t for t in by_size.get(len(data), ()) if t == data), data)

        return replace(f, before=same(f.before), after=same(f.after))

    @contextmanager
    def _gathered(self) -> Iterator[list[CommittedBatch]]:
        gathered: list[CommittedBatch] = []
        self._gathering = gathered
        try:
            yield gathered
        finally:
            self._gathering = None

    # -- reading ---------------------------------------------------------------------------

    def entries(self) -> list[dict[str, Any]]:
        """Every kept entry as JSON, newest first."""
        with self._lock:
            return [e.to_json() for e in self._entries]

    def entry(self, entry_id: int) -> HistoryEntry | None:
        """The kept entry with id ``entry_id``, or None."""
        with self._lock:
            return next((e for e in self._entries if e.id == entry_id), None)

    # -- undo ------------------------------------------------------------------------------

    def undo(
        self, reload_files: ReloadFiles, steps: int = 1, *, force: bool = False
    ) -> ReloadResult:
        """Revert the newest ``steps`` entries not yet undone in one all-or-nothing batch (the
        caller holds the reload lock). Refuses, naming the file, when a file changed on disk
        since; ``force`` writes the old bytes anyway."""
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise HotReloadError(f"undo takes a positive number of steps, not {steps!r}")
        with self._lock:
            chosen = [e for e in self._entries if not e.undone][:steps]
        if not chosen:
            raise HotReloadError("nothing to undo: no reload has been recorded yet")
        if len(chosen) < steps:
            raise HotReloadError(
                f"cannot undo {steps} steps: only {len(chosen)} "
                f"{'entry is' if len(chosen) == 1 else 'entries are'} in the history; nothing changed"
            )
        restore, expected = self._targets(chosen)
        if not force:
            _refuse_changed(expected)
        written = {p: data for p, data in restore.items() if data is not None}
        deleted = {p: None for p, data in restore.items() if data is None}
        now = {p: _read(p) for p in written}
        with self._gathered() as batches:
            result: ReloadResult = {"recompiled": []}
            if written:
                try:
                    result = reload_files(written, origin="undo")
                except BaseException:
                    _put_back(now)
                    raise
            if deleted:
                purged = reload_files(deleted, origin="undo")
                if "workers" in purged:  # (a purge recompiles nothing)
                    result["workers"] = purged["workers"]
        for e in chosen:
            e.undone = True
        self._add("undo", batches, tuple(e.id for e in chosen))
        result["undone"] = [e.id for e in chosen]
        return result

    @staticmethod
    def _targets(
        chosen: list[HistoryEntry],
    ) -> tuple[dict[Path, bytes | None], dict[Path, bytes | None]]:
        """(bytes to write back per file: its before in the oldest chosen entry; bytes it
        must hold now: its after in the newest)."""
        restore: dict[Path, bytes | None] = {}
        expected: dict[Path, bytes | None] = {}
        for entry in chosen:  # newest first
            for f in entry.files:
                if not f.before_known:
                    raise HotReloadError(
                        f"cannot undo entry {entry.id}: the text of {f.path} before it was "
                        "changed by another editor is not known; nothing changed"
                    )
                restore[f.path] = f.before
                expected.setdefault(f.path, f.after)
        return restore, expected


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _refuse_changed(expected: Mapping[Path, bytes | None]) -> None:
    for path, data in expected.items():
        try:
            now = _read(path)
        except OSError as exc:
            raise HotReloadError(
                f"cannot undo: {path} cannot be read ({exc}); nothing changed"
            ) from exc
        if now != data:
            raise HotReloadError(
                f"cannot undo: {path} changed on disk since that reload; nothing changed "
                "(undo(force=True) or `%hotreload undo --force` writes the old text anyway)"
            )


def _put_back(files: Mapping[Path, bytes | None]) -> None:
    """After a failed undo: every file back to the bytes it had before the undo began."""
    for path, data in files.items():
        try:
            if data is None:
                path.unlink(missing_ok=True)
            else:
                atomic_write(path, data)
        except Exception:
            log.exception("hotreload: could not put %s back after a failed undo", path)
