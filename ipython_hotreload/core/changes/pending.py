"""Failed edits left on disk (SPEC §1.8): which modules are pending, and what a failure makes so.

A reload that fails changes nothing in the process, but its files keep their new text. For
each file of the failed batch, :meth:`PendingEdits.failed` decides what that leaves: a module
whose file holds the very text it runs (it failed on its own text, or the text was put back)
is as it was; every other loaded one is *pending*: it runs its old text while its file holds
the failed one (:class:`PendingEdit`, which ``status()`` and every reload result name), and
its file is left out of later reloads' stale sweep until it changes again, so a failed edit
never fails the reload of something else. The pipeline clears a module from the pending ones
once a reload of it is committed, or once it is purged.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ipython_hotreload.core.changes.loaded import LoadedModules
from ipython_hotreload.core.paths import Stamp
from ipython_hotreload.core.source.running import RunningSources
from ipython_hotreload.core.source.texts import Source

__all__ = ["PendingEdit", "PendingEdits"]


@dataclass(frozen=True)
class PendingEdit:
    """A module whose last reload failed (SPEC §1.8): it runs its old text while its file
    holds the failed one (``stamp``), until a reload of that file succeeds."""

    mod: str
    path: Path
    error: Mapping[str, Any]  # as in compile_failed: {type, message, lineno, offset}
    at: float  # time.time()
    stamp: Stamp | None  # of the failed text on disk
    failed_in: str  # the module whose code failed (this one, or one that followed it)

    def to_json(self) -> dict[str, Any]:
        """``status()["pending"]``'s entry: ``{"mod", "path", "error", "at"}``."""
        return {"mod": self.mod, "path": str(self.path), "error": dict(self.error), "at": self.at}

    def brief(self) -> dict[str, Any]:
        """A reload result's ``"pending"`` entry: ``{"mod", "path", "lineno", "message"}``
        (the line is in this module's file, so None when another module failed)."""
        own = self.failed_in == self.mod
        message = str(self.error.get("message", ""))
        return {
            "mod": self.mod,
            "path": str(self.path),
            "lineno": self.error.get("lineno") if own else None,
            "message": message if own else f"{self.failed_in}: {message}",
        }


class PendingEdits(Mapping[str, PendingEdit]):
    """One reloader's pending modules, by name, in the order they first failed.

    ``running`` and ``loaded`` are what the reloader knows its modules run and their files'
    stamps; ``disk_hashes`` the sha256 of each text it wrote or loaded (its own writes, which
    a watcher does not report again)."""

    def __init__(
        self, running: RunningSources, loaded: LoadedModules, disk_hashes: dict[Path, str]
    ) -> None:
        self._running = running
        self._loaded = loaded
        self._disk_hashes = disk_hashes
        self._edits: dict[str, PendingEdit] = {}

    def __getitem__(self, mod: str) -> PendingEdit:
        return self._edits[mod]

    def __iter__(self) -> Iterator[str]:
        return iter(self._edits)

    def __len__(self) -> int:
        return len(self._edits)

    def failed(self, sources: Iterable[Source], failed_in: str, error: Mapping[str, Any]) -> None:
        """The batch of ``sources`` failed in module ``failed_in`` with ``error`` (as in
        ``compile_failed``): its files keep their new text. A module whose file holds the
        very text it runs is as it was; every other loaded one is pending, and its file is
        not stale again until it changes."""
        running, loaded = self._running, self._loaded
        now = time.time()
        for src in sources:
            if running.runs_text(src, sys.modules.get(src.mod)):
                running.ran(src.mod, src.data, src.stamp)
                loaded.executed(src.mod, src.stamp)
                self._edits.pop(src.mod, None)
            elif src.mod in sys.modules:
                loaded.failed(src.mod, src.stamp)
                # The file holds text that does not run: unless we wrote it ourselves, no
                # text there is known any more, so whatever the watcher sees next (the text
                # the module runs put back, a retry) is a change to reload.
                if self._disk_hashes.get(src.path) != hashlib.sha256(src.data).hexdigest():
                    self._disk_hashes.pop(src.path, None)
                self._edits[src.mod] = PendingEdit(
                    src.mod, src.path, error, now, src.stamp, failed_in
                )

    def resolved(self, mod: str) -> None:
        """``mod`` is pending no more: a reload of it was committed, or it was purged."""
        self._edits.pop(mod, None)
