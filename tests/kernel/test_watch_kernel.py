"""Watch mode (SPEC §2.3) in a real kernel: outside edits reach open comms as events, run on
the kernel's main thread between cells, and a broken edit never fails someone else's cell."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ipython_hotreload.client import HotReloadClient
from tests.kernel.conftest import Kernel

pytestmark = pytest.mark.kernel

TIMEOUT = 30  # deadlines, not delays: a loaded CI machine may need them

MOD_V1 = "def f():\n    return 1\n"
MOD_V2 = "def f():\n    return 2\n\n\ndef g(x: int = 1) -> int:\n    return x\n"

# Kernel-side record of every event: (kind, mod, thread name, time), and the watcher's handle.
RECORDER = """
import threading as _t, time as _time, ipython_hotreload as _hr
_seen = []
_sub = _hr.subscribe(lambda e: _seen.append((e.kind, e.mod, _t.current_thread().name, _time.time())))
"""


def run(client: HotReloadClient, code: str) -> None:
    """Run ``code`` in the kernel; it must succeed."""
    reply = client.execute(textwrap.dedent(code))
    assert reply["status"] == "ok", reply


def make_package(kernel: Kernel, name: str) -> None:
    """``name.mod`` (f) and ``name.user`` (calls f at import time: a compile dependent)."""
    kernel.write(f"{name}/__init__.py", "")
    kernel.write(f"{name}/mod.py", MOD_V1)
    kernel.write(f"{name}/user.py", f"from {name}.mod import f\n\nX = f()\n")


class Streams:
    """Collects the kernel's stdout/stderr stream messages (``on_other`` of the client), and
    the values the kernel gives its HTML widgets (the ``%hotreload watch`` line)."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.widget_values: list[str] = []  # every value any HTML widget took, in order

    def __call__(self, msg: dict[str, Any]) -> None:
        kind = msg.get("msg_type")
        if kind == "stream":
            self.messages.append(msg["content"])
        elif kind in ("comm_open", "comm_msg"):
            state = msg["content"].get("data", {}).get("state", {})
            if isinstance(state.get("value"), str):
                self.widget_values.append(state["value"])

    def text(self, name: str) -> str:
        return "".join(m["text"] for m in self.messages if m["name"] == name)

    def widget_text(self) -> str:
        return "\n".join(self.widget_values)


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
        # Loading again is harmless, and brings the magics back if a test unloaded them.
        run(c, "%load_ext ipython_hotreload\n%hotreload watch --stop\n_sub.close()")


def wait_for(client: HotReloadClient, kind: str, mod: str) -> dict[str, Any]:
    return client.wait_for_event(lambda e: e["kind"] == kind and e["mod"] == mod, TIMEOUT)


def test_an_outside_edit_reaches_the_comm_and_the_next_cell(
    kernel: Kernel, client: HotReloadClient, streams: Streams
) -> None:
    make_package(kernel, "kw_edit")
    run(client, "import kw_edit.mod, kw_edit.user\nheld = kw_edit.mod.f")
    run(client, "%hotreload watch")
    # The watch cell shows one line (a widget), not a print.
    assert "watching the project roots" in streams.widget_text()
    assert "watching" not in streams.text("stdout")

    kernel.write("kw_edit/mod.py", MOD_V2)  # from this process, like another editor

    event = wait_for(client, "recompiled", "kw_edit.mod")
    assert [fn["name"] for fn in event["payload"]["functions"]] == ["f", "g"]
    assert event["payload"]["source_hash"] is not None
    wait_for(client, "recompiled", "kw_edit.user")
    run(client, "assert held() == 2 and held is kw_edit.mod.f and kw_edit.user.X == 2")
    run(
        client,
        """
        _runs = [r for r in _seen if r[0] == "recompiled" and r[1] == "kw_edit.mod"]
        assert len(_runs) == 1, _runs
        assert _runs[0][2] == "MainThread", _runs
        """,
    )


