"""The comm channel (SPEC 2.1) against a real kernel, driven as a frontend drives it."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

import pytest

from ipython_hotreload.client import HotReloadClient
from tests.kernel.conftest import Kernel

pytestmark = pytest.mark.kernel

MOD_V1 = "def f():\n    return 1\n"
MOD_V2 = "def f():\n    return 2\n\n\ndef g(x: int = 1) -> int:\n    return x\n"


def run(client: HotReloadClient, code: str) -> None:
    """Run ``code`` in the kernel; it must succeed."""
    reply = client.execute(code)
    assert reply["status"] == "ok", reply


def make_package(kernel: Kernel, name: str) -> None:
    """``name.mod`` (f) and ``name.user`` (calls f at import time)."""
    kernel.write(f"{name}/__init__.py", "")
    kernel.write(f"{name}/mod.py", MOD_V1)
    kernel.write(f"{name}/user.py", f"from {name}.mod import f\n\nX = f()\n")


def read_until(client: HotReloadClient, done: Callable[[], bool], timeout: float = 10) -> None:
    """Read the client's IOPub until ``done()``."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out reading IOPub"
        client.pump(timeout=0.5)


def events_of(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(m["event"]["kind"], m["event"]["mod"]) for m in messages if m["type"] == "event"]


@pytest.fixture
def client(kernel: Kernel) -> HotReloadClient:
    c = kernel.hotreload_client()
    c.open()
    return c


def test_open_answers_hello(kernel: Kernel) -> None:
    c = kernel.hotreload_client()
    hello = c.open()
    assert hello == {"type": "hello", "protocol": 1, "ops": hello["ops"]}
    assert set(hello["ops"]) >= {"reload", "source", "reload_definition", "history", "undo"}
    assert c.supports("undo") and not c.supports("exec")


def test_reload_sends_the_events_then_one_reply(kernel: Kernel, client: HotReloadClient) -> None:
    make_package(kernel, "kp_reload")
    run(client, "import kp_reload.user, kp_reload.mod\nheld = kp_reload.mod.f")
    client.received.clear()
    reply = client.reload("kp_reload/mod.py", MOD_V2, format=False)

    assert reply["ok"] is True, reply
    assert list(client.received)[-1] == reply
    assert events_of(list(client.received)) == [
        ("source_written", "kp_reload.mod"),
        ("recompiled", "kp_reload.mod"),
        ("recompiled", "kp_reload.user"),
    ]
    saved, dependent = reply["result"]["recompiled"]
    data = (kernel.root / "kp_reload/mod.py").read_bytes()
    assert saved["source_hash"] == hashlib.sha256(data).hexdigest()
    assert [fn["name"] for fn in saved["functions"]] == ["f", "g"]
    assert dependent["mod"] == "kp_reload.user" and dependent["functions"] is None
    assert dependent["reason"]["after"] == "kp_reload.mod"
    # The event carries the same payload the reply does.
    recompiled = [m["event"] for m in client.received if m["type"] == "event"][1]
    assert recompiled["payload"] == saved
    run(client, "assert held() == 2 and held is kp_reload.mod.f and kp_reload.user.X == 2")


def test_relative_paths_are_taken_from_the_kernels_working_directory(
    kernel: Kernel, client: HotReloadClient
) -> None:
    reply = client.reload("kp_relative.py", "VALUE = 7\n", format=False)
    assert reply["ok"], reply
    assert (kernel.root / "kp_relative.py").read_text() == "VALUE = 7\n"
    run(client, "import kp_relative\nassert kp_relative.VALUE == 7")


def test_a_failed_reload_replies_with_the_error(kernel: Kernel, client: HotReloadClient) -> None:
    make_package(kernel, "kp_fail")
    run(client, "import kp_fail.mod")
    client.received.clear()
    reply = client.reload("kp_fail/mod.py", "def f(:\n    return 3\n", format=False)
    assert reply["ok"] is False
    error = reply["error"]
    assert error["type"] == "ReloadError"
    assert error["mod"] == "kp_fail.mod" and error["lineno"] == 1
    assert error["path"].endswith("kp_fail/mod.py")
    assert error["cause"]["type"] == "SyntaxError"
    assert events_of(list(client.received)) == [
        ("source_written", "kp_fail.mod"),
        ("compile_failed", "kp_fail.mod"),
    ]
    run(client, "assert kp_fail.mod.f() == 1")
    # Put a good text back: a broken file on disk would fail every later reload in the kernel.
    assert client.reload("kp_fail/mod.py", MOD_V1, format=False)["ok"]


