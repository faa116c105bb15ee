"""The kernel end of the comm channel (protocol 1, see :mod:`.protocol`).

One :class:`CommChannel` per loaded extension owns the comm target, the open comms and a
single event subscription that fans every event out to every open comm, in order. Requests
are answered on the comm they came from, after the events they caused.

A frontend that sends a comm's messages to a kernel subshell gets them answered there,
beside a running cell (:mod:`ipython_hotreload.subshells`): requests that change nothing at
once, reloads on a thread of their own. Events and replies may so be sent from several
threads; one lock keeps each send whole.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

import comm as comm_package

from ipython_hotreload.core.engine import HotReloader
from ipython_hotreload.core.events import ModuleEvent, Subscription, subscribe
from ipython_hotreload.errors import (
    BadRequest,
    ConflictError,
    HotReloadError,
    ReloadError,
    SourceWriteError,
    UnsafePathError,
)
from ipython_hotreload.ipython.protocol import (
    OPS,
    PROTOCOL_VERSION,
    TARGET_NAME,
    EventMessage,
    HelloMessage,
    Reply,
    Request,
    error_reply,
    ok_reply,
    parse_request,
)
from ipython_hotreload.subshells import RequestServer, message_data, serve_beside_cells

__all__ = ["CommChannel", "describe_error"]

log = logging.getLogger(__name__)

#: The ops that change code: beside a running cell, each is answered on a thread of its own.
CHANGING_OPS = frozenset({"purge", "reload", "reload_definition", "undo"})


def describe_error(exc: BaseException) -> dict[str, Any]:
    """The ``error`` object of a reply for ``exc``: ``type``, ``message`` and the error's data."""
    info: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, ReloadError):
        info.update(mod=exc.mod, path=exc.path, lineno=exc.lineno)
        cause = exc.__cause__
        if cause is not None:
            info["cause"] = {"type": type(cause).__name__, "message": str(cause)}
    elif isinstance(exc, UnsafePathError):
        info.update(path=exc.path, reason=exc.reason)
    elif isinstance(exc, SourceWriteError):
        info.update(path=exc.path)
    elif isinstance(exc, ConflictError):
        info.update(path=exc.path, current=exc.current)
    elif isinstance(exc.__cause__, SyntaxError):
        # New text that does not parse (a definition from an editor): its line, to show.
        info.update(lineno=exc.__cause__.lineno, offset=exc.__cause__.offset)
    return info


class CommChannel:
    """Serve protocol 1 on the comm target ``ipython_hotreload``."""

    def __init__(self, get_reloader: Callable[[], HotReloader]) -> None:
        self._get_reloader = get_reloader
        # Each open comm with the server of its requests. Comms open and close on the main
        # shell or on a subshell, and events fan out from any thread: the list is swapped
        # whole under its lock and read as a snapshot.
        self._comms: list[tuple[Any, RequestServer]] = []
        self._comms_lock = threading.Lock()
        # Sends to one comm must not interleave: an event from a watcher thread could
        # otherwise land between the events and the reply of a request.
        self._send_lock = threading.Lock()
        self._subscription: Subscription | None = None

    @property
    def comms(self) -> list[Any]:
        """The comms open right now (a copy)."""
        return [c for c, _server in self._comms]

    def open(self) -> None:
        """Register the comm target and start forwarding events."""
        if self._subscription is None:
            self._subscription = subscribe(self._forward_event)
        comm_package.get_comm_manager().register_target(TARGET_NAME, self._on_comm_open)

    def close(self) -> None:
        """Unregister the target, close every open comm and stop forwarding events."""
        manager = comm_package.get_comm_manager()
        if manager.targets.get(TARGET_NAME) == self._on_comm_open:
            manager.unregister_target(TARGET_NAME, self._on_comm_open)
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None
        with self._comms_lock:
            comms, self._comms = self._comms, []
        for c, server in comms:
            # A reload still being applied finishes on its own; its reply has no comm left.
            server.close()
            try:
                c.close()
            except Exception:
                log.exception("could not close hotreload comm %s", getattr(c, "comm_id", "?"))

    # -- comm callbacks -----------------------------------------------------------------

    def _on_comm_open(self, comm: Any, open_msg: dict[str, Any]) -> None:
        server = RequestServer(
            self.handle,
            lambda reply: self._send(comm, reply),
            changes=_changes_code,
            name="comm-request",
        )
        with self._comms_lock:
            self._comms = [*self._comms, (comm, server)]
        # Every message of this comm is a request: each is answered on the subshell the
        # frontend sent it to (the main shell when it names none).
        serve_beside_cells(comm, _every_message, lambda msg: server.submit(message_data(msg)))
        comm.on_close(lambda msg: self._forget(comm))
        hello: HelloMessage = {"type": "hello", "protocol": PROTOCOL_VERSION, "ops": list(OPS)}
        self._send(comm, hello)

    def _forget(self, comm: Any) -> None:
        with self._comms_lock:
            gone = [server for c, server in self._comms if c is comm]
            self._comms = [(c, server) for c, server in self._comms if c is not comm]
        for server in gone:
            server.close()

    def _forward_event(self, event: ModuleEvent) -> None:
        message: EventMessage = {"type": "event", "event": event.to_json()}
        for c, _server in self._comms:
            self._send(c, message)

    def _send(self, comm: Any, message: Mapping[str, Any]) -> None:
        with self._send_lock:
            try:
                comm.send(dict(message))
            except Exception:
                # A comm whose frontend went away must not break the reload or other comms.
                log.exception("could not send to hotreload comm %s", getattr(comm, "comm_id", "?"))

    # -- requests -----------------------------------------------------------------------

    def handle(self, data: object) -> Reply:
        """Answer one request (the ``data`` of a comm message) with exactly one reply."""
        request_id = data.get("id") if isinstance(data, dict) else None
        try:
            request = parse_request(data)
            return ok_reply(request_id, self._perform(request))
        except BadRequest as exc:
            return error_reply(exc.request_id, "BadRequest", exc.message)
        except HotReloadError as exc:
            info = describe_error(exc)
            return error_reply(request_id, info.pop("type"), info.pop("message"), **info)
        except KeyboardInterrupt:
            # The user interrupted the kernel while it served this request.
            return error_reply(request_id, "KeyboardInterrupt", "interrupted; nothing changed")
        except Exception as exc:
            log.exception("hotreload comm request failed")
            return error_reply(request_id, type(exc).__name__, str(exc))

    def _perform(self, request: Request) -> Any:
        reloader = self._get_reloader()
        if request["op"] == "reload":
            # A relative path is taken from the kernel's working directory by the reloader.
            fmt = request.get("format", True)
            return reloader.reload(request["path"], request["content"], format=fmt)
        if request["op"] == "purge":
            reloader.purge_module(request["mod"])
            return {"mod": request["mod"]}
        if request["op"] == "functions":
            return reloader.functions(request["mod"])
        if request["op"] == "source":
            return reloader.source_of(request["target"])
        if request["op"] == "reload_definition":
            return reloader.reload_definition(
                request["target"],
                request["content"],
                format=request.get("format", True),
                expected_hash=request.get("expected_hash"),
            )
        if request["op"] == "history":
            return reloader.history()
        if request["op"] == "undo":
            return reloader.undo(request.get("steps", 1), force=request.get("force", False))
        return reloader.compile_dep_edges(labels=request.get("labels"))


def _every_message(data: object) -> bool:
    return True


def _changes_code(request: object) -> bool:
    return isinstance(request, dict) and request.get("op") in CHANGING_OPS
