"""Drive ``ipython_hotreload`` in a running kernel from another process (an editor plugin, a test).

::

    from jupyter_client.manager import start_new_kernel
    from ipython_hotreload.client import HotReloadClient

    km, kc = start_new_kernel(kernel_name="python3", cwd="/path/to/project")
    client = HotReloadClient(kc)
    client.execute("%load_ext ipython_hotreload")
    client.open()                                         # {"type": "hello", "protocol": 1}
    reply = client.reload("pkg/mod.py", "def f():\\n    return 2\\n")
    assert reply["ok"], reply["error"]["message"]
    event = client.wait_for_event(lambda e: e["kind"] == "recompiled", timeout=5)
    print(event["payload"]["functions"][0]["signature"])  # ()
    client.close()
    kc.stop_channels()
    km.shutdown_kernel()

The client speaks protocol 1 (see :mod:`ipython_hotreload.ipython.protocol`) over a comm, on a
blocking ``jupyter_client`` kernel client, from one thread. It reads the IOPub channel itself
while it waits; IOPub messages that are not its own go to ``on_other`` (dropped by default).

A kernel answers the comm between cells, unless the client has a subshell of its own
(``HotReloadClient(kc, subshell=True)``, ipykernel 7): it then sends every comm message there,
and the kernel answers beside a running cell (SPEC §2.5), requests that change nothing at
once. Against a kernel without subshells the flag changes nothing (``subshell_id`` stays None).

One fact of the Jupyter protocol matters here: comm messages sent while a cell runs carry that
cell's ``execute_request`` as their parent. ``KernelClient.execute_interactive`` hands such
messages to its ``output_hook`` and silently drops IOPub messages of other parents, so pass
``output_hook=client.output_hook`` to it, or use :meth:`HotReloadClient.execute`, which reads
IOPub through the client and loses nothing.
"""

from __future__ import annotations

import itertools
import queue
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from ipython_hotreload.ipython.protocol import TARGET_NAME

__all__ = ["HotReloadClient"]

Message = dict[str, Any]


