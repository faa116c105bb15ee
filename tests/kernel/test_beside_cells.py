"""Requests answered beside a running cell, on a kernel subshell (SPEC §2.5), against a
real ipykernel 7 driven as JupyterLab drives it: comm messages carry a ``subshell_id``.

The running cell prints progress markers (``tick N``) until the test lets it stop (a file
appears) and then ``done``; IOPub keeps the kernel's order, so "the reply came before
``done``" is read from one transcript, with no clock. Without the mechanism the reply comes
only after ``done``, when the cell gives up waiting (20 s).
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ipython_hotreload.client import HotReloadClient
from tests.kernel.conftest import Kernel

pytestmark = pytest.mark.kernel

CELL_GIVES_UP = 20  # seconds a looping cell runs at most when nobody stops it


class Transcript:
    """Every cell marker and panel reply seen on IOPub, in the kernel's order."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.replies: list[dict[str, Any]] = []

    def on_other(self, msg: dict[str, Any]) -> None:
        content = msg.get("content", {})
        if msg.get("msg_type") == "stream":
            self.lines.extend(line.strip() for line in content["text"].splitlines())
        elif msg.get("msg_type") == "comm_msg":
            data = content.get("data") or {}
            reply = data.get("content") if data.get("method") == "custom" else None
            if isinstance(reply, dict) and reply.get("type") == "reply":
                self.replies.append(reply)
                self.lines.append(f"panel reply {reply['id']}")


@pytest.fixture
def transcript() -> Transcript:
    return Transcript()


@pytest.fixture
def subshell_client(kernel: Kernel, transcript: Transcript) -> Iterator[HotReloadClient]:
    """A client whose comm messages go to a subshell of its own, as JupyterLab's do."""
    client = kernel.hotreload_client(subshell=True, on_other=transcript.on_other)
    client.open()
    assert client.subshell_id is not None, "this ipykernel has no subshells"
    yield client
    client.close()


def make_package(kernel: Kernel, name: str) -> None:
    kernel.write(f"{name}/__init__.py", "")
    kernel.write(f"{name}/mod.py", "def f():\n    return 1\n")


def start_loop(client: HotReloadClient, stop: Path, before: str = "", show: str = "''") -> str:
    """Run a cell that does ``before``, then prints ``tick N`` and the value of ``show``
    until ``stop`` exists (or :data:`CELL_GIVES_UP` seconds pass), then ``done``; returns
    its msg_id."""
    loop = textwrap.dedent(
        f"""\
        import os, time
        for i in range({CELL_GIVES_UP * 20}):
            print("tick", i, {show}, flush=True)
            if os.path.exists({str(stop)!r}):
                break
            time.sleep(0.05)
        print("done", flush=True)
        """
    )
    code = f"{before}\n{loop}"
    msg_id: str = client.kernel_client.execute(code, allow_stdin=False)
    return msg_id


def ticked(transcript: Transcript, n: int) -> bool:
    """Has the cell printed its ``n``-th marker?"""
    return any(line.split()[:2] == ["tick", str(n)] for line in transcript.lines)


