"""Edits while a cell runs (SPEC §2.5) in a real kernel: a cell loops, calling a project
function, while the file watcher sees another editor's saves.

What the running loop saw is what it recorded: it stops by itself once it sees the new
code's value (or, when the edit must wait, once the test drops a stop file), and the next
cell reads what it recorded. The kernel's event order and threads come from a recorder
subscribed in the kernel; ``reload_waiting`` arrives on the comm channel as frontends see it."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ipython_hotreload.client import HotReloadClient
from tests.kernel.conftest import Kernel

pytestmark = pytest.mark.kernel

TIMEOUT = 30  # deadlines, not delays

WORK = """\
X = 1
Y = X * 2  # read at import time


def step():
    return Y
"""

RECORDER = """
import threading as _t, time as _time, ipython_hotreload as _hr
_seen = []
_sub = _hr.subscribe(lambda e: _seen.append((e.kind, e.mod, _t.current_thread().name, _time.time())))
"""

# Loops until step() returns `until` (the loop saw the edit) or a stop file appears (the
# edit waits for this cell); what it saw is kept in `_values`.
LOOP = """
import os, time
import {name}.work as _w
print("looping", flush=True)
_values = [_w.step()]
_deadline = time.monotonic() + {timeout}
while _values[-1] != {until} and not os.path.exists("{name}.stop"):
    v = _w.step()
    if v != _values[-1]:
        _values.append(v)
    assert time.monotonic() < _deadline, f"the loop never ended: {{_values}}"
    time.sleep(0.001)
_cell_end = time.time()
"""


class Streams:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def __call__(self, msg: dict[str, Any]) -> None:
        if msg.get("msg_type") == "stream":
            self.messages.append(msg["content"])

    def text(self) -> str:
        return "".join(m["text"] for m in self.messages)


@pytest.fixture
def streams() -> Streams:
    return Streams()


@pytest.fixture
def client(kernel: Kernel, streams: Streams) -> Iterator[HotReloadClient]:
    c = kernel.hotreload_client(on_other=streams)
    c.open()
    run(c, RECORDER)
    try:
        yield c
    finally:
        run(
            c,
            "%load_ext ipython_hotreload\n%hotreload watch --stop\n_sub.close()\n"
            "%config HotReload.while_running = 'patch'",
        )
        # Every open comm gets every event: left open, they would multiply the messages
        # of the test that floods the channel past what IOPub queues for a subscriber.
        c.close()


def run(client: HotReloadClient, code: str) -> None:
    reply = client.execute(textwrap.dedent(code), timeout=TIMEOUT * 2)
    assert reply["status"] == "ok", reply


class RunningCell:
    """A cell sent to the kernel and not waited for; IOPub is read meanwhile."""

    def __init__(self, client: HotReloadClient, streams: Streams, code: str) -> None:
        self.client = client
        self.msg_id: str = client.kernel_client.execute(code, allow_stdin=False)
        deadline = time.monotonic() + TIMEOUT
        while "looping" not in streams.text():
            assert time.monotonic() < deadline, "the cell never started looping"
            client.pump(0.05)

    def reply(self) -> dict[str, Any]:
        kc = self.client.kernel_client
        deadline = time.monotonic() + TIMEOUT * 2
        while True:
            msg = kc.get_shell_msg(timeout=max(0.0, deadline - time.monotonic()))
            if msg.get("parent_header", {}).get("msg_id") == self.msg_id:
                content: dict[str, Any] = msg["content"]
                return content


def start(kernel: Kernel, client: HotReloadClient, name: str, mode: str = "patch") -> None:
    kernel.write(f"{name}/__init__.py", "")
    kernel.write(f"{name}/work.py", WORK)
    run(client, f"import {name}.work\n%config HotReload.while_running = {mode!r}")
    run(client, "%hotreload watch")


def event(client: HotReloadClient, kind: str, mod: str) -> dict[str, Any]:
    return client.wait_for_event(lambda e: e["kind"] == kind and e["mod"] == mod, TIMEOUT)


def test_a_watched_patch_reaches_the_loop_of_the_running_cell(
    kernel: Kernel, client: HotReloadClient, streams: Streams
) -> None:
    name = "kr_patch"
    start(kernel, client, name)
    cell = RunningCell(client, streams, LOOP.format(name=name, until=20, timeout=TIMEOUT))
    kernel.write(f"{name}/work.py", WORK.replace("return Y", "return Y * 10"))
    patched = event(client, "recompiled", f"{name}.work")
    assert patched["payload"]["mode"] == "patched"
    reply = cell.reply()  # the loop ended by itself: it saw the new code
    assert reply["status"] == "ok", reply
    run(
        client,
        f"""
        assert _values == [2, 20], _values  # the new code ran inside the loop
        # (Applied from the watcher's thread; its event may come a moment after the loop
        # ended: the functions take their code before the payload is built.)
        _runs = [r for r in _seen if r[0] == "recompiled" and r[1] == "{name}.work"]
        assert len(_runs) == 1 and _runs[0][2].startswith("hotreload-watch"), _runs
        assert not [r for r in _seen if r[0] == "reload_waiting"], _seen
        """,
    )


def test_a_constant_read_at_import_time_waits_for_the_cell_then_applies(
    kernel: Kernel, client: HotReloadClient, streams: Streams
) -> None:
    name = "kr_const"
    start(kernel, client, name)
    cell = RunningCell(client, streams, LOOP.format(name=name, until=4, timeout=TIMEOUT))
    kernel.write(f"{name}/work.py", WORK.replace("X = 1", "X = 2"))
    waiting = event(client, "reload_waiting", f"{name}.work")
    assert waiting["path"].endswith(f"{name}/work.py")
    assert f"line 1 of {name}.work (X = 2)" in waiting["payload"]["reason"]
    kernel.write(f"{name}.stop", "")  # the loop ends: the cell ends
    reply = cell.reply()
    assert reply["status"] == "ok", reply
    recompiled = event(client, "recompiled", f"{name}.work")
    assert recompiled["payload"]["mode"] == "partial"
    run(
        client,
        f"""
        assert _values == [2], _values  # the loop never saw the new constant
        assert {name}.work.step() == 4
        _runs = [r for r in _seen if r[0] == "recompiled" and r[1] == "{name}.work"]
        assert len(_runs) == 1 and _runs[0][2] == "MainThread", _runs
        assert _runs[0][3] >= _cell_end, (_runs, _cell_end)
        """,
    )


def test_while_running_all_applies_the_constant_inside_the_cell(
    kernel: Kernel, client: HotReloadClient, streams: Streams
) -> None:
    name = "kr_all"
    start(kernel, client, name, mode="all")
    cell = RunningCell(client, streams, LOOP.format(name=name, until=4, timeout=TIMEOUT))
    kernel.write(f"{name}/work.py", WORK.replace("X = 1", "X = 2"))
    assert event(client, "recompiled", f"{name}.work")["payload"]["mode"] == "partial"
    reply = cell.reply()
    assert reply["status"] == "ok", reply
    run(
        client,
        f"""
        assert _values == [2, 4], _values
        _runs = [r for r in _seen if r[0] == "recompiled" and r[1] == "{name}.work"]
        assert len(_runs) == 1 and _runs[0][2].startswith("hotreload-watch"), _runs
        """,
    )


def test_while_running_wait_holds_a_patch_for_the_cell(
    kernel: Kernel, client: HotReloadClient, streams: Streams
) -> None:
    name = "kr_wait"
    start(kernel, client, name, mode="wait")
    cell = RunningCell(client, streams, LOOP.format(name=name, until=20, timeout=TIMEOUT))
    kernel.write(f"{name}/work.py", WORK.replace("return Y", "return Y * 10"))
    waiting = event(client, "reload_waiting", f"{name}.work")
    assert "while_running is 'wait'" in waiting["payload"]["reason"]
    kernel.write(f"{name}.stop", "")
    reply = cell.reply()
    assert reply["status"] == "ok", reply
    assert event(client, "recompiled", f"{name}.work")["payload"]["mode"] == "patched"
    run(
        client,
        f"""
        assert _values == [2], _values
        assert {name}.work.step() == 20
        _runs = [r for r in _seen if r[0] == "recompiled" and r[1] == "{name}.work"]
        assert len(_runs) == 1 and _runs[0][2] == "MainThread", _runs
        """,
    )


# -- sends from other threads -------------------------------------------------------------

CONCURRENT_SENDS = """
import sys, threading
from ipython_hotreload.core.events import ModuleEvent, publish
_interval = sys.getswitchinterval()
sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
try:
    def _send(i):
        for j in range({per_thread}):
            publish(ModuleEvent("source_written", f"sender{{i}}", str(j)))
    _threads = [threading.Thread(target=_send, args=(i,)) for i in range({threads})]
    for _th in _threads:
        _th.start()
    for _th in _threads:
        _th.join()
