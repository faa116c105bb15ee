"""Hostile comm messages: random JSON, wrong types, missing ids, huge payloads, unknown ops.

Through :meth:`CommChannel.handle` (one message in, one reply out) and through a real
``comm`` object (the ``comm`` package's ``BaseComm``, with a ``publish_msg`` that packs each
message as the kernel's session does): every message gets exactly one reply carrying its
``id`` (``null`` when it has none), the reply survives JSON packing, the channel never raises,
and nothing outside the project root is written.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from comm.base_comm import BaseComm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jupyter_client.session import json_packer

from ipython_hotreload.ipython.comm import CommChannel
from ipython_hotreload.ipython.protocol import MAX_CONTENT_BYTES, OPS
from tests.conftest import Project
from tests.reliability.conftest import tree_state

FUZZ = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


class RecordingComm(BaseComm):
    """A kernel-side comm whose messages are packed like the kernel's session packs them."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        super().__init__(target_name="ipython_hotreload", primary=False)

    def publish_msg(
        self,
        msg_type: str,
        data: Any = None,
        metadata: Any = None,
        buffers: Any = None,
        **keys: Any,
    ) -> None:
        packed = json_packer({"data": data, "comm_id": self.comm_id, **keys})
        self.sent.append({"msg_type": msg_type, **json.loads(packed)})

    def replies(self) -> list[dict[str, Any]]:
        return [m["data"] for m in self.sent if m["data"].get("type") == "reply"]