def read_until(client: HotReloadClient, done: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out reading IOPub"
        client.pump(timeout=0.2)


def finish(client: HotReloadClient, transcript: Transcript, stop: Path, msg_id: str) -> None:
    """Let the cell stop, wait for its ``done`` and its reply (which must be ok)."""
    stop.touch()
    read_until(client, lambda: "done" in transcript.lines)
    kc = client.kernel_client
    while True:
        reply = kc.get_shell_msg(timeout=30)
        if reply["parent_header"].get("msg_id") == msg_id:
            assert reply["content"]["status"] == "ok", reply["content"]
            return


def send_to_widget(
    client: HotReloadClient, comm_id: str, content: dict[str, Any], subshell_id: str | None
) -> None:
    """A widget custom message, as the page's ``model.send(content)`` makes it."""
    kc = client.kernel_client
    data = {"method": "custom", "content": content}
    msg = kc.session.msg("comm_msg", {"comm_id": comm_id, "data": data})
    if subshell_id is not None:
        msg["header"]["subshell_id"] = subshell_id
    kc.shell_channel.send(msg)


def make_panel(client: HotReloadClient, transcript: Transcript, mod: str) -> str:
    """A FunctionsPanel made in a cell (so its comm last published from the main shell);
    returns its comm id."""
    reply = client.execute(
        f"import {mod}\n"
        "from ipython_hotreload.widgets import FunctionsPanel\n"
        f"panel = FunctionsPanel({mod!r})\n"
        "print('panel', panel.model_id)"
    )
    assert reply["status"] == "ok", reply
    line = next(x for x in transcript.lines if x.startswith("panel "))
    return line.split()[1]


def test_a_comm_request_is_answered_while_a_cell_runs(
    kernel: Kernel, subshell_client: HotReloadClient, transcript: Transcript, tmp_path: Path
) -> None:
    client = subshell_client
    make_package(kernel, "kb_comm")
    stop = tmp_path / "stop"
    # The cell's reload sends its events to the open comm from the main shell first: on
    # ipykernel 7.4 that alone would send the comm's later requests to the main shell.
    before = (
        "import ipython_hotreload as hr, kb_comm.mod\n"
        "hr.reload('kb_comm/mod.py', 'def f():\\n    return 2\\n', format=False)"
    )
    msg_id = start_loop(client, stop, before, show="kb_comm.mod.f()")
    read_until(client, lambda: ticked(transcript, 1))

    history = client.history()
    assert history["ok"] is True, history
    assert "done" not in transcript.lines, "the request waited for the running cell"
    assert history["result"][0]["mods"] == ["kb_comm.mod"]  # the cell's reload, just made

    # A reload reaches the engine beside the cell too: a function body is patched at once,
    # and the running program's next call runs the new code.
    reply = client.reload("kb_comm/mod.py", "def f():\n    return 3\n", format=False)
    assert reply["ok"] is True, reply
    assert reply["result"]["recompiled"][0]["mode"] == "patched"
    assert "done" not in transcript.lines, "the reload waited for the running cell"
    seen = len(transcript.lines)
    read_until(client, lambda: any(line.endswith(" 3") for line in transcript.lines[seen:]))
    finish(client, transcript, stop, msg_id)


def test_a_panel_request_is_answered_while_a_cell_runs(
    kernel: Kernel, subshell_client: HotReloadClient, transcript: Transcript, tmp_path: Path
) -> None:
    client = subshell_client
    make_package(kernel, "kb_panel")
    panel = make_panel(client, transcript, "kb_panel.mod")
    stop = tmp_path / "stop"
    msg_id = start_loop(client, stop)
    read_until(client, lambda: ticked(transcript, 1))

    request = {"type": "request", "id": 1, "op": "source", "target": "kb_panel.mod:f"}
    send_to_widget(client, panel, request, client.subshell_id)
    read_until(client, lambda: "panel reply 1" in transcript.lines)
    assert "done" not in transcript.lines, "the panel's request waited for the running cell"
    reply = transcript.replies[-1]
    assert reply["ok"] is True, reply
    assert reply["result"]["source"] == "def f():\n    return 1\n"
    assert reply["beside_cells"] is True
    finish(client, transcript, stop, msg_id)


def test_without_a_subshell_a_panel_request_waits_for_the_cell(
    kernel: Kernel, subshell_client: HotReloadClient, transcript: Transcript, tmp_path: Path
) -> None:
    # A frontend that sends no subshell_id (no subshells, or turned off): the request is
    # served by the main shell once the cell has ended, and the reply says so.
    client = subshell_client
    make_package(kernel, "kb_main")
    panel = make_panel(client, transcript, "kb_main.mod")
    stop = tmp_path / "stop"
    msg_id = start_loop(client, stop)
    read_until(client, lambda: ticked(transcript, 1))

    send_to_widget(client, panel, {"type": "request", "id": 1, "op": "ping"}, None)
    read_until(client, lambda: ticked(transcript, 10))
    assert "panel reply 1" not in transcript.lines
    finish(client, transcript, stop, msg_id)
    read_until(client, lambda: "panel reply 1" in transcript.lines)
    assert transcript.lines.index("done") < transcript.lines.index("panel reply 1")
    assert transcript.replies[-1] == {
        "type": "reply",
        "id": 1,
        "ok": True,
        "result": None,
        "beside_cells": False,
    }


def test_a_panel_request_beside_a_cell_fires_none_of_the_cells_hooks(
    kernel: Kernel, subshell_client: HotReloadClient, transcript: Transcript, tmp_path: Path
) -> None:
    # pre_execute/post_execute belong to the running cell (they clear its warning registry,
    # flush its figures); a comm callback on a subshell must not fire them.
    client = subshell_client
    make_package(kernel, "kb_hooks")
    panel = make_panel(client, transcript, "kb_hooks.mod")
    setup = (
        "import threading\n"
        "hook_threads = []\n"
        "def count_hook():\n"
        "    hook_threads.append(threading.current_thread().name)\n"
        "for event in ('pre_execute', 'post_execute'):\n"
        "    get_ipython().events.register(event, count_hook)"
    )
    assert client.execute(setup)["status"] == "ok"
    try:
        stop = tmp_path / "stop"
        msg_id = start_loop(client, stop)
        read_until(client, lambda: ticked(transcript, 1))
        send_to_widget(
            client, panel, {"type": "request", "id": 1, "op": "history"}, client.subshell_id
        )
        read_until(client, lambda: "panel reply 1" in transcript.lines)
        finish(client, transcript, stop, msg_id)
        check = "assert set(hook_threads) == {'MainThread'}, hook_threads"
        assert client.execute(check)["status"] == "ok", "a hook ran off the main thread"
    finally:
        client.execute(
            "for event in ('pre_execute', 'post_execute'):\n"
            "    get_ipython().events.unregister(event, count_hook)"
        )


def test_a_reload_being_applied_holds_up_no_other_request(
    kernel: Kernel, subshell_client: HotReloadClient
) -> None:
    # The reload runs a statement that blocks until a cell opens the gate; meanwhile a read
    # sent on the same comm is answered.
    client = subshell_client
    kernel.write("kb_gate/__init__.py", "")
    kernel.write("kb_gate/gate.py", "import threading\n\nGATE = threading.Event()\n")
    kernel.write("kb_gate/slow.py", "from kb_gate.gate import GATE\n\nX = 1\n")
    assert client.execute("import kb_gate.slow")["status"] == "ok"
    blocking = "from kb_gate.gate import GATE\n\nGATE.wait(20)\nX = 2\n"
    client.send({"id": "slow", "op": "reload", "path": "kb_gate/slow.py", "content": blocking})
    client.wait_for_event(lambda e: e["kind"] == "source_written" and e["mod"] == "kb_gate.slow")

    history = client.history()
    assert history["ok"] is True, history
    assert not any(r.get("id") == "slow" for r in client.received), "the read waited for the reload"
    assert client.execute("kb_gate.gate.GATE.set()")["status"] == "ok"
    slow = client.wait_for_reply("slow")
    assert slow["ok"] is True, slow
    assert client.execute("assert kb_gate.slow.X == 2")["status"] == "ok"