finally:
    sys.setswitchinterval(_interval)
"""


def test_events_sent_from_many_threads_arrive_whole_once_and_in_order(kernel: Kernel) -> None:
    """The comm channel sends from whatever thread publishes (the watcher's, a subshell's);
    its send lock keeps those sends from racing each other in the kernel's session."""
    threads, per_thread = 4, 150
    client = kernel.hotreload_client()
    client.open()
    kc = client.kernel_client
    msg_id = kc.execute(CONCURRENT_SENDS.format(threads=threads, per_thread=per_thread))
    ids: list[str] = []
    order: dict[str, list[int]] = {}
    idle = False
    deadline = time.monotonic() + TIMEOUT * 2
    while not idle or sum(map(len, order.values())) < threads * per_thread:
        assert time.monotonic() < deadline, {k: len(v) for k, v in order.items()}
        try:
            msg = kc.get_iopub_msg(timeout=1)
        except Exception:
            continue
        content = msg.get("content", {})
        if msg["msg_type"] == "status" and msg["parent_header"].get("msg_id") == msg_id:
            idle = idle or content.get("execution_state") == "idle"
        if msg["msg_type"] != "comm_msg" or content.get("comm_id") != client.comm_id:
            continue
        ids.append(msg["header"]["msg_id"])
        event = content["data"]["event"]
        order.setdefault(event["mod"], []).append(int(event["path"]))
    assert len(ids) == len(set(ids)), "two sends raced for one message id"
    assert order == {f"sender{i}": list(range(per_thread)) for i in range(threads)}
    reply = kc.get_shell_msg(timeout=TIMEOUT)
    assert reply["content"]["status"] == "ok", reply["content"]
    client.close()