def test_a_broken_outside_edit_is_reported_once_and_fails_no_cell(
    kernel: Kernel, client: HotReloadClient, streams: Streams
) -> None:
    make_package(kernel, "kw_broken")
    kernel.write("kw_broken/other.py", "Y = 1\n")
    run(client, "import kw_broken.mod, kw_broken.user, kw_broken.other")
    run(client, "%hotreload watch")
    run(client, "print('a later cell')")  # the cell that ran last when the edit comes

    kernel.write("kw_broken/mod.py", "def f(:\n    return 3\n")
    failed = wait_for(client, "compile_failed", "kw_broken.mod")
    assert failed["error"]["type"] == "SyntaxError" and failed["error"]["lineno"] == 1
    run(client, "assert kw_broken.mod.f() == 1 and kw_broken.user.X == 1")
    # The failure shows on the watch line, once, and in no cell's output.
    assert [v for v in streams.widget_values if "did not reload" in v] != []
    assert "kw_broken/mod.py:1" in streams.widget_text()
    assert "did not reload" not in streams.text("stderr") + streams.text("stdout")
    # An edit elsewhere reloads; the broken file is neither retried nor reported again,
    # and the line's message is over.
    shown = len(streams.widget_values)
    kernel.write("kw_broken/other.py", "Y = 2\n")
    wait_for(client, "recompiled", "kw_broken.other")
    run(client, "assert kw_broken.other.Y == 2 and kw_broken.mod.f() == 1")
    later = streams.widget_values[shown:]
    assert later and "did not reload" not in later[-1], later
    assert "watching the project roots" in later[-1]


def test_a_typo_put_back_in_another_editor_ends_the_failure_through_the_watcher(
    kernel: Kernel, client: HotReloadClient, streams: Streams
) -> None:
    make_package(kernel, "kw_typo")
    run(client, "import kw_typo.mod, kw_typo.user")
    run(client, "%%hotreload kw_typo/mod.py --quiet\n" + MOD_V1)  # a text we wrote
    wait_for(client, "recompiled", "kw_typo.mod")  # (the cell's own event, taken out)
    run(client, "%hotreload watch")
    kernel.write("kw_typo/mod.py", MOD_V1.replace("return 1", "return 1 +"))
    wait_for(client, "compile_failed", "kw_typo.mod")
    kernel.write("kw_typo/mod.py", MOD_V1)  # put back: the text the module runs
    event = wait_for(client, "recompiled", "kw_typo.mod")
    assert event["payload"]["mode"] == "unchanged"
    run(
        client,
        """
        import ipython_hotreload as hr
        _pending = [p["mod"] for p in hr.default_reloader().status()["pending"]]
        assert "kw_typo.mod" not in _pending, _pending  # (other tests' files may be)
        assert kw_typo.mod.f() == 1, kw_typo.mod.f()
        """,
    )


SYNC_CELL = """
import time
from pathlib import Path
import ipython_hotreload as hr
w = hr.default_reloader().watcher
b0 = w.batches
Path("{name}/mod.py").write_text({new!r})  # an outside edit while this cell runs
deadline = time.monotonic() + 20
while not w.queued:  # the watcher has seen it and handed the batch to the kernel loop
    assert w.batches == b0, "the batch ran while this cell was running"
    assert time.monotonic() < deadline, "the watcher never handed the batch over"
    time.sleep(0.01)
time.sleep(0.3)  # (the batch would run now if it did not wait for this cell)
assert {name}.mod.f() == 1, "reloaded in the middle of a running cell"
cell_end = time.time()
"""

ASYNC_CELL = """
import asyncio, time
from pathlib import Path
import ipython_hotreload as hr
w = hr.default_reloader().watcher
b0 = w.batches
Path("{name}/mod.py").write_text({new!r})
deadline = time.monotonic() + 20
while not w.queued:
    assert w.batches == b0, "the batch ran while this cell was awaiting"
    assert time.monotonic() < deadline, "the watcher never handed the batch over"
    await asyncio.sleep(0.01)
for _ in range(30):  # yield to the kernel's loop many times: the batch must still wait
    await asyncio.sleep(0.01)
assert {name}.mod.f() == 1, "reloaded while an async cell awaited"
cell_end = time.time()
"""