def test_refused_path_replies_unsafe_path_error(client: HotReloadClient) -> None:
    reply = client.reload("../outside/evil.py", "x = 1\n")
    assert reply["ok"] is False
    assert reply["error"]["type"] == "UnsafePathError"
    assert reply["error"]["path"] == "../outside/evil.py"


def test_purge_edges_and_functions(kernel: Kernel, client: HotReloadClient) -> None:
    make_package(kernel, "kp_ops")
    run(client, "import kp_ops.user")

    edges = client.edges()
    assert edges["ok"], edges
    assert {"from": "kp_ops.user", "to": "kp_ops.mod", "label": "compile"} in edges["result"]
    only_runtime = client.edges(labels=["runtime"])
    assert all(e["label"] == "runtime" for e in only_runtime["result"])

    functions = client.functions("kp_ops.mod")
    assert functions["ok"], functions
    assert [(fn["name"], fn["signature"]) for fn in functions["result"]] == [("f", "()")]

    client.received.clear()
    purged = client.purge("kp_ops.user")
    assert purged == {
        "type": "reply",
        "id": purged["id"],
        "ok": True,
        "result": {"mod": "kp_ops.user"},
    }
    assert events_of(list(client.received)) == [("source_removed", "kp_ops.user")]
    run(client, "import sys\nassert 'kp_ops.user' not in sys.modules")


def test_hotreload_cell_events_reach_an_open_comm(kernel: Kernel, client: HotReloadClient) -> None:
    make_package(kernel, "kp_cell")
    run(client, "import kp_cell.mod")
    run(client, "%%hotreload kp_cell/mod.py --quiet\n" + MOD_V2)
    event = client.wait_for_event(lambda e: e["kind"] == "recompiled" and e["mod"] == "kp_cell.mod")
    assert [fn["name"] for fn in event["payload"]["functions"]] == ["f", "g"]


def test_execute_interactive_hands_cell_events_to_the_output_hook(
    kernel: Kernel, client: HotReloadClient
) -> None:
    # Comm messages sent while a cell runs have that cell as their parent, so a frontend that
    # runs cells through execute_interactive must take them from its output_hook.
    make_package(kernel, "kp_hook")
    run(client, "import kp_hook.mod")
    reply = client.kernel_client.execute_interactive(
        "%%hotreload kp_hook/mod.py --quiet\n" + MOD_V2, output_hook=client.output_hook, timeout=60
    )
    assert reply["content"]["status"] == "ok"
    kinds = [(e["kind"], e["mod"]) for e in client.events()]
    assert kinds == [("source_written", "kp_hook.mod"), ("recompiled", "kp_hook.mod")]


BAD_MESSAGES: list[tuple[Any, Any, str]] = [
    # (data sent, id expected in the reply, words expected in the message)
    ("reload please", None, "must be a JSON object, not str"),
    ([1, 2, 3], None, "must be a JSON object, not list"),
    (None, None, "must be a JSON object, not null"),
    ({"op": "edges"}, None, "missing field 'id'"),
    ({"id": 1}, 1, "unknown op null"),
    ({"id": 2, "op": "explode"}, 2, "unknown op 'explode'"),
    ({"id": {"nested": [1]}, "op": 3}, {"nested": [1]}, "unknown op int"),
    ({"id": 4, "op": "reload", "path": "a.py"}, 4, "missing field 'content'"),
    ({"id": 5, "op": "reload", "path": 5, "content": ""}, 5, "'path' must be a string, not int"),
    ({"id": 6, "op": "reload", "path": "", "content": ""}, 6, "'path' is empty"),
    ({"id": 7, "op": "reload", "path": "a.py", "content": "", "format": "yes"}, 7, "'format'"),
    ({"id": 8, "op": "reload", "path": "a.py", "content": ["x"]}, 8, "'content' must be a string"),
    ({"id": 9, "op": "purge"}, 9, "missing field 'mod'"),
    ({"id": 10, "op": "purge", "mod": "not a module"}, 10, "dotted module name"),
    ({"id": 11, "op": "functions", "mod": None}, 11, "'mod' must be a string, not null"),
    ({"id": 12, "op": "edges", "labels": "compile"}, 12, "list of strings"),
    ({"id": 13, "op": "edges", "labels": ["sometimes"]}, 13, "unknown labels"),
]


