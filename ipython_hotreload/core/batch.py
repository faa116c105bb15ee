"""One reload as the pipeline carries it (:class:`Batch`), and what its listeners hear once it
is committed (:class:`CommittedBatch`: history, cluster workers)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ipython_hotreload.core.cells import Hold
from ipython_hotreload.core.source.texts import Source

__all__ = [
    "Batch",
    "BatchListener",
    "CommittedBatch",
    "CommittedFile",
    "LastReload",
    "Origin",
    "Reexecute",
]

#: How much a reload re-executes (SPEC §1.5): only what changed, or whole modules.
Reexecute = Literal["minimal", "module"]

#: What started a reload: SPEC §1.7's history ``origin``.
Origin = Literal["reload", "definition", "watch", "undo"]


@dataclass
class Batch:
    """One reload: what it was given, and what happened on the way."""

    origin: Origin
    reexecute: Reexecute
    persist_bytecode: bool
    sources: list[Source]  # the files given (saved, or changed on disk), in order
    before: dict[Path, bytes | None] = field(default_factory=dict)  # their bytes before
    warnings: list[str] = field(default_factory=list)
    purged: dict[str, Path | None] = field(default_factory=dict)  # module -> its file
    started: float = field(default_factory=time.perf_counter)
    # What it holds back for a cell running on another thread (SPEC 2.5): it raises
    # MustWait, having changed nothing, rather than run statements (or anything).
    hold: Hold | None = None


@dataclass(frozen=True)
class CommittedFile:
    """One file of a committed reload: its bytes before (None: it did not exist, or they are
    not known) and after (None: the file was deleted and its module purged)."""

    mod: str
    path: Path
    before: bytes | None
    after: bytes | None


@dataclass(frozen=True)
class CommittedBatch:
    """What one successful reload changed, for listeners (history, cluster workers): the
    files whose new text was run (saved, or changed on disk), in the order they were given,
    and the modules purged on the way."""

    origin: Origin
    files: tuple[CommittedFile, ...]
    purged: tuple[str, ...]
    result: Mapping[str, Any]


#: A listener may return extra keys for the reload's result (``{"workers": ...}``).
BatchListener = Callable[[CommittedBatch], Mapping[str, Any] | None]


@dataclass(frozen=True)
class LastReload:
    """The latest successful reload, as ``status()`` reports it."""

    mod: str
    at: float  # time.time()
    modules: list[str]  # those with a payload, the saved one first
    elapsed_ms: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "mod": self.mod,
            "at": self.at,
            "modules": list(self.modules),
            "elapsed_ms": self.elapsed_ms,
        }
