"""The process-wide record of each module's last events, for panels opened later.

A panel opened after several reloads shows the module's last reload (mode, changes, time),
a failure still pending, a reload waiting for the running cell and the functions still
running their old code, as a panel open all along would: it starts from this record.

The record listens to the event stream while someone holds it: the extension while it is
loaded (``%load_ext`` takes a hold, ``%unload_ext`` releases it) and every live panel. When
the last hold is released it unsubscribes and forgets, so an unloaded extension leaves no
subscriber behind. Only widget-free code here: the extension takes its hold without
importing ipywidgets or anywidget.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from ipython_hotreload.core.events import ModuleEvent, Subscription, subscribe
from ipython_hotreload.widgets._state import (
    MODULE_KINDS,
    ModuleState,
    blank_state,
    state_after,
    without_running_old,
)

__all__ = ["RecordHold", "clear_running_old", "last_state", "record_reloads"]

log = logging.getLogger(__name__)

# Told when "running the old version" marks are taken off: (mod, qualname, thread).
RunningOldListener = Callable[[str, str | None, str | None], None]


class RecordHold:
    """One holder's claim on the record; :meth:`release` gives it up (idempotent)."""

    __slots__ = ("_key", "_record")

    def __init__(self, record: _Record, key: int) -> None:
        self._record: _Record | None = record
        self._key = key

    @property
    def released(self) -> bool:
        return self._record is None

    def release(self) -> None:
        """Give the hold up; the last one stops the record and forgets what it held."""
        record, self._record = self._record, None
        if record is not None:
            record.release(self._key)


def _same_file(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return True  # one side does not say: the name decides
    return os.path.realpath(a) == os.path.realpath(b)


class _Record:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, ModuleState] = {}
        self._holders: dict[int, RunningOldListener | None] = {}
        self._next_key = 0
        self._subscription: Subscription | None = None

    def hold(self, on_running_old: RunningOldListener | None = None) -> RecordHold:
        with self._lock:
            self._next_key += 1
            key = self._next_key
            self._holders[key] = on_running_old
            if self._subscription is None:
                self._subscription = subscribe(self._on_event, kinds=MODULE_KINDS)
        return RecordHold(self, key)

    def release(self, key: int) -> None:
        with self._lock:
            self._holders.pop(key, None)
            if self._holders or self._subscription is None:
                return
            subscription, self._subscription = self._subscription, None
            self._states.clear()
        subscription.close()

    def _on_event(self, event: ModuleEvent) -> None:
        if event.mod is None:
            return
        with self._lock:
            if self._subscription is None:
                return  # released while this event was on its way
            if event.kind == "source_removed":
                self._states.pop(event.mod, None)
                return
            before = self._states.get(event.mod)
            if before is None or not _same_file(before["path"], event.path):
                before = blank_state(event.mod, event.path)
            self._states[event.mod] = state_after(before, event, None)

    def last(self, mod: str, path: str | None) -> ModuleState | None:
        with self._lock:
            state = self._states.get(mod)
        if state is None or not _same_file(state["path"], path):
            return None
        return state

    def clear_running_old(self, mod: str, qualname: str | None, thread: str | None) -> None:
        with self._lock:
            state = self._states.get(mod)
            if state is not None:
                self._states[mod] = without_running_old(state, qualname, thread)
            listeners = [listener for listener in self._holders.values() if listener]
        # Outside the lock: a panel takes its own lock and syncs to the browser.
        for listener in listeners:
            try:
                listener(mod, qualname, thread)
            except Exception:
                log.exception("a panel failed to drop the running-old marks of %s", mod)


_RECORD = _Record()


def record_reloads(on_running_old: RunningOldListener | None = None) -> RecordHold:
    """Keep the record of every module's last events until the returned hold is released.

    ``on_running_old(mod, qualname, thread)`` is called when :func:`clear_running_old`
    takes marks off (a panel passes its own, to follow).
    """
    return _RECORD.hold(on_running_old)


def last_state(mod: str, path: str | None = None) -> ModuleState | None:
    """What the record knows of ``mod`` (whose file is ``path``, when known), or None."""
    return _RECORD.last(mod, path)


def clear_running_old(mod: str, qualname: str | None = None, *, thread: str | None = None) -> None:
    """Take off the "running the old version in <thread>" marks of ``mod``'s ``qualname``
    (None: every function) in ``thread`` (None: every thread), in every open panel and in
    the record, once the old frames have returned. Safe from any thread.

    The marks come from a ``recompiled`` payload's ``running_old`` (SPEC 2.5); nothing in
    the event stream says when those calls return, so the part that watches them calls this.
    """
    _RECORD.clear_running_old(mod, qualname, thread)
