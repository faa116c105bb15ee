"""The kernel keeps serving: after failed reloads, hostile messages and a real interrupt (SIGINT
from the kernel manager) in the middle of a reload, a real kernel still executes cells and the
comm still answers, with the old code running wherever a reload failed.

Uses the kernel fixtures of ``tests/kernel/conftest.py``.
"""

from __future__ import annotations

import contextlib
import queue
import time
from collections.abc import Callable, Iterator

import pytest

from ipython_hotreload.client import HotReloadClient
from tests.kernel import conftest as kernel_fixtures
from tests.kernel.conftest import Kernel

# The real-kernel fixtures of tests/kernel/conftest.py, shared rather than copied.
kernel = kernel_fixtures.kernel
kernel_spec_manager = kernel_fixtures.kernel_spec_manager

pytestmark = pytest.mark.kernel

V1 = "def f():\n    return 1\n"
V2 = "def f():\n    return 2\n"


def run(client: HotReloadClient, code: str) -> None:
    reply = client.execute(code)
    assert reply["status"] == "ok", reply


def still_serving(kernel: Kernel, client: HotReloadClient, package: str, expected: int) -> None:
    """The kernel runs cells, the comm answers, and ``package.mod.f`` returns ``expected``."""
    assert kernel.km.is_alive()
    run(client, f"import {package}.mod\nassert {package}.mod.f() == {expected}, {package}.mod.f()")
    assert client.edges()["ok"] is True
    # And a reload still works end to end.
    reply = client.reload(
        f"{package}/mod.py", f"def f():\n    return {expected + 10}\n", format=False
    )
    assert reply["ok"] is True, reply
    run(client, f"assert {package}.mod.f() == {expected + 10}")


@pytest.fixture
def client(kernel: Kernel) -> HotReloadClient:
    c = kernel.hotreload_client()
    c.open()
    return c


@pytest.fixture
def make_package(kernel: Kernel) -> Iterator[Callable[[str], None]]:
    """``make(name)``: ``name.mod`` (f) and ``name.user`` (calls f at import time). At
    teardown the module's file gets a good text again: the kernel is shared by the tests of
    this file, and a file left broken on disk would make every later reload fail."""
    made: list[str] = []

    def make(name: str) -> None:
        kernel.write(f"{name}/__init__.py", "")
        kernel.write(f"{name}/mod.py", V1)
        kernel.write(f"{name}/user.py", f"from {name}.mod import f\n\nX = f()\n")
        made.append(name)

    yield make
    for name in made:
        kernel.write(f"{name}/mod.py", V1)


def test_failed_reloads_leave_the_kernel_serving(
    kernel: Kernel,
    client: HotReloadClient,
    make_package: Callable[[str], None],
) -> None:
    make_package("ks_fail")
    run(client, "import ks_fail.user, ks_fail.mod")
    failures = [
        "def f(:\n",  # syntax error
        "raise RuntimeError('module body fails')\n",
        "raise KeyboardInterrupt\n",
        "raise SystemExit(1)\n",
        "import sys\nsys.exit(3)\n",
        "x = 1" + " + 1" * 100_000 + "\n",  # too deep for the parser
        "from ks_fail.nothing import x\n",
    ]
    for content in failures:
        reply = client.reload("ks_fail/mod.py", content, format=False)
        assert reply["ok"] is False, (content[:40], reply)
        assert reply["error"]["type"] == "ReloadError", (content[:40], reply)
        assert kernel.km.is_alive(), f"the kernel died on {content[:40]!r}"
    run(client, "assert ks_fail.user.X == 1")
    still_serving(kernel, client, "ks_fail", 1)


def test_hostile_messages_leave_the_kernel_serving(
    kernel: Kernel,
    client: HotReloadClient,
    make_package: Callable[[str], None],
) -> None:
    make_package("ks_msgs")
    run(client, "import ks_msgs.mod")
    hostile: list[object] = [
        None,
        "reload",
        [1, 2, 3],
        {"op": "reload"},
        {"id": None, "op": "reload", "path": None, "content": None},
        {"id": "big", "op": "reload", "path": "ks_msgs/mod.py", "content": "#" * 11_000_000},
        {"id": "up", "op": "reload", "path": "../escape.py", "content": "X = 1\n"},
        {"id": "nul", "op": "reload", "path": "ks_msgs/mod.py\x00", "content": "X = 1\n"},
        {"id": "dir", "op": "reload", "path": "ks_msgs", "content": "X = 1\n"},
        {"id": "unknown", "op": "exec", "code": "import os; os._exit(1)"},
        {"id": "purge", "op": "purge", "mod": "no.such.module"},
    ]
    for data in hostile:
        client.send(data)
        request_id = data.get("id") if isinstance(data, dict) else None
        reply = client.wait_for_reply(request_id, timeout=60)
        assert reply["type"] == "reply"
        if request_id not in ("purge",):
            assert reply["ok"] is False, (data, reply)
        assert kernel.km.is_alive()
    assert not (kernel.root.parent / "escape.py").exists()
    still_serving(kernel, client, "ks_msgs", 1)


def test_a_real_interrupt_in_the_middle_of_a_reload(
    kernel: Kernel,
    client: HotReloadClient,
    make_package: Callable[[str], None],
) -> None:
    """SIGINT arrives while the new module body runs (it waits forever for it): the reload is
    rolled back, the reply says so, and the kernel goes on serving with the old code."""
    make_package("ks_sigint")
    run(client, "import ks_sigint.user, ks_sigint.mod\nheld = ks_sigint.mod.f")
    client.received.clear()
    body = "import time\n\n\ndef f():\n    return 2\n\n\nwhile True:\n    time.sleep(0.01)\n"
    client.send({"id": "slow", "op": "reload", "path": "ks_sigint/mod.py", "content": body,
                 "format": False})  # fmt: skip
    client.wait_for_event(
        lambda e: e["kind"] == "source_written" and e["mod"] == "ks_sigint.mod", timeout=30
    )
    kernel.km.interrupt_kernel()
    reply = client.wait_for_reply("slow", timeout=30)
    assert reply["ok"] is False, reply
    assert "KeyboardInterrupt" in str(reply["error"]), reply
    run(client, "assert held() == 1 and ks_sigint.mod.f() == 1 and ks_sigint.user.X == 1")
    assert (kernel.root / "ks_sigint/mod.py").read_text() == body  # the text is not lost
    still_serving(kernel, client, "ks_sigint", 1)


def test_an_interrupted_cell_does_not_stop_the_comm(
    kernel: Kernel,
    client: HotReloadClient,
    make_package: Callable[[str], None],
) -> None:
    make_package("ks_cell")
    kc = client.kernel_client
    msg_id = kc.execute(
        "import time\nprint('looping', flush=True)\nwhile True:\n    time.sleep(0.01)\n"
    )
    # Wait until the cell's code runs (its first output), then interrupt it.
    deadline = time.monotonic() + 30
    while True:
        msg = kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        client.handle_message(msg)
        if msg["msg_type"] == "stream" and msg["parent_header"].get("msg_id") == msg_id:
            break
    reply = None
    while reply is None:
        assert time.monotonic() < deadline, "the cell was never interrupted"
        kernel.km.interrupt_kernel()
        with contextlib.suppress(queue.Empty):
            msg = kc.get_shell_msg(timeout=2)
            if msg["parent_header"].get("msg_id") == msg_id:
                reply = msg
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    still_serving(kernel, client, "ks_cell", 1)