LOCKED = (
    "import ipython_hotreload as hr\n"
    "from ipython_hotreload.ipython.watch import kernel_scheduler\n"
    "hr.default_reloader().watch(schedule=kernel_scheduler(get_ipython()))"
)
# The path taken with an ipykernel that has no per-message lock (before 7): cell hooks.
HOOKED = (
    "import ipython_hotreload as hr\n"
    "from ipython_hotreload.ipython.watch import KernelScheduler\n"
    "ip = get_ipython()\n"
    "hr.default_reloader().watch(schedule=KernelScheduler(ip.kernel.io_loop, shell=ip))"
)


@pytest.mark.parametrize(
    ("cell", "start"),
    [(SYNC_CELL, LOCKED), (ASYNC_CELL, LOCKED), (SYNC_CELL, HOOKED), (ASYNC_CELL, HOOKED)],
    ids=["sync-lock", "async-lock", "sync-hooks", "async-hooks"],
)
def test_a_watched_edit_waits_for_the_running_cell_then_runs_on_the_main_thread(
    kernel: Kernel, client: HotReloadClient, cell: str, start: str
) -> None:
    name = f"kw_defer_{abs(hash((cell, start))) % 10**8}"
    make_package(kernel, name)
    run(client, f"import {name}.mod, {name}.user")
    run(client, start)  # its own cell, as `%hotreload watch` is
    run(client, cell.format(name=name, new=MOD_V2))
    wait_for(client, "recompiled", f"{name}.mod")
    run(
        client,
        f"""
        _runs = [r for r in _seen if r[0] == "recompiled" and r[1] == "{name}.mod"]
        assert len(_runs) == 1, _runs
        assert _runs[0][2] == "MainThread", _runs
        assert _runs[0][3] >= cell_end, (_runs, cell_end)
        assert {name}.mod.f() == 2 and {name}.user.X == 2, ({name}.mod.f(), {name}.user.X, _seen[-6:])
        """,
    )


def test_unload_ext_stops_watching(kernel: Kernel, client: HotReloadClient) -> None:
    run(client, "%hotreload watch")
    run(
        client,
        """
        import threading
        import ipython_hotreload as hr
        assert hr.default_reloader().watcher.alive
        %unload_ext ipython_hotreload
        assert hr.default_reloader().watcher is None
        assert not [t for t in threading.enumerate() if t.name.startswith("hotreload-watch")]
        %load_ext ipython_hotreload
        """,
    )


def test_an_idle_watching_kernel_costs_nothing_measurable(
    kernel: Kernel, client: HotReloadClient
) -> None:
    """While watching, an idle kernel's process uses (almost) no CPU: the watcher sleeps
    inside Rust with the GIL released."""
    run(client, "%hotreload watch\nimport time as _tm\n_c0 = _tm.process_time(); _w0 = _tm.time()")
    started = time.monotonic()
    while time.monotonic() - started < 1.0:
        client.pump(0.1)  # idle for a second, reading IOPub as a frontend does
    run(
        client,
        """
        _cpu = _tm.process_time() - _c0
        _wall = _tm.time() - _w0
        assert _cpu / _wall < 0.1, (_cpu, _wall)
        """,
    )


def test_batches_are_scheduled_under_the_kernels_own_lock(
    kernel: Kernel, client: HotReloadClient
) -> None:
    """The scheduler serialises batches with cells through ipykernel's private
    ``_main_asyncio_lock``; without it, it falls back to cell hooks. This fails loudly when
    an ipykernel upgrade removes the lock (README, "Private APIs")."""
    run(
        client,
        """
        import asyncio
        from ipython_hotreload.ipython.watch import kernel_scheduler
        _lock = getattr(get_ipython().kernel, "_main_asyncio_lock", None)
        assert isinstance(_lock, asyncio.Lock), type(_lock)
        _sched = kernel_scheduler(get_ipython())
        assert _sched is not None and _sched._lock is _lock
        _sched.close()
        """,
    )
