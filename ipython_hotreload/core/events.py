"""Module events and the one process-wide event stream.

Every :class:`~ipython_hotreload.core.engine.HotReloader` in a process publishes on the same
stream, so a subscriber (a panel, a comm, a log) hears all of them. Callbacks run
synchronously in the publishing thread, outside the stream's own lock; a failing callback is
logged and does not stop the others.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

__all__ = ["EVENT_KINDS", "EventKind", "ModuleEvent", "Subscription", "publish", "subscribe"]

log = logging.getLogger(__name__)

EventKind = Literal[
    "source_written",
    "recompiled",
    "compile_failed",
    "source_removed",
    # A reload that must wait for the running cell (SPEC 2.5); payload {"reason": ...}.
    "reload_waiting",
    # A cluster worker applied a reload, or did not (SPEC 2.4); "worker" names it.
    "worker_recompiled",
    "worker_failed",
]
EVENT_KINDS: frozenset[str] = frozenset(get_args(EventKind))


@dataclass(frozen=True)
class ModuleEvent:
    """Something happened to a module: its source was written, it was recompiled, it failed
    to compile, or it was removed."""

    kind: EventKind
    mod: str | None
    path: str | None
    payload: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict of the same fields."""
        return asdict(self)


Callback = Callable[[ModuleEvent], object]


class Subscription:
    """A handle on one subscriber; :meth:`close` unsubscribes (idempotent)."""

    __slots__ = ("_closed", "callback", "kinds")

    def __init__(self, callback: Callback, kinds: frozenset[str] | None) -> None:
        self.callback = callback
        self.kinds = kinds
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Stop receiving events."""
        self._closed = True
        _STREAM.remove(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Subscription {state} kinds={sorted(self.kinds) if self.kinds else 'all'}>"


class _EventStream:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: tuple[Subscription, ...] = ()

    def add(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers = (*self._subscribers, sub)

    def remove(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers = tuple(s for s in self._subscribers if s is not sub)

    def count(self) -> int:
        return len(self._subscribers)

    def publish(self, event: ModuleEvent) -> None:
        # Copy-on-write tuple: callbacks run outside the lock and may (un)subscribe.
        for sub in self._subscribers:
            if sub.closed or (sub.kinds is not None and event.kind not in sub.kinds):
                continue
            try:
                sub.callback(event)
            except BaseException:
                # Even a Ctrl-C in one subscriber must not starve the others or leave a
                # reload half-reported: log it and go on.
                log.exception("hotreload event callback %r failed on %s", sub.callback, event.kind)


_STREAM = _EventStream()


def subscribe(callback: Callback, kinds: Iterable[str] | None = None) -> Subscription:
    """Call ``callback(event)`` for every event (or only the ``kinds`` named)."""
    if not callable(callback):
        raise TypeError("subscribe() needs a callable")
    wanted: frozenset[str] | None = None
    if kinds is not None:
        wanted = frozenset([kinds] if isinstance(kinds, str) else kinds)
        unknown = wanted - EVENT_KINDS
        if unknown:
            raise ValueError(f"unknown event kinds {sorted(unknown)}; known: {sorted(EVENT_KINDS)}")
    sub = Subscription(callback, wanted)
    _STREAM.add(sub)
    return sub


def publish(event: ModuleEvent) -> None:
    """Send ``event`` to every subscriber, in subscription order."""
    _STREAM.publish(event)


def subscriber_count() -> int:
    """How many subscriptions are open (for status displays and leak tests)."""
    return _STREAM.count()
