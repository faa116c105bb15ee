"""Clear the panels' "running the old version" marks once those calls have returned.

A reload that patches a function while some thread runs it lists it under the payload's
``running_old`` (SPEC §2.5), and the panels mark it. Nothing in the event stream says when
that call returns, so this watcher asks the reloader (``still_running``, cheap and safe from
any thread) a few times a second, only while some mark is up, and takes each mark off
(``widgets.clear_running_old``) once its frames are gone. It never runs code of the user's
and costs nothing while no mark is up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from ipython_hotreload.core.events import ModuleEvent, Subscription, subscribe

__all__ = ["OldFrames"]

log = logging.getLogger(__name__)

#: How often the marks are checked while any is up (seconds).
INTERVAL = 0.2

Clear = Callable[..., None]  # clear_running_old(mod, qualname, *, thread=...)


class OldFrames:
    """Follows ``running_old`` marks until they can come off."""

    def __init__(self, still_running: Callable[[], list[dict[str, str]]], clear: Clear) -> None:
        self._still_running = still_running
        self._clear = clear
        self._marks: set[tuple[str, str, str]] = set()  # (mod, qualname, thread)
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._subscription: Subscription | None = subscribe(self._on_event, kinds=["recompiled"])

    def _on_event(self, event: ModuleEvent) -> None:
        payload: Any = event.payload or {}
        entries = payload.get("running_old") or []
        if not entries or event.mod is None:
            return
        mod = event.mod
        with self._cond:
            if self._closed:
                return
            self._marks |= {(mod, e["qualname"], e["thread"]) for e in entries}
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="hotreload-old-frames", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._closed or not self._marks:
                    self._thread = None
                    return
                self._cond.wait(INTERVAL)
                if self._closed:
                    self._thread = None
                    return
                marks = set(self._marks)
            try:
                running = {(r["mod"], r["qualname"], r["thread"]) for r in self._still_running()}
            except Exception:
                log.exception("hotreload: could not ask which old versions still run")
                continue
            returned = marks - running
            with self._cond:
                self._marks -= returned
            for mod, qualname, thread in sorted(returned):
                try:
                    self._clear(mod, qualname, thread=thread)
                except Exception:
                    log.exception("hotreload: could not clear the marks of %s", mod)

    def close(self) -> None:
        """Stop following (``%unload_ext``)."""
        with self._cond:
            self._closed = True
            self._marks.clear()
            self._cond.notify_all()
        sub, self._subscription = self._subscription, None
        if sub is not None:
            sub.close()