def test_malformed_messages_get_error_replies(kernel: Kernel, client: HotReloadClient) -> None:
    for data, expected_id, words in BAD_MESSAGES:
        client.send(data)
        reply = client.wait_for_reply(expected_id, timeout=10)
        assert reply["ok"] is False, (data, reply)
        assert reply["error"]["type"] == "BadRequest", (data, reply)
        assert words in reply["error"]["message"], (data, reply)
    # The comm and the kernel both still work.
    assert client.edges()["ok"]
    run(client, "assert 1 + 1 == 2")


def test_nul_in_path_and_huge_content_are_refused(kernel: Kernel, client: HotReloadClient) -> None:
    reply = client.reload("kp_nul\x00.py", "x = 1\n")
    assert reply["ok"] is False and reply["error"]["type"] == "UnsafePathError"
    huge = "x = 1\n" * (2 * 1024 * 1024)  # 12 MiB
    reply = client.reload("kp_huge.py", huge, timeout=60)
    assert reply["ok"] is False and reply["error"]["type"] == "BadRequest"
    assert "limit" in reply["error"]["message"]
    assert not (kernel.root / "kp_huge.py").exists()
    run(client, "assert 2 * 2 == 4")


def send_doctored(client: HotReloadClient, data: dict[str, Any], old: bytes, new: bytes) -> None:
    """Send ``data`` on the comm with ``old`` replaced by ``new`` in the JSON bytes on the
    wire (re-signed), to put there what no well-behaved JSON encoder would."""
    kc = client.kernel_client
    session = kc.session
    msg = session.msg("comm_msg", {"comm_id": client.comm_id, "data": data})
    frames = session.serialize(msg)
    at = frames.index(session.pack(msg["content"]))
    assert old in frames[at]
    frames[at] = frames[at].replace(old, new)
    frames[at - 4] = session.sign(frames[at - 3 : at + 1])
    kc.shell_channel.socket.send_multipart(frames)


def test_lone_surrogate_in_content_gets_an_error_reply(
    kernel: Kernel, client: HotReloadClient
) -> None:
    # A browser's JSON.stringify escapes a lone surrogate as \ud800: valid JSON, not UTF-8.
    data = {"id": "surrogate", "op": "reload", "path": "kp_sur.py", "content": "x = 'HOLE'\n"}
    send_doctored(client, data, b"HOLE", b"\\ud800")
    reply = client.wait_for_reply("surrogate")
    assert reply["ok"] is False and reply["error"]["type"] == "BadRequest"
    assert "not valid UTF-8" in reply["error"]["message"]
    assert not (kernel.root / "kp_sur.py").exists()


def test_invalid_utf8_bytes_leave_kernel_and_comm_alive(client: HotReloadClient) -> None:
    # Bytes that are not UTF-8 are the session's business (it decodes with replacement); what
    # matters here is that the kernel and the comm go on working.
    send_doctored(client, {"id": "HOLE", "op": "edges"}, b"HOLE", b"\xff\xfe")
    assert client.edges()["ok"]
    replies = [m for m in client.received if m["type"] == "reply"]
    assert all(set(m) >= {"id", "ok"} for m in replies)
    run(client, "assert 3 * 3 == 9")


