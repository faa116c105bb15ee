"""Old code still running (SPEC §2.5): which functions a reload patched while their previous
code was executing, and, asked later, whether it still is.

CPython cannot switch a running frame to new code: a frame keeps the code object it was
called with, and only the function's next call runs the new one. So a patch is safe while
another thread runs the function (nothing is torn out from under it), and what a user may
want to know is which functions are, for now, still running the old version. The journal
records every code object a patch replaced (:attr:`~..apply.journal.Journal.code_swaps`); the
frames of every thread (``sys._current_frames()``) are compared with them. A code object
whose only change is where its lines are (an unchanged function that moved) is no old
version; so a frame that runs the code a function had before it moved (and was then
patched) runs the old version as much as one running the code the patch replaced: a frame
matches an old code that is it, or differs from it only in its lines.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import CodeType, FrameType, FunctionType
from typing import Any

from ipython_hotreload.core.apply.functions import same_shape

__all__ = ["OldCode", "OldFrame", "find_running_old"]


@dataclass(frozen=True)
class OldFrame:
    """A function whose previous code was executing in a thread when a reload patched it."""

    mod: str
    qualname: str
    thread: str  # the thread's name
    ident: int  # the thread's identifier
    code: CodeType  # the previous code, still held by that thread's frame

    def to_json(self) -> dict[str, str]:
        """The payload's entry, ``{"qualname", "thread"}``."""
        return {"qualname": self.qualname, "thread": self.thread}


def find_running_old(swaps: Iterable[tuple[FunctionType, CodeType]]) -> list[OldFrame]:
    """The patched functions (``(function, its previous code)``) whose previous code some
    thread is executing now, once per function and thread."""
    old: dict[str, list[tuple[FunctionType, CodeType]]] = {}
    firsts: set[int] = set()
    for fn, code in swaps:
        if id(fn) not in firsts:  # a function patched twice in a batch: its first code
            firsts.add(id(fn))
            old.setdefault(code.co_qualname, []).append((fn, code))
    if not old:
        return []
    found: list[OldFrame] = []
    seen: set[tuple[int, int]] = set()
    names = _thread_names()
    for ident, code in _executing():
        for fn, replaced in old.get(code.co_qualname, ()):
            if (ident, id(fn)) in seen or not _same_version(code, replaced):
                continue
            seen.add((ident, id(fn)))
            if _only_moved(replaced, fn.__code__):
                continue  # it only moved (asked only here: most swaps match no frame)
            mod = fn.__module__ if isinstance(fn.__module__, str) else ""
            thread = names.get(ident, f"thread {ident}")
            found.append(OldFrame(mod, fn.__qualname__, thread, ident, replaced))
    return found


class OldCode:
    """The old versions reloads found running, kept until their frames return, so a panel
    can ask (from any thread) which still run: :meth:`still_running`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frames: list[OldFrame] = []

    def add(self, frames: Iterable[OldFrame]) -> None:
        """Remember what a reload found running (and forget what has returned since)."""
        with self._lock:
            self._frames += frames
        self.still_running()

    def still_running(
        self, entries: Iterable[Mapping[str, Any]] | None = None
    ) -> list[dict[str, str]]:
        """``{"mod", "qualname", "thread"}`` of each old version still executing; with
        ``entries`` (a payload's ``running_old``, with or without ``"mod"``), of those only.
        What has returned is forgotten: its function's next call runs the new code."""
        with self._lock:
            frames = list(self._frames)
        if not frames:
            return []
        now: dict[str, list[tuple[int, CodeType]]] = {}
        for ident, code in _executing():
            now.setdefault(code.co_qualname, []).append((ident, code))
        alive = [
            f
            for f in frames
            if any(
                ident == f.ident and _same_version(code, f.code)
                for ident, code in now.get(f.code.co_qualname, ())
            )
        ]
        with self._lock:
            gone = {id(f) for f in frames} - {id(f) for f in alive}
            self._frames = [f for f in self._frames if id(f) not in gone]
        if entries is not None:
            wanted = [dict(e) for e in entries]
            alive = [f for f in alive if any(_matches(f, e) for e in wanted)]
        return [{"mod": f.mod, "qualname": f.qualname, "thread": f.thread} for f in alive]


def _matches(frame: OldFrame, entry: Mapping[str, Any]) -> bool:
    return (
        entry.get("qualname") == frame.qualname
        and entry.get("thread") == frame.thread
        and entry.get("mod", frame.mod) == frame.mod
    )


def _executing() -> list[tuple[int, CodeType]]:
    """``(thread ident, code)`` of every frame executing in every thread, innermost first."""
    out: list[tuple[int, CodeType]] = []
    # sys._current_frames: a documented CPython function; the only way to see the frames
    # of other threads (README, "Private APIs").
    for ident, top in sys._current_frames().items():
        frame: FrameType | None = top
        while frame is not None:
            out.append((ident, frame.f_code))
            frame = frame.f_back
    return out


def _thread_names() -> dict[int, str]:
    return {t.ident: t.name for t in threading.enumerate() if t.ident is not None}


def _same_version(running: CodeType, old: CodeType) -> bool:
    """Does a frame running ``running`` run the version whose code was ``old``?"""
    return running is old or (running.co_filename == old.co_filename and _only_moved(running, old))


def _only_moved(old: CodeType, new: CodeType) -> bool:
    """Is ``new`` ``old`` at other lines (the same instructions, names and constants, and
    the same line table relative to its first line, nested code objects too)?"""
    if not same_shape(old, new) or old.co_linetable != new.co_linetable:
        return False
    pairs = zip(old.co_consts, new.co_consts, strict=True)  # same_shape pairs nested codes
    return all(_only_moved(a, b) for a, b in pairs if isinstance(a, CodeType))