class HotReloadClient:
    """A comm to ``ipython_hotreload`` in one kernel, with request/reply and event helpers."""

    def __init__(
        self,
        kernel_client: Any,
        *,
        on_other: Callable[[Message], object] | None = None,
        history: int = 1000,
        subshell: bool = False,
    ) -> None:
        self.kernel_client = kernel_client
        self.comm_id = uuid.uuid4().hex
        self.on_other = on_other
        self.subshell = subshell
        #: The kernel subshell the comm's messages go to (``subshell=True``, once open; None
        #: when the kernel has no subshells).
        self.subshell_id: str | None = None
        self.hello: Message | None = None
        self.closed = False
        #: The last ``history`` messages received on this comm, oldest first (for debugging
        #: and for checking order: a request's events arrive before its reply).
        self.received: deque[Message] = deque(maxlen=history)
        self._events: deque[Message] = deque()
        self._replies: list[Message] = []
        self._ids = (f"{self.comm_id[:8]}-{n}" for n in itertools.count(1))

    # -- the comm -------------------------------------------------------------------------

    def open(self, timeout: float = 10.0) -> Message:
        """Open the comm and wait for the kernel's hello; returns it."""
        if self.subshell and self.subshell_id is None:
            self.subshell_id = self._create_subshell(timeout)
        self._send_shell(
            "comm_open", {"comm_id": self.comm_id, "target_name": TARGET_NAME, "data": {}}
        )
        self._pump_until(lambda: self.hello is not None or self.closed, timeout, "the hello")
        if self.hello is None:
            raise ConnectionError(
                "the kernel closed the comm: is the extension loaded (%load_ext ipython_hotreload)?"
            )
        return self.hello

    def close(self, timeout: float = 10.0) -> None:
        """Close the comm; the kernel stops sending events to it. A subshell of the client's
        own is deleted once the kernel has taken the close (a subshell deleted first would
        drop it)."""
        if not self.closed:
            self.closed = True
            msg_id = self._send_shell("comm_close", {"comm_id": self.comm_id, "data": {}})
            if self.subshell_id is not None:
                self._pump_until(lambda: False, timeout, "the end of the close", stop_at=msg_id)
        if self.subshell_id is not None:
            subshell_id, self.subshell_id = self.subshell_id, None
            self._control("delete_subshell_request", {"subshell_id": subshell_id}, timeout)

    def send(self, data: Any) -> None:
        """Send ``data`` as a comm message as it is (any JSON, valid request or not)."""
        self._send_shell("comm_msg", {"comm_id": self.comm_id, "data": data})

    # -- requests -------------------------------------------------------------------------

    def request(self, op: str, *, timeout: float = 30.0, **fields: Any) -> Message:
        """Send ``{"id", "op", **fields}`` and return its reply."""
        request_id = next(self._ids)
        self.send({"id": request_id, "op": op, **fields})
        return self.wait_for_reply(request_id, timeout)

    def reload(
        self, path: str, content: str, format: bool = True, timeout: float = 30.0
    ) -> Message:
        """Write ``content`` to ``path`` (relative to the kernel's working directory), reload."""
        return self.request("reload", path=path, content=content, format=format, timeout=timeout)

    def purge(self, mod: str, timeout: float = 30.0) -> Message:
        """Drop module ``mod`` in the kernel."""
        return self.request("purge", mod=mod, timeout=timeout)

    def edges(self, labels: list[str] | None = None, timeout: float = 30.0) -> Message:
        """The dependency edges (only those with ``labels`` when given)."""
        fields = {} if labels is None else {"labels": labels}
        return self.request("edges", timeout=timeout, **fields)

    def functions(self, mod: str, timeout: float = 30.0) -> Message:
        """The functions of module ``mod``."""
        return self.request("functions", mod=mod, timeout=timeout)

    def source(self, target: str, timeout: float = 30.0) -> Message:
        """The current source of one definition (``"pkg.mod:Class.method"``, ``"mod.py::f"``)."""
        return self.request("source", target=target, timeout=timeout)

    def reload_definition(
        self,
        target: str,
        content: str,
        format: bool = True,
        timeout: float = 30.0,
        *,
        expected_hash: str | None = None,
    ) -> Message:
        """Replace (or add) one definition in its file and reload it (``expected_hash``: the
        ``source_hash`` of the text you opened; a conflict is an error reply)."""
        fields: dict[str, Any] = {"target": target, "content": content, "format": format}
        if expected_hash is not None:
            fields["expected_hash"] = expected_hash
        return self.request("reload_definition", timeout=timeout, **fields)

    def history(self, timeout: float = 30.0) -> Message:
        """The reloads so far in the kernel, newest first."""
        return self.request("history", timeout=timeout)

    def undo(self, steps: int = 1, force: bool = False, timeout: float = 30.0) -> Message:
        """Revert the last ``steps`` reloads (``force``: even over edits made since)."""
        return self.request("undo", steps=steps, force=force, timeout=timeout)

    def supports(self, op: str) -> bool:
        """Does the kernel serve ``op``? (From the hello's ``ops``; an older kernel's hello
        has none, and serves the four first ops.)"""
        if self.hello is None:
            raise ConnectionError("open() the comm first")
        ops = self.hello.get("ops")
        return op in (ops if isinstance(ops, list) else ("edges", "functions", "purge", "reload"))

    def wait_for_reply(self, request_id: Any, timeout: float = 30.0) -> Message:
        """The reply whose ``id`` is ``request_id`` (``None`` for malformed messages)."""
        found: list[Message] = []

        def take() -> bool:
            for i, reply in enumerate(self._replies):
                if reply.get("id") == request_id:
                    found.append(self._replies.pop(i))
                    return True
            return False

        self._pump_until(take, timeout, f"the reply to {request_id!r}")
        return found[0]

    # -- events ---------------------------------------------------------------------------

    def events(self, timeout: float = 0.0) -> Iterator[Message]:
        """Yield events (``ModuleEvent.to_json()`` dicts) as they arrive, until none has come
        for ``timeout`` seconds."""
        while True:
            while self._events:
                yield self._events.popleft()
            if not self.pump(timeout):
                return

    def wait_for_event(
        self, predicate: Callable[[Message], bool], timeout: float = 10.0
    ) -> Message:
        """The first event matching ``predicate`` (taken out of the queue; others stay)."""
        found: list[Message] = []

        def take() -> bool:
            for i, event in enumerate(self._events):
                if predicate(event):
                    found.append(event)
                    del self._events[i]
                    return True
            return False

        self._pump_until(take, timeout, "a matching event")
        return found[0]

    # -- running code ---------------------------------------------------------------------

    def execute(self, code: str, timeout: float = 60.0) -> Message:
        """Run ``code`` in the kernel and return the ``execute_reply`` content; IOPub is read
        through this client, so events sent while the cell runs are kept."""
        kc = self.kernel_client
        msg_id: str = kc.execute(code, allow_stdin=False)
        idle = False

        def on_message(msg: Message) -> None:
            nonlocal idle
            if (
                msg.get("msg_type") == "status"
                and msg.get("parent_header", {}).get("msg_id") == msg_id
                and msg.get("content", {}).get("execution_state") == "idle"
            ):
                idle = True

        self._pump_until(lambda: idle, timeout, f"the end of {code[:40]!r}", watch=on_message)
        deadline = time.monotonic() + timeout
        while True:
            reply: Message = kc.get_shell_msg(timeout=max(0.0, deadline - time.monotonic()))
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                content: Message = reply["content"]
                return content

    def output_hook(self, msg: Message) -> None:
        """An ``output_hook`` for ``execute_interactive``: keeps this comm's messages and
        passes the rest to ``on_other``."""
        self._dispatch(msg)

    # -- IOPub ----------------------------------------------------------------------------

    def handle_message(self, msg: Message) -> bool:
        """Take in one IOPub message; True when it belonged to this comm."""
        msg_type = msg.get("msg_type") or msg.get("header", {}).get("msg_type")
        content = msg.get("content") or {}
        if msg_type not in ("comm_msg", "comm_close") or content.get("comm_id") != self.comm_id:
            return False
        if msg_type == "comm_close":
            self.closed = True
            return True
        data = content.get("data")
        if not isinstance(data, dict):
            return True
        self.received.append(data)
        kind = data.get("type")
        if kind == "hello":
            self.hello = data
        elif kind == "event" and isinstance(data.get("event"), dict):
            self._events.append(data["event"])
        elif kind == "reply":
            self._replies.append(data)
        return True

    def pump(self, timeout: float = 0.0) -> int:
        """Wait up to ``timeout`` seconds for an IOPub message, then read whatever else is
        queued; returns how many messages were read."""
        count = 0
        wait = timeout
        while True:
            try:
                msg = self.kernel_client.get_iopub_msg(timeout=wait)
            except queue.Empty:
                return count
            count += 1
            wait = 0.0
            self._dispatch(msg)

    def _dispatch(self, msg: Message) -> None:
        if not self.handle_message(msg) and self.on_other is not None:
            self.on_other(msg)

    def _pump_until(
        self,
        done: Callable[[], bool],
        timeout: float,
        what: str,
        watch: Callable[[Message], None] | None = None,
        *,
        stop_at: str | None = None,
    ) -> None:
        """Read IOPub until ``done()``, or (``stop_at``) until the kernel is idle after the
        message with that id."""
        kc = self.kernel_client
        deadline = time.monotonic() + timeout
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {what} from the kernel within {timeout} s")
            try:
                msg = kc.get_iopub_msg(timeout=left)
            except queue.Empty:
                continue
            if watch is not None:
                watch(msg)
            self._dispatch(msg)
            if (
                stop_at is not None
                and msg.get("msg_type") == "status"
                and msg.get("parent_header", {}).get("msg_id") == stop_at
                and msg.get("content", {}).get("execution_state") == "idle"
            ):
                return

    def _send_shell(self, msg_type: str, content: Message) -> str:
        """Send a comm message (to the client's subshell, if it has one); returns its id."""
        kc = self.kernel_client
        msg = kc.session.msg(msg_type, content)
        if self.subshell_id is not None:
            msg["header"]["subshell_id"] = self.subshell_id
        kc.shell_channel.send(msg)
        msg_id: str = msg["header"]["msg_id"]
        return msg_id

    # -- subshells (ipykernel 7) ----------------------------------------------------------

    def _create_subshell(self, timeout: float) -> str | None:
        """A new subshell of the kernel, or None when it has none. Asked on the control
        channel, which the kernel answers while a cell runs."""
        info = self._control("kernel_info_request", {}, timeout)
        if "kernel subshells" not in info.get("supported_features", []):
            return None
        reply = self._control("create_subshell_request", {}, timeout)
        if reply.get("status") != "ok":
            raise ConnectionError(f"the kernel made no subshell: {reply.get('evalue', reply)}")
        subshell_id: str = reply["subshell_id"]
        return subshell_id

    def _control(self, msg_type: str, content: Message, timeout: float) -> Message:
        """Send a control request and return its reply's content (other replies are dropped:
        the client owns its kernel client's control channel)."""
        kc = self.kernel_client
        msg = kc.session.msg(msg_type, content)
        kc.control_channel.send(msg)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {msg_type[: -len('_request')]} reply within {timeout} s")
            try:
                reply = kc.get_control_msg(timeout=left)
            except queue.Empty:
                continue
            if reply.get("parent_header", {}).get("msg_id") == msg["header"]["msg_id"]:
                answer: Message = reply["content"]
                return answer