def test_two_comms_both_receive_every_event_in_order(kernel: Kernel) -> None:
    kernel.write("kp_two.py", MOD_V1)
    first, second = kernel.hotreload_client(), kernel.hotreload_client()
    first.open()
    second.open()
    run(first, "import kp_two")
    reply = first.reload("kp_two.py", MOD_V2, format=False)
    assert reply["ok"], reply
    run(second, "%%hotreload kp_two.py --quiet\n" + MOD_V1)
    reply = first.reload("kp_two.py", MOD_V2, format=False)
    assert reply["ok"], reply
    expected = [("source_written", "kp_two"), ("recompiled", "kp_two")] * 3
    assert events_of(list(first.received)) == expected
    # The second frontend has read up to its cell's end; read on to the first's last reply.
    read_until(second, lambda: len(events_of(list(second.received))) >= len(expected))
    assert events_of(list(second.received)) == expected
    # Replies go only to the comm that asked.
    assert [m for m in second.received if m["type"] == "reply"] == []


def test_a_closed_comm_stops_receiving_events(kernel: Kernel) -> None:
    make_package(kernel, "kp_closed")
    staying, leaving = kernel.hotreload_client(), kernel.hotreload_client()
    staying.open()
    leaving.open()
    open_comms = "[c.comm_id for c in loaded(get_ipython()).channel.comms]"
    run(staying, "from ipython_hotreload.ipython.extension import loaded")
    run(staying, f"assert {leaving.comm_id!r} in {open_comms}")
    leaving.close()
    # Asked on the same connection as the close, so the kernel has handled the close by then.
    run(leaving, f"assert {leaving.comm_id!r} not in {open_comms}")
    # Every frontend sees all IOPub traffic: `leaving` reads until the staying comm's reply,
    # so anything sent to its own comm during the reload would have arrived before.
    seen: list[dict[str, Any]] = []
    leaving.on_other = seen.append
    reply = staying.reload("kp_closed/mod.py", MOD_V2, format=False)
    assert reply["ok"], reply

    def saw_reply() -> bool:
        return any(
            m.get("msg_type") == "comm_msg" and m["content"]["data"].get("id") == reply["id"]
            for m in seen
        )

    read_until(leaving, saw_reply)
    assert events_of(list(leaving.received)) == []
    assert events_of(list(staying.received))[-1] == ("recompiled", "kp_closed.mod")


def test_unload_closes_open_comms_and_load_serves_again(kernel: Kernel) -> None:
    c = kernel.hotreload_client()
    c.open()
    try:
        run(c, "%unload_ext ipython_hotreload")
        read_until(c, lambda: c.closed)
        run(c, "import comm\nassert 'ipython_hotreload' not in comm.get_comm_manager().targets")
    finally:
        run(c, "%load_ext ipython_hotreload\n%config HotReload.formatter = None")
    again = kernel.hotreload_client()
    assert again.open()["protocol"] == 1
    assert again.edges()["ok"]


def test_a_big_graph_build_in_the_kernel_uses_worker_processes(
    kernel: Kernel, client: HotReloadClient
) -> None:
    """600 new modules (past the size that starts workers): where there is a spare CPU, the
    kernel's reloader scans them with worker processes too, and its edges are those of a
    build in one process."""
    kernel.write("kp_big/__init__.py", "")
    padding = "# " + "x" * 1200 + "\n"
    for k in range(600):
        kernel.write(
            f"kp_big/m{k}.py",
            f"from kp_big.m{k // 2} import X as base\n{padding}X = base + 1\n"
            if k
            else f"{padding}X = 0\n",
        )
    edges = client.edges()
    assert edges["ok"], edges
    big = [e for e in edges["result"] if e["from"].startswith("kp_big.")]
    assert len(big) == 599 and all(e["label"] == "compile" for e in big)
    run(
        client,
        "import ipython_hotreload as hr\n"
        "from ipython_hotreload.core.graph.modulegraph import ModuleGraph\n"
        "from ipython_hotreload.core.graph.scanpool import available_workers\n"
        "graph = hr.default_reloader().graph\n"
        "spare = available_workers()  # 1 on a 2-core machine, as here and in CI\n"
        "assert (graph.files_by_workers > 0) == (spare > 0), (graph.files_by_workers, spare)\n"
        "alone = ModuleGraph(graph.roots, use_cache=False, workers=0)\n"
        "assert [e for e in alone.edges() if e.from_.startswith('kp_big.')] == [\n"
        "    e for e in graph.edges(refresh=False) if e.from_.startswith('kp_big.')]\n",
    )


