"""Answering a frontend's requests beside a running cell, on a kernel subshell (SPEC §2.5).

ipykernel 7 runs each subshell (JEP 91) on a thread of its own beside the main shell, which
runs the cells. A frontend that supports them (JupyterLab 4.4+ and Notebook 7.4+ do, by
default) sends every comm's messages to one subshell per comm target, so that a widget or a
comm channel can be answered while a cell runs. ipykernel 7.4 then overrides that choice
for ``comm_msg`` and ``comm_close``: it hands each one to the subshell its comm last
*published* from (``BaseComm._reply_subshell_for``), which for a panel made in a cell, or a
comm that a cell's reload sent an event to, is the main shell, where the message waits
until the cell ends.

:func:`serve_beside_cells` gives that choice back to the frontend for the messages of one
comm that a predicate accepts, and hands those messages straight to a handler, without the
``pre_execute``/``post_execute`` hooks ``BaseComm.handle_msg`` fires around a comm callback:
those belong to the running cell (they clear its warning registry and flush its figures).
Nothing here imports ipykernel: a kernel that does not consult a comm routes as it always
did (ipykernel 7.0-7.3 by the message's own subshell, ipykernel 6 to its one shell).

:class:`RequestServer` then answers what arrives: a request that changes nothing at once,
on the thread that received it; a request that changes code and arrived beside a running
cell on a thread of its own, so that a reload the engine makes wait for the cell holds up
no other request. A request handled on the main thread (a frontend without subshells) is
answered there, between cells, as before.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["MAX_WAITING", "RequestServer", "message_data", "on_main_thread", "serve_beside_cells"]

log = logging.getLogger(__name__)

#: How many requests that change code may be in flight at once on one channel; more are
#: refused (a runaway client must not make the kernel start threads without end).
MAX_WAITING = 8

Message = dict[str, Any]
#: A reply, in whatever typed shape the channel's protocol gives it.
Reply = Mapping[str, Any]


def on_main_thread() -> bool:
    """Is this the interpreter's main thread (the one that runs a kernel's cells)?"""
    return threading.current_thread() is threading.main_thread()


def message_data(msg: object) -> object:
    """The ``data`` of a comm message (None for anything else)."""
    content = msg.get("content") if isinstance(msg, dict) else None
    return content.get("data") if isinstance(content, dict) else None


def serve_beside_cells(
    comm: Any, accepts: Callable[[object], bool], handle: Callable[[Message], None]
) -> bool:
    """From now on, the messages of ``comm`` whose ``data`` ``accepts`` (it must not raise)
    are handled on the subshell the frontend sent them to, by ``handle(msg)`` alone; the
    others go on as before. Returns whether this kernel let the comm choose (ipykernel's
    routing hook was there to override)."""
    route = getattr(comm, "_reply_subshell_for", None)
    if callable(route):
        kernel_route = route

        def by_sender(data: object, default: object) -> object:
            # Runs on the kernel's shell channel thread: an error here would drop the message.
            try:
                ours = accepts(data)
            except Exception:
                log.exception("hotreload: could not tell where a comm message goes")
                ours = False
            return default if ours else kernel_route(data, default)

        comm._reply_subshell_for = by_sender
    kernel_handle = comm.handle_msg

    def handle_msg(msg: Message) -> None:
        if accepts(message_data(msg)):
            handle(msg)
        else:
            kernel_handle(msg)

    comm.handle_msg = handle_msg
    return callable(route)


class RequestServer:
    """Answer the requests of one channel, each with exactly one reply through ``send``.

    ``answer(request)`` makes the reply (it never raises); ``changes(request)`` says whether
    the request changes code (a reload, an undo). Those that do, when they arrive on a thread
    other than the main one (beside a running cell), are answered on a thread of their own,
    at most :data:`MAX_WAITING` at once; everything else is answered where it arrived.
    """

    def __init__(
        self,
        answer: Callable[[object], Reply],
        send: Callable[[Reply], None],
        *,
        changes: Callable[[object], bool],
        name: str,
        limit: int = MAX_WAITING,
    ) -> None:
        self._answer = answer
        self._send = send
        self._changes = changes
        self._name = name
        self._limit = limit
        self._lock = threading.Lock()
        self._running: set[threading.Thread] = set()
        self._closed = False

    @property
    def running(self) -> int:
        """How many requests are being answered on threads of their own right now."""
        with self._lock:
            return len(self._running)

    def submit(self, request: object) -> None:
        """Answer ``request`` (now, or on a thread of its own; see the class)."""
        if on_main_thread() or not self._changes(request):
            self._send(self._answer(request))
            return
        with self._lock:
            refusal = self._refusal(request)
            if refusal is None:
                thread = threading.Thread(
                    target=self._run, args=(request,), name=f"hotreload-{self._name}", daemon=True
                )
                self._running.add(thread)
                thread.start()
        if refusal is not None:
            self._send(refusal)

    def close(self, timeout: float = 0.0) -> bool:
        """Refuse new requests that change code; wait up to ``timeout`` seconds for those
        still being answered. True when none is left."""
        with self._lock:
            self._closed = True
            running = list(self._running)
        for thread in running:
            thread.join(timeout)
        return self.running == 0

    def _refusal(self, request: object) -> Reply | None:
        request_id = request.get("id") if isinstance(request, dict) else None
        if self._closed:
            message = "the hot-reload channel is closing; nothing was changed"
        elif len(self._running) >= self._limit:
            message = (
                f"{self._limit} reloads sent here are still being applied; "
                "send this one again when one of them has replied"
            )
        else:
            return None
        return {
            "type": "reply",
            "id": request_id,
            "ok": False,
            "error": {"type": "Busy", "message": message},
        }

    def _run(self, request: object) -> None:
        try:
            try:
                reply: Reply = self._answer(request)
            except Exception as exc:
                # answer() replies to every failure itself; this is a bug, not bad input.
                log.exception("hotreload: answering a %s request failed", self._name)
                request_id = request.get("id") if isinstance(request, dict) else None
                error = {"type": type(exc).__name__, "message": str(exc)}
                reply = {"type": "reply", "id": request_id, "ok": False, "error": error}
            self._send(reply)
        finally:
            with self._lock:
                self._running.discard(threading.current_thread())
