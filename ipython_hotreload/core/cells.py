"""Edits while code runs (SPEC §2.5): what the core knows of a running cell, and what a
reload that arrives meanwhile from another thread does.

Design.

* **Where "a cell is running" is known.** Only through a :class:`Cells` object the shell's
  adapter installs on the reloader (``HotReloader.cells``); the core never imports IPython.
  :class:`CellGate` is the one such object: the IPython extension calls
  :meth:`CellGate.cell_started` and :meth:`CellGate.cell_ended` from the shell's
  ``pre_run_cell`` and ``post_run_cell`` events. A cell starts only between reloads (it
  takes the reload lock for a moment), so a reload that found no cell running may run
  statements on its own thread without a cell starting beside them.
* **Patch-only, decided without guessing.** A reload that arrives while a cell runs on
  another thread runs with a :data:`Hold`: ``"statements"`` makes the plan raise
  :class:`MustWait` right before its first statement would run (a changed or triggered
  statement, a whole re-execution, a first import), ``"everything"`` makes it raise before
  the plan runs at all (``while_running="wait"``). The plan's journal has then put back the
  functions it patched on the way, so nothing changed. Otherwise the reload is applied at
  once, under the reload lock: only function code, defaults, annotations and docstrings
  changed.
* **Waiting.** A held-back reload publishes ``reload_waiting`` (one event per file it was
  given, ``{"reason": ...}``) and is queued with :meth:`Cells.after_cell`: the cell's own
  thread runs it, under the reload lock, right when the cell ends and before the next one
  starts, so it cannot be starved by a "Run all". A caller on another thread (a user
  thread, a comm handler on a kernel subshell) blocks on a :class:`_Ticket` meanwhile,
  holding no lock, and returns the result (or raises the error) once it was applied.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any, Literal, Protocol, TypeVar, get_args

from ipython_hotreload.core.events import ModuleEvent, publish
from ipython_hotreload.errors import HotReloadError

__all__ = [
    "WHILE_RUNNING",
    "CellGate",
    "CellRule",
    "Cells",
    "Hold",
    "MustWait",
    "WhileRunning",
]

log = logging.getLogger(__name__)

#: What a reload that arrives while a cell runs does (SPEC §2.5): ``"patch"`` applies one
#: that runs no statement at once and makes the others wait for the cell; ``"all"``
#: applies every one at once, from the thread that received it; ``"wait"`` makes every one
#: wait for the cell.
WhileRunning = Literal["patch", "all", "wait"]
WHILE_RUNNING: tuple[str, ...] = get_args(WhileRunning)

#: What a reload must hold back: its statements (it may patch functions), or everything.
Hold = Literal["statements", "everything"]

R = TypeVar("R")

# While a reload runs beside a cell that computes (holding the GIL), the reload's thread
# gives the GIL up at each file access and waits a whole switch interval (5 ms by default)
# to get it back: a dozen accesses turn a 4 ms patch into 20 ms. Switching this often
# meanwhile (for those milliseconds only) gives it back sooner.
_SWITCH_BESIDE_A_CELL = 0.0005


class MustWait(HotReloadError):
    """Raised inside a held-back reload before anything of it ran (the plan rolled back what
    it patched on the way). ``reason`` says what must run; the pipeline adds the files the
    reload was given (``modules``: ``(mod, path)``) and how to run it again in full
    (``resume``). Like :class:`~ipython_hotreload.errors.ModuleFailed`, a signal between
    stages: only the watcher, which asks for it, ever sees one."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.modules: list[tuple[str, str | None]] = []
        self.resume: Callable[[], Any] | None = None


class Cells(Protocol):
    """What the core knows of the cells a shell runs (installed by the shell's adapter)."""

    def running(self) -> bool:
        """Is a cell running on a thread other than the calling one?"""
        ...

    def after_cell(self, fn: Callable[[], object]) -> bool:
        """Queue ``fn`` to run on the cell's thread right after the running cell ends (before
        another starts). False, and ``fn`` is not queued, when no cell runs on a thread
        other than the calling one."""
        ...