def test_source_reload_definition_history_and_undo(kernel: Kernel, client: HotReloadClient) -> None:
    make_package(kernel, "kp_edit")
    run(client, "import kp_edit.user, kp_edit.mod\nheld = kp_edit.mod.f")
    reply = client.source("kp_edit.mod:f")
    assert reply["ok"], reply
    assert reply["result"] == {
        "mod": "kp_edit.mod",
        "path": str(kernel.root / "kp_edit/mod.py"),
        "qualname": "f",
        "lineno": 1,
        "end_lineno": 2,
        "source": MOD_V1,
        "source_hash": hashlib.sha256(MOD_V1.encode()).hexdigest(),
    }
    client.received.clear()
    opened = reply["result"]["source_hash"]
    reply = client.reload_definition(
        "kp_edit.mod:f", "def f():\n    return 7\n", format=False, expected_hash=opened
    )
    assert reply["ok"], reply
    assert list(client.received)[-1] == reply
    assert ("recompiled", "kp_edit.mod") in events_of(list(client.received))
    assert reply["result"]["definition"]["qualname"] == "f"
    run(client, "assert held() == 7 and kp_edit.mod.f is held")
    # A second editor that opened f before that save is told, and writes nothing.
    stale = client.reload_definition(
        "kp_edit.mod:f", "def f():\n    return 8\n", format=False, expected_hash=opened
    )
    assert stale["ok"] is False and stale["error"]["type"] == "ConflictError", stale
    assert stale["error"]["current"] == "def f():\n    return 7\n"
    run(client, "assert held() == 7")
    history = client.history()["result"]
    assert history[0]["origin"] == "definition" and history[0]["mods"][0] == "kp_edit.mod"
    reply = client.undo()
    assert reply["ok"], reply
    assert reply["result"]["undone"] == [history[0]["id"]]
    run(client, "assert held() == 1")
    assert (kernel.root / "kp_edit/mod.py").read_text() == MOD_V1
    assert client.undo(steps=1)["ok"]  # undoing the undo redoes
    run(client, "assert held() == 7")


def test_edit_errors_reply_with_the_line_and_write_nothing(
    kernel: Kernel, client: HotReloadClient
) -> None:
    make_package(kernel, "kp_bad")
    path = kernel.root / "kp_bad/mod.py"
    reply = client.reload_definition("kp_bad.mod:f", "def f(:\n    pass\n")
    assert reply["ok"] is False
    assert reply["error"]["type"] == "HotReloadError" and reply["error"]["lineno"] == 1
    assert "does not parse" in reply["error"]["message"]
    assert path.read_text() == MOD_V1
    reply = client.source("kp_bad.mod:nothing")
    assert reply["ok"] is False and "no definition nothing" in reply["error"]["message"]
    for bad in ({"op": "undo", "steps": 0}, {"op": "source"}, {"op": "undo", "force": "yes"}):
        bad_reply = client.request(bad.pop("op"), **bad)
        assert bad_reply["ok"] is False and bad_reply["error"]["type"] == "BadRequest", bad_reply


def test_edit_magic_asks_the_frontend_for_a_next_cell(
    kernel: Kernel, client: HotReloadClient
) -> None:
    make_package(kernel, "kp_next")
    reply = client.execute("%hotreload edit kp_next.mod:f")
    assert reply["status"] == "ok", reply
    [payload] = [p for p in reply["payload"] if p["source"] == "set_next_input"]
    assert payload["text"] == "%%hotreload kp_next.mod:f\n" + MOD_V1
    assert payload["replace"] is False
    reply = client.execute(payload["text"].replace("return 1", "return 5"))
    assert reply["status"] == "ok", reply
    run(client, "import kp_next.mod\nassert kp_next.mod.f() == 5")