class Channel:
    """A :class:`CommChannel` serving the project's reloader, and a watch on the temp tree."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.channel = CommChannel(lambda: project.reloader)
        self.top = project.root.parent
        (self.top / "outside").mkdir(exist_ok=True)
        (self.top / "outside" / "victim.py").write_text("VICTIM = 1\n")
        project.write("pkg/__init__.py", "")
        project.write("pkg/mod.py", "def f():\n    return 1\n")
        project.import_("pkg.mod")

    def outside(self) -> dict[str, tuple[int, int, int, int]]:
        return tree_state(self.top, skip=self.project.root)

    def handle(self, data: Any) -> dict[str, Any]:
        """One message through ``handle``: exactly one well-formed reply, JSON-packable."""
        try:
            reply = self.channel.handle(data)
        except BaseException as exc:
            raise AssertionError(f"handle() raised {type(exc).__name__} on {data!r}") from exc
        check_reply(reply, data)
        return dict(reply)


def check_reply(reply: Any, data: Any) -> None:
    assert isinstance(reply, dict) and reply.get("type") == "reply", reply
    expected_id = data.get("id") if isinstance(data, dict) else None
    assert reply["id"] == expected_id, (reply["id"], expected_id)
    assert reply["ok"] in (True, False)
    if reply["ok"]:
        assert "result" in reply
    else:
        error = reply["error"]
        assert isinstance(error["type"], str) and error["type"], reply
        assert isinstance(error["message"], str) and error["message"], reply
    json.loads(json_packer(reply))  # what the kernel would put on the wire


@pytest.fixture
def channel(project: Project, monkeypatch: pytest.MonkeyPatch) -> Iterator[Channel]:
    # Relative paths in requests are relative to the kernel's working directory.
    monkeypatch.chdir(project.root)
    c = Channel(project)
    c.channel.open()  # registers the target and forwards events to open comms
    yield c
    c.channel.close()


# -- random messages ---------------------------------------------------------------------


def defuse(msg: Any, outside: str) -> Any:
    """Keep generated requests on this test's own files: a purge may only name the project's
    modules (purging a real library would reach into the Python installation)."""
    if not isinstance(msg, dict):
        return msg
    msg = {k: v.replace("{outside}", outside) if isinstance(v, str) else v for k, v in msg.items()}
    mod = msg.get("mod")
    if isinstance(mod, str) and mod in sys.modules and not mod.startswith("pkg"):
        msg["mod"] = "not_loaded_" + mod.replace(".", "_")
    return msg


@FUZZ
@given(data=JSON)
def test_random_json_gets_one_error_reply(channel: Channel, data: Any) -> None:
    data = defuse(data, str(channel.top / "outside"))
    before = channel.outside()
    reply = channel.handle(data)
    assert channel.outside() == before
    if not (isinstance(data, dict) and data.get("op") in OPS):
        assert reply["ok"] is False


FIELD_VALUES = JSON | st.sampled_from(
    [
        "pkg/mod.py",
        "pkg/new.py",
        "../outside/victim.py",
        "../outside/evil.py",
        "{outside}/victim.py",
        "pkg/mod.txt",
        "pkg",
        "pkg/mod.py\x00",
        "pkg.mod",
        "no.such.module",
        "def f():\n    return 2\n",
        "def (:\n",
        "raise SystemExit\n",
        "x = '\ud800'\n",
        ["compile"],
        ["bogus"],
        "compile",
        "pkg.mod:f",
        "pkg/mod.py::C.m",
        "../outside/victim.py::f",
        1,
        -1,
        True,
    ]
)


@st.composite
def request_like(draw: st.DrawFn) -> dict[str, Any]:
    """Something close to a request: a known op (mostly), fields of right and wrong types,
    fields left out, extra fields."""
    msg: dict[str, Any] = {}
    if draw(st.integers(0, 4)):
        msg["id"] = draw(JSON)
    msg["op"] = draw(st.sampled_from([*OPS, *OPS, "Reload", "", "exec", None, 3]))
    keys = ["path", "content", "format", "mod", "labels", "target", "steps", "force", "x"]
    for key in draw(st.sets(st.sampled_from(keys))):
        msg[key] = draw(FIELD_VALUES)
    return msg


@FUZZ
@given(msg=request_like())
def test_request_like_messages_get_one_reply_and_write_nothing_outside(
    channel: Channel, msg: dict[str, Any]
) -> None:
    msg = defuse(msg, str(channel.top / "outside"))
    before = channel.outside()
    victim = (channel.top / "outside" / "victim.py").read_bytes()
    reply = channel.handle(msg)
    assert channel.outside() == before
    assert (channel.top / "outside" / "victim.py").read_bytes() == victim
    if not reply["ok"] and reply["error"]["type"] not in ("BadRequest",):
        # Errors from the engine are the documented ones, described for the frontend.
        assert reply["error"]["type"] in (
            "UnsafePathError",
            "SourceWriteError",
            "ReloadError",
            "HotReloadError",
        ), reply


# -- specific hostile messages -------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reply_id"),
    [
        (None, None),
        ([], None),
        ("reload", None),
        (42, None),
        ({}, None),
        ({"op": "reload", "path": "pkg/mod.py", "content": ""}, None),
        ({"id": 1}, 1),
        ({"id": "a", "op": "nope"}, "a"),
        ({"id": 2, "op": "reload", "path": 3, "content": "x"}, 2),
        ({"id": 3, "op": "reload", "path": "pkg/mod.py"}, 3),
        ({"id": 4, "op": "reload", "path": "pkg/mod.py", "content": b"x"}, 4),
        ({"id": 5, "op": "reload", "path": "pkg/mod.py", "content": "x", "format": "yes"}, 5),
        ({"id": 6, "op": "purge"}, 6),
        ({"id": 7, "op": "purge", "mod": "../etc"}, 7),
        ({"id": 8, "op": "functions", "mod": 1}, 8),
        ({"id": 9, "op": "edges", "labels": "compile"}, 9),
        ({"id": 10, "op": "edges", "labels": ["bogus"]}, 10),
        ({"id": 11, "op": "reload", "path": "", "content": "x"}, 11),
        ({"id": 12, "op": "reload", "path": "pkg/mod.py", "content": "x = '\ud800'"}, 12),
    ],
)
def test_malformed_messages_get_a_bad_request_reply(
    channel: Channel, data: Any, reply_id: Any
) -> None:
    reply = channel.handle(data)
    assert reply["ok"] is False and reply["id"] == reply_id
    assert reply["error"]["type"] == "BadRequest", reply
    assert sys.modules["pkg.mod"].f() == 1


def test_oversize_content_is_refused_before_anything_is_written(channel: Channel) -> None:
    path = channel.project.path("pkg/mod.py")
    before = path.read_bytes()
    content = "#" * (MAX_CONTENT_BYTES + 1)
    reply = channel.handle({"id": 1, "op": "reload", "path": "pkg/mod.py", "content": content})
    assert reply["ok"] is False and reply["error"]["type"] == "BadRequest"
    assert "limit" in reply["error"]["message"]
    assert path.read_bytes() == before
    # Multi-byte text: the limit is on the UTF-8 bytes, not the characters.
    wide = "é" * (MAX_CONTENT_BYTES // 2 + 1)
    reply = channel.handle({"id": 2, "op": "reload", "path": "pkg/mod.py", "content": wide})
    assert reply["ok"] is False and reply["error"]["type"] == "BadRequest"
    assert path.read_bytes() == before


def test_oversize_path_and_huge_id(channel: Channel) -> None:
    reply = channel.handle({"id": 1, "op": "reload", "path": "a/" * 3000 + "x.py", "content": ""})
    assert reply["ok"] is False and reply["error"]["type"] == "BadRequest"
    huge_id = "i" * 1_000_000
    reply = channel.handle({"id": huge_id, "op": "edges"})
    assert reply["ok"] is True and reply["id"] == huge_id
    nested_id = [1, {"x": None, "y": [True, 2.5, "z"]}]
    reply = channel.handle({"id": nested_id, "op": "edges"})
    assert reply["ok"] is True and reply["id"] == nested_id


@pytest.mark.parametrize(
    "path",
    ["../outside/victim.py", "../outside/evil.py", "{outside}/victim.py", "pkg", "pkg/mod.txt"],
)
def test_reload_requests_outside_the_root_are_refused(channel: Channel, path: str) -> None:
    path = path.replace("{outside}", str(channel.top / "outside"))
    before = channel.outside()
    reply = channel.handle({"id": 1, "op": "reload", "path": path, "content": "EVIL = 1\n"})
    assert reply["ok"] is False
    assert reply["error"]["type"] == "UnsafePathError", reply
    assert reply["error"]["path"] and reply["error"]["reason"]
    assert channel.outside() == before


def test_a_failing_reload_request_describes_the_failure(channel: Channel) -> None:
    reply = channel.handle(
        {"id": "r", "op": "reload", "path": "pkg/mod.py", "content": "def f(:\n"}
    )
    assert reply["ok"] is False and reply["error"]["type"] == "ReloadError"
    assert reply["error"]["mod"] == "pkg.mod" and reply["error"]["lineno"] == 1
    assert sys.modules["pkg.mod"].f() == 1


def test_purge_of_a_module_outside_the_roots_deletes_nothing_outside(
    channel: Channel,
) -> None:
    """A frontend can name any module in a purge request; the bytecode of a library (here a
    copy, on ``sys.path`` but not in the roots) must not be deleted on its say-so."""
    site = channel.top / "site"
    site.mkdir()
    (site / "library_mod.py").write_text("X = 1\n")
    import importlib.util
    import py_compile

    pyc = Path(importlib.util.cache_from_source(str(site / "library_mod.py")))
    py_compile.compile(str(site / "library_mod.py"), cfile=str(pyc), doraise=True)
    sys.path.append(str(site))
    channel.project.import_("library_mod")
    before = channel.outside()
    reply = channel.handle({"id": 1, "op": "purge", "mod": "library_mod"})
    assert reply["ok"] in (True, False)
    assert pyc.exists(), "purge deleted the bytecode of a module outside the roots"
    assert channel.outside() == before


# -- through a real comm -------------------------------------------------------------------


@pytest.fixture
def opened(channel: Channel) -> RecordingComm:
    comm = RecordingComm()
    channel.channel._on_comm_open(comm, {"content": {"data": {}}})
    assert comm.sent and comm.sent[0]["data"] == {"type": "hello", "protocol": 1, "ops": list(OPS)}
    return comm


def _deliver(comm: RecordingComm, data: Any) -> list[dict[str, Any]]:
    start = len(comm.sent)
    comm.handle_msg({"content": {"comm_id": comm.comm_id, "data": data}})
    return [m["data"] for m in comm.sent[start:]]


@settings(FUZZ, max_examples=60)
@given(data=JSON | request_like())
def test_every_comm_message_gets_exactly_one_reply(
    channel: Channel, opened: RecordingComm, data: Any
) -> None:
    data = defuse(data, str(channel.top / "outside"))
    before = channel.outside()
    out = _deliver(opened, data)
    replies = [m for m in out if m.get("type") == "reply"]
    assert len(replies) == 1, out
    check_reply(replies[0], data)
    # Events caused by the request come before its reply.
    assert out[-1] is replies[0] or out[-1] == replies[0]
    assert channel.outside() == before


def test_events_and_reply_of_a_request_arrive_in_order_on_every_comm(
    channel: Channel, opened: RecordingComm
) -> None:
    second = RecordingComm()
    channel.channel._on_comm_open(second, {})
    out = _deliver(
        opened,
        {"id": 7, "op": "reload", "path": "pkg/mod.py", "content": "def f():\n    return 2\n"},
    )
    assert [m["type"] for m in out] == ["event", "event", "reply"]
    assert [m["event"]["kind"] for m in out[:2]] == ["source_written", "recompiled"]
    assert out[-1]["ok"] is True and out[-1]["id"] == 7
    assert [m["data"]["type"] for m in second.sent] == ["hello", "event", "event"]
    assert sys.modules["pkg.mod"].f() == 2


def test_a_keyboard_interrupt_while_serving_still_replies(
    channel: Channel, opened: RecordingComm, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: Any, **kw: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(channel.project.reloader, "compile_dep_edges", interrupted)
    out = _deliver(opened, {"id": 1, "op": "edges"})
    monkeypatch.undo()
    assert [m["type"] for m in out] == ["reply"]
    assert out[0]["ok"] is False and out[0]["error"]["type"] == "KeyboardInterrupt"
    out = _deliver(opened, {"id": 2, "op": "edges"})
    assert out[0]["ok"] is True


def test_a_closed_frontend_does_not_break_the_channel(
    channel: Channel, opened: RecordingComm
) -> None:
    class GoneComm(RecordingComm):
        def publish_msg(self, msg_type: str, data: Any = None, *a: Any, **k: Any) -> None:
            if isinstance(data, dict) and data.get("type") == "event":
                raise OSError("the frontend went away")
            super().publish_msg(msg_type, data, *a, **k)

    gone = GoneComm()
    channel.channel._on_comm_open(gone, {})
    out = _deliver(
        opened,
        {"id": 1, "op": "reload", "path": "pkg/mod.py", "content": "def f():\n    return 3\n"},
    )
    assert out[-1]["ok"] is True
    assert sys.modules["pkg.mod"].f() == 3