class CellGate:
    """:class:`Cells` fed by a shell's cell events: call :meth:`cell_started` from
    ``pre_run_cell`` and :meth:`cell_ended` from ``post_run_cell``, on the thread that runs
    the cell.

    ``lock`` is the reload lock: a cell starts only once no reload holds it."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._state = threading.Lock()
        # thread ident -> the cells running there, outermost first (a cell may run another)
        self._cells: dict[int, list[object]] = {}
        self._after: list[Callable[[], object]] = []
        self._closed = False

    def cell_started(self, info: object = None) -> None:
        """A cell starts on this thread (``info``: what ``pre_run_cell`` was given)."""
        # Not in the middle of a reload that runs statements on another thread: it saw no
        # cell running, so it may; the cell waits for it to end (milliseconds, usually).
        with self._lock, self._state:
            self._cells.setdefault(threading.get_ident(), []).append(info)

    def cell_ended(self, result: object = None) -> None:
        """A cell ended on this thread (``result``: what ``post_run_cell`` was given, whose
        ``info`` is what ``pre_run_cell`` was). Runs what waited for it."""
        ident = threading.get_ident()
        with self._state:
            stack = self._cells.get(ident)
            if not stack:
                return
            info = getattr(result, "info", None)
            if info is not None and any(i is info for i in stack):
                while stack.pop() is not info:
                    pass
            elif info is None:
                stack.pop()  # an interrupted cell has no result to match: the innermost
            else:
                return  # a blank cell's post_run_cell: it had no pre_run_cell
            if stack:
                return  # the cell that ran this one still runs
            del self._cells[ident]
            if self._cells:
                return  # a cell still runs on another thread
            after, self._after = self._after, []
        _run_each(after)

    def running(self) -> bool:
        """Is a cell running on a thread other than the calling one?"""
        me = threading.get_ident()
        with self._state:
            return any(ident != me for ident in self._cells)

    def after_cell(self, fn: Callable[[], object]) -> bool:
        """Queue ``fn`` for the end of the cell running on another thread (False: none runs)."""
        me = threading.get_ident()
        with self._state:
            if self._closed or not any(ident != me for ident in self._cells):
                return False
            self._after.append(fn)
            return True

    def close(self) -> None:
        """Stop tracking cells; what waited runs now, on this thread (an extension unloaded
        inside a cell: the reloads waited for that very cell)."""
        with self._state:
            self._closed = True
            self._cells.clear()
            after, self._after = self._after, []
        _run_each(after)


@contextmanager
def _switching_often() -> Iterator[None]:
    """Switch threads often for the moment of a reload beside a running cell."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(min(before, _SWITCH_BESIDE_A_CELL))
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def _run_each(fns: list[Callable[[], object]]) -> None:
    for fn in fns:
        try:
            fn()
        except Exception:
            # A queued reload hands its own errors to whoever waits for it; this is a bug.
            log.exception("hotreload: work queued for the end of a cell failed")


class _Ticket:
    """A held-back reload, queued for the end of the cell; whoever waits for it blocks in
    :meth:`result` (holding no lock) until the cell's thread has run it."""

    def __init__(self, resume: Callable[[], Any], lock: threading.RLock) -> None:
        self._resume = resume
        self._lock = lock
        self._done = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            with self._lock:
                self._value = self._resume()
        except BaseException as exc:  # noqa: BLE001 - the waiting caller raises it
            self._error = exc
        finally:
            self._done.set()

    def result(self) -> Any:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value


class CellRule:
    """SPEC §2.5's rule, for one reloader: what a reload does that arrives while a cell runs
    on another thread (see the module's docstring)."""

    def __init__(self, lock: threading.RLock, while_running: WhileRunning = "patch") -> None:
        self.lock = lock
        self.cells: Cells | None = None
        self.while_running = while_running

    @property
    def while_running(self) -> WhileRunning:
        """``"patch"``, ``"all"`` or ``"wait"``."""
        return self._while_running

    @while_running.setter
    def while_running(self, value: WhileRunning) -> None:
        if value not in WHILE_RUNNING:
            raise ValueError(
                f"while_running must be one of {', '.join(map(repr, WHILE_RUNNING))}, not {value!r}"
            )
        self._while_running = value

    def cell_running(self) -> bool:
        """Is a cell running on a thread other than the calling one?"""
        cells = self.cells
        return cells is not None and cells.running()

    def hold(self) -> Hold | None:
        """What a reload starting now, on this thread, must hold back for the running cell."""
        if self._while_running == "all" or not self.cell_running():
            return None
        return "everything" if self._while_running == "wait" else "statements"

    def apply(self, attempt: Callable[[Hold | None], R]) -> R:
        """Run ``attempt(hold)`` under the reload lock; if it must wait, announce it, queue it
        for the end of the cell, and return its result (or raise its error) once applied."""
        with self.lock:
            try:
                hold = self.hold()
                with _switching_often() if hold is not None else nullcontext():
                    return attempt(hold)
            except MustWait as wait:
                assert wait.resume is not None
                ticket = _Ticket(wait.resume, self.lock)
                self.announce(wait)
                cells = self.cells
                if cells is None or not cells.after_cell(ticket.run):
                    return wait.resume()  # type: ignore[no-any-return]  # the cell just ended
        return ticket.result()  # type: ignore[no-any-return]

    def at_once(self, attempt: Callable[[Hold | None], R]) -> R:
        """Run ``attempt`` (under the reload lock) holding back what may not run at once on
        this thread: statements (they belong on the shell's thread, or after the running
        cell) unless ``while_running`` is ``"all"``, everything while a cell runs when it is
        ``"wait"``. A held-back attempt raises :class:`MustWait`, announced when a cell
        runs; the caller queues the reload where it belongs."""
        with self.lock:
            beside = self.cell_running()
            hold = self.hold()
            if hold is None and self._while_running != "all":
                hold = "statements"
            try:
                with _switching_often() if beside else nullcontext():
                    return attempt(hold)
            except MustWait as wait:
                if self.cell_running():
                    self.announce(wait)
                raise

    @staticmethod
    def announce(wait: MustWait) -> None:
        """One ``reload_waiting`` event per file the held-back reload was given."""
        for mod, path in wait.modules:
            publish(ModuleEvent("reload_waiting", mod, path, {"reason": wait.reason}))
