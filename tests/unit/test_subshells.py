"""Answering requests beside a running cell (``ipython_hotreload.subshells``): where each
request is answered, that a reload being applied holds up no other request, and the bounds.

A thread other than the main one stands for a kernel subshell here; the real kernel is in
``tests/kernel/test_beside_cells.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ipython_hotreload.subshells import RequestServer, on_main_thread, serve_beside_cells

WAIT = 10.0  # seconds any event of these tests may take on a loaded machine


class Channel:
    """A request server over plain functions: ``answer`` blocks on ``gate`` for op
    "reload", and every reply is recorded with the thread that made it."""

    def __init__(self, limit: int = 8) -> None:
        self.gate = threading.Event()
        self.replies: list[tuple[dict[str, Any], str]] = []
        self.replied = threading.Condition()
        self.server = RequestServer(
            self.answer,
            self.send,
            changes=lambda r: isinstance(r, dict) and r.get("op") == "reload",
            name="test",
            limit=limit,
        )

    def answer(self, request: object) -> dict[str, Any]:
        assert isinstance(request, dict)
        if request.get("op") == "crash":
            raise RuntimeError("a bug")
        if request.get("op") == "reload":
            assert self.gate.wait(WAIT), "the gate was never opened"
        return {"type": "reply", "id": request["id"], "ok": True, "result": request["op"]}

    def send(self, reply: Any) -> None:
        with self.replied:
            self.replies.append((dict(reply), threading.current_thread().name))
            self.replied.notify_all()

    def reply_to(self, request_id: object) -> tuple[dict[str, Any], str]:
        def found() -> list[tuple[dict[str, Any], str]]:
            return [r for r in self.replies if r[0]["id"] == request_id]

        with self.replied:
            assert self.replied.wait_for(found, WAIT), f"no reply to {request_id!r}"
            (reply,) = found()
            return reply

    def ids(self) -> list[object]:
        with self.replied:
            return [reply["id"] for reply, _thread in self.replies]


def from_subshell(submit: Callable[[object], None], *requests: object) -> None:
    """Submit ``requests`` in order from a thread standing for a kernel subshell."""
    thread = threading.Thread(target=lambda: [submit(r) for r in requests], name="subshell")
    thread.start()
    thread.join(WAIT)
    assert not thread.is_alive(), "submitting blocked the subshell"


@pytest.fixture
def channel() -> Iterator[Channel]:
    c = Channel()
    yield c
    c.gate.set()
    assert c.server.close(WAIT)


def test_on_the_main_thread_every_request_is_answered_where_it_arrived(channel: Channel) -> None:
    assert on_main_thread()
    channel.gate.set()
    channel.server.submit({"id": 1, "op": "history"})
    channel.server.submit({"id": 2, "op": "reload"})
    assert channel.replies == [
        ({"type": "reply", "id": 1, "ok": True, "result": "history"}, "MainThread"),
        ({"type": "reply", "id": 2, "ok": True, "result": "reload"}, "MainThread"),
    ]


def test_beside_the_cell_a_reload_being_applied_holds_up_no_read(channel: Channel) -> None:
    from_subshell(channel.server.submit, {"id": "r", "op": "reload"}, {"id": "h", "op": "history"})
    _reply, thread = channel.reply_to("h")
    assert thread == "subshell"  # a read: answered where it arrived
    assert channel.ids() == ["h"]  # the reload is still being applied
    assert channel.server.running == 1
    channel.gate.set()
    reply, thread = channel.reply_to("r")
    assert reply["ok"] is True
    assert thread == "hotreload-test"  # on a thread of its own


def test_too_many_reloads_at_once_are_refused_with_one_reply(channel: Channel) -> None:
    small = Channel(limit=1)
    try:
        from_subshell(small.server.submit, {"id": 1, "op": "reload"}, {"id": 2, "op": "reload"})
        refused, _thread = small.reply_to(2)
        assert refused["ok"] is False
        assert refused["error"]["type"] == "Busy"
        assert "still being applied" in refused["error"]["message"]
        small.gate.set()
        assert small.reply_to(1)[0]["ok"] is True
    finally:
        small.gate.set()
        assert small.server.close(WAIT)


def test_a_closed_server_refuses_reloads_and_still_answers_reads(channel: Channel) -> None:
    channel.server.close()
    from_subshell(channel.server.submit, {"id": 1, "op": "reload"}, {"id": 2, "op": "history"})
    assert channel.reply_to(1)[0]["error"]["type"] == "Busy"
    assert channel.reply_to(2)[0]["ok"] is True


def test_an_answer_that_raises_still_gets_one_error_reply(
    channel: Channel, caplog: pytest.LogCaptureFixture
) -> None:
    crash = RequestServer(channel.answer, channel.send, changes=lambda r: True, name="test")
    from_subshell(crash.submit, {"id": "c", "op": "crash"})
    reply, _thread = channel.reply_to("c")
    assert reply["ok"] is False
    assert reply["error"] == {"type": "RuntimeError", "message": "a bug"}
    assert crash.close(WAIT)
    assert "answering a test request failed" in caplog.text


def test_accepted_messages_go_to_the_handler_and_the_others_to_the_comm() -> None:
    # Outside a kernel the comm package makes a DummyComm: no routing hook to override
    # (nor has ipykernel 6 or 7.0-7.3 one), and the handler is installed all the same. The
    # routing hook of ipykernel 7.4 is checked in test_private_apis.py.
    import comm as comm_package

    comm = comm_package.create_comm(target_name="hotreload-test")
    others: list[object] = []
    comm.on_msg(others.append)
    handled: list[object] = []
    assert serve_beside_cells(comm, lambda data: data == {"ours": 1}, handled.append) is False
    ours = {"content": {"comm_id": comm.comm_id, "data": {"ours": 1}}}
    other = {"content": {"comm_id": comm.comm_id, "data": {"other": 1}}}
    comm.handle_msg(ours)
    comm.handle_msg(other)
    assert handled == [ours]
    assert others == [other]
