"""The panels: anywidget models whose synced traits are rendered by ``panel.js``.

Each panel subscribes to the process-wide event stream when it is made and unsubscribes in
:meth:`close`. Events may arrive on any thread (a file watcher, a comm handler), so each
panel applies them under its own lock and sends one ``hold_sync`` message per event. The
callbacks only copy data from the event into traits, except for a bare payload, which costs
one static analysis of that module's file.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

import anywidget
import ipywidgets
import traitlets

from ipython_hotreload.core.events import ModuleEvent, Subscription, subscribe
from ipython_hotreload.subshells import (
    RequestServer,
    message_data,
    on_main_thread,
    serve_beside_cells,
)
from ipython_hotreload.widgets._editor import Editing, answer
from ipython_hotreload.widgets._project import WORKER_KINDS, cluster_after, project_modules
from ipython_hotreload.widgets._record import RecordHold, last_state, record_reloads
from ipython_hotreload.widgets._state import (
    MODULE_KINDS,
    ModuleState,
    ModuleStatus,
    blank_state,
    event_entry,
    initial_state,
    seeded,
    state_after,
    without_running_old,
)

if TYPE_CHECKING:
    from ipython_hotreload.core.engine import HotReloader

__all__ = ["EventLog", "FunctionsPanel", "ProjectOverview", "ProjectPanel"]

_HERE = Path(__file__).parent
# Read once at import: the ES modules (built from frontend/ by scripts/build-panel, shipped
# in the package) and their styles go to the browser as plain strings; users build nothing.
# Only the FunctionsPanel's carries the CodeMirror editor and the requests it sends (with
# their waiting notice); the log and the overview get one a fiftieth of its size.
_ESM = (_HERE / "panel.js").read_text(encoding="utf-8")
_LISTS_ESM = (_HERE / "panel-lists.js").read_text(encoding="utf-8")
_CSS = (_HERE / "panel.css").read_text(encoding="utf-8")


class _Subscribed:
    """Mixin: a widget that listens to the event stream (and, for the module panels, holds
    the record of last reloads) until it is closed."""

    _subscription: Subscription | None
    _record_hold: RecordHold | None = None

    def close(self) -> None:
        """Unsubscribe from the event stream and close the widget (idempotent)."""
        sub, self._subscription = getattr(self, "_subscription", None), None
        if sub is not None:
            sub.close()
        hold, self._record_hold = self._record_hold, None
        if hold is not None:
            hold.release()
        super().close()  # type: ignore[misc]


class _ReloaderBound:
    """Mixin: which :class:`HotReloader` answers "what functions does this module have"."""

    _reloader: HotReloader | None

    def _current_reloader(self) -> HotReloader:
        # Resolved on every call: the default reloader may be replaced after the panel is made.
        from ipython_hotreload.core.defaults import default_reloader

        return self._reloader if self._reloader is not None else default_reloader()

    def _fetch(self, mod: str) -> list[dict[str, Any]]:
        return [dict(entry) for entry in self._current_reloader().functions(mod)]

    def _editing(self) -> Editing:
        return self._current_reloader()


def _module_name(mod: str | ModuleType) -> str:
    name = mod.__name__ if isinstance(mod, ModuleType) else mod
    if not isinstance(name, str) or not name:
        raise TypeError(f"a panel needs a module name or a module, got {mod!r}")
    return name


class FunctionsPanel(_Subscribed, _ReloaderBound, anywidget.AnyWidget):
    """The functions of one module, live: re-rendered from every event about that module.

    >>> panel = FunctionsPanel("json")      # any importable module; project ones stay live
    >>> [f["qualname"] for f in panel.functions][:2]
    ['dump', 'dumps']
    >>> panel.close()                       # stops listening
    """

    _esm = _ESM
    _css = _CSS
    _panel = traitlets.Unicode("functions").tag(sync=True)

    mod = traitlets.Unicode(help="dotted module name").tag(sync=True)
    path = traitlets.Unicode(None, allow_none=True, help="its file").tag(sync=True)
    status = traitlets.Enum(
        ["ok", "failed", "gone", "missing", "not_imported"],
        "ok",
        help="ok | failed | gone | missing | not_imported",
    ).tag(sync=True)
    functions = traitlets.List(traitlets.Dict(), help="SPEC 'functions' entries").tag(sync=True)
    error = traitlets.Dict(None, allow_none=True, help="the last failure").tag(sync=True)
    recompiled_at = traitlets.Float(None, allow_none=True, help="time.time()").tag(sync=True)
    recompiles = traitlets.Int(0, help="recompiled events seen").tag(sync=True)
    source_hash = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    replaced = traitlets.List(traitlets.Unicode()).tag(sync=True)
    note = traitlets.Unicode("").tag(sync=True)
    # Paths under the kernel's working directory are shown relative to it.
    cwd = traitlets.Unicode(help="the kernel's working directory").tag(sync=True)
    # The last reload's change set and how the module was updated (SPEC 1.5, 2.2).
    changes = traitlets.Dict(None, allow_none=True, help="{added, changed, removed}").tag(sync=True)
    mode = traitlets.Unicode(None, allow_none=True, help="patched | partial | full").tag(sync=True)
    mode_label = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    full_reason = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    reason = traitlets.Dict(None, allow_none=True, help="{after, label}").tag(sync=True)
    own_ms = traitlets.Float(None, allow_none=True, help="this module's update").tag(sync=True)
    # A reload waiting for the running cell (SPEC 2.5), until the module's next event.
    waiting = traitlets.Dict(None, allow_none=True, help="{reason, at}").tag(sync=True)
    running_old = traitlets.List(
        traitlets.Dict(), help="[{qualname, thread}] still running their old code"
    ).tag(sync=True)
    last_event = traitlets.Dict(None, allow_none=True, help="{kind, at, n}").tag(sync=True)
    editable = traitlets.Bool(True, help="a click on a function opens its editor").tag(sync=True)

    def __init__(
        self, mod: str | ModuleType, *, reloader: HotReloader | None = None, **kwargs: Any
    ) -> None:
        self._reloader = reloader
        self._lock = threading.Lock()
        name = _module_name(mod)
        state = initial_state(name, self._fetch)
        self._record_hold = record_reloads(self._drop_running_old)
        try:
            state = seeded(state, last_state(name, state["path"]))
            super().__init__(**state, cwd=os.getcwd(), **kwargs)
        except BaseException:
            self._record_hold.release()
            raise
        self._subscription: Subscription | None = subscribe(self._on_event, kinds=MODULE_KINDS)
        self._requests = self._serve_requests()

    @property
    def state(self) -> ModuleState:
        """The module as currently shown (a copy)."""
        return ModuleState(
            mod=self.mod,
            path=self.path,
            status=cast(ModuleStatus, self.status),
            functions=list(self.functions),
            error=self.error,
            recompiled_at=self.recompiled_at,
            recompiles=self.recompiles,
            source_hash=self.source_hash,
            replaced=list(self.replaced),
            note=self.note,
            changes=None if self.changes is None else dict(self.changes),
            mode=self.mode,
            mode_label=self.mode_label,
            full_reason=self.full_reason,
            reason=None if self.reason is None else dict(self.reason),
            own_ms=self.own_ms,
            waiting=None if self.waiting is None else dict(self.waiting),
            running_old=[dict(entry) for entry in self.running_old],
            last_event=None if self.last_event is None else dict(self.last_event),
        )

    # -- the editor's requests, beside a running cell (SPEC §2.5) ---------------------------
    # The editor's custom messages {"type": "request", ...} (see _editor.py and
    # frontend/src/requests.js) are handled on the kernel subshell the frontend sent them
    # to, when it names one: reads at once, saves and undos on a thread of their own
    # (ipython_hotreload.subshells).
    # Every reply says whether it was served beside the cells ("beside_cells"); the op
    # "ping" asks only that, for the page to tell a slow request from a waiting channel.

    def _serve_requests(self) -> RequestServer:
        server = RequestServer(
            self._answer_request, self.send, changes=_changes_code, name="panel-request"
        )
        if self.comm is not None:
            serve_beside_cells(
                self.comm, _is_editor_request, lambda msg: server.submit(_editor_request(msg))
            )
        return server

    def _answer_request(self, request: object) -> dict[str, Any]:
        if isinstance(request, dict) and request.get("op") == "ping":
            reply = {"type": "reply", "id": request.get("id"), "ok": True, "result": None}
        else:
            reply = answer(self._editing, request)
        return {**reply, "beside_cells": not on_main_thread()}

    def _on_event(self, event: ModuleEvent) -> None:
        if event.mod != self.mod:
            return
        with self._lock:
            self._show(state_after(self.state, event, self._fetch))

    def _drop_running_old(self, mod: str, qualname: str | None, thread: str | None) -> None:
        if mod != self.mod:
            return
        with self._lock:
            self._show(without_running_old(self.state, qualname, thread))

    def _show(self, new: ModuleState) -> None:
        with self.hold_sync():
            for key, value in new.items():
                setattr(self, key, value)


def _is_editor_request(data: object) -> bool:
    content = data.get("content") if isinstance(data, dict) else None
    return (
        isinstance(data, dict)
        and data.get("method") == "custom"
        and isinstance(content, dict)
        and content.get("type") == "request"
    )


def _editor_request(msg: dict[str, Any]) -> object:
    data = message_data(msg)
    return data.get("content") if isinstance(data, dict) else None


def _changes_code(request: object) -> bool:
    return isinstance(request, dict) and request.get("op") in ("reload_definition", "undo")


class EventLog(_Subscribed, anywidget.AnyWidget):
    """Every event of the process, newest first, keeping the last ``limit``.

    ``kinds`` and ``mods`` narrow what is logged. ``history`` holds the full
    :class:`ModuleEvent` objects (newest first); the browser gets compact entries.
    """

    _esm = _LISTS_ESM
    _css = _CSS
    _panel = traitlets.Unicode("events").tag(sync=True)

    events = traitlets.List(traitlets.Dict(), help="compact entries, newest first").tag(sync=True)
    limit = traitlets.Int(200, help="how many events are kept").tag(sync=True)
    total = traitlets.Int(0, help="events seen since the log was made").tag(sync=True)

    def __init__(
        self,
        *,
        limit: int = 200,
        kinds: Iterable[str] | None = None,
        mods: Iterable[str] | None = None,
        **kwargs: Any,
    ) -> None:
        if limit < 1:
            raise ValueError(f"an event log keeps at least one event, not {limit}")
        self._lock = threading.Lock()
        self._mods = frozenset(mods) if mods is not None else None
        self.history: deque[ModuleEvent] = deque(maxlen=limit)
        super().__init__(limit=limit, **kwargs)
        self._subscription: Subscription | None = subscribe(self._on_event, kinds=kinds)

    @traitlets.observe("limit")
    def _limit_changed(self, change: dict[str, Any]) -> None:
        with self._lock:
            self.history = deque(self.history, maxlen=change["new"])
            self.events = self.events[: change["new"]]

    def _on_event(self, event: ModuleEvent) -> None:
        if self._mods is not None and event.mod not in self._mods:
            return
        with self._lock:
            self.history.appendleft(event)
            with self.hold_sync():
                self.total += 1
                self.events = [event_entry(event), *self.events[: self.limit - 1]]

    def clear(self) -> None:
        """Forget the events shown so far."""
        with self._lock:
            self.history.clear()
            self.events = []


class ProjectOverview(_Subscribed, _ReloaderBound, anywidget.AnyWidget):
    """Every loaded project module (under the reloader's roots) with its state and functions.

    Modules reloaded later (imported for the first time by a reload, say) join the list.
    """

    _esm = _LISTS_ESM
    _css = _CSS
    _panel = traitlets.Unicode("overview").tag(sync=True)

    modules = traitlets.List(traitlets.Dict(), help="one module state each, by name").tag(sync=True)
    roots = traitlets.List(traitlets.Unicode()).tag(sync=True)
    cluster = traitlets.Dict(help="Dask workers heard from: current, failed").tag(sync=True)

    def __init__(self, *, reloader: HotReloader | None = None, **kwargs: Any) -> None:
        from ipython_hotreload.core.defaults import default_reloader

        self._reloader = reloader
        self._lock = threading.Lock()
        roots = list((reloader or default_reloader()).roots)
        states = [initial_state(mod, self._fetch) for mod in project_modules(roots)]
        self._record_hold = record_reloads(self._drop_running_old)
        try:
            states = [seeded(state, last_state(state["mod"], state["path"])) for state in states]
            super().__init__(modules=states, roots=[str(r) for r in roots], **kwargs)
        except BaseException:
            self._record_hold.release()
            raise
        kinds = (*MODULE_KINDS, *WORKER_KINDS)
        self._subscription: Subscription | None = subscribe(self._on_event, kinds=kinds)

    def module(self, mod: str) -> ModuleState | None:
        """The shown state of ``mod``, or None if it is not listed."""
        for state in self.modules:
            if state["mod"] == mod:
                return cast(ModuleState, dict(state))
        return None

    def _on_event(self, event: ModuleEvent) -> None:
        if event.kind in WORKER_KINDS:  # the cluster line (SPEC 2.4), not a module's state
            with self._lock:
                self.cluster = cluster_after(self.cluster, event)
            return
        if event.mod is None:
            return
        with self._lock:
            states = {s["mod"]: cast(ModuleState, s) for s in self.modules}
            before = states.get(event.mod)
            if before is None:
                if event.kind == "source_removed":
                    return  # never listed: nothing to drop
                before = blank_state(event.mod, event.path)
            states[event.mod] = state_after(before, event, self._fetch)
            self.modules = [dict(states[name]) for name in sorted(states)]

    def _drop_running_old(self, mod: str, qualname: str | None, thread: str | None) -> None:
        with self._lock:
            self.modules = [
                dict(without_running_old(cast(ModuleState, state), qualname, thread))
                if state["mod"] == mod
                else state
                for state in self.modules
            ]


class ProjectPanel(ipywidgets.VBox):  # type: ignore[misc]
    """A :class:`ProjectOverview` above an :class:`EventLog`; closing it closes both."""

    def __init__(self, *, reloader: HotReloader | None = None, **kwargs: Any) -> None:
        self.overview = ProjectOverview(reloader=reloader)
        self.event_log = EventLog()
        super().__init__(children=[self.overview, self.event_log], **kwargs)

    def close(self) -> None:
        """Close both panels (unsubscribing them) and the box."""
        self.overview.close()
        self.event_log.close()
        super().close()
