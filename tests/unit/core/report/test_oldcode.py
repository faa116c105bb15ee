"""Old code still running (SPEC 2.5): which patched functions a thread is still executing in
their previous version, and, asked later, whether it still is."""

from __future__ import annotations

import threading
from types import FunctionType

from ipython_hotreload.core.report.oldcode import OldCode, find_running_old


def looping(release: threading.Event, started: threading.Event) -> int:
    started.set()
    release.wait(30)
    return 1


def replacement(release: threading.Event, started: threading.Event) -> int:
    return 2


def test_a_function_patched_while_a_thread_runs_it_is_found_until_it_returns() -> None:
    release, started = threading.Event(), threading.Event()
    fn: FunctionType = looping  # type: ignore[assignment]
    old = fn.__code__
    worker = threading.Thread(target=fn, args=(release, started), name="trainer")
    worker.start()
    assert started.wait(30)
    try:
        fn.__code__ = replacement.__code__.replace(co_name="looping", co_qualname="looping")
        found = find_running_old([(fn, old)])
        assert [(f.qualname, f.thread) for f in found] == [("looping", "trainer")]
        assert found[0].to_json() == {"qualname": "looping", "thread": "trainer"}
        record = OldCode()
        record.add(found)
        assert [e["thread"] for e in record.still_running()] == ["trainer"]
        release.set()
        worker.join(30)
        assert record.still_running() == []  # its frame returned
    finally:
        release.set()
        worker.join(30)
        fn.__code__ = old


def test_a_function_nobody_runs_or_that_only_moved_is_not_reported() -> None:
    def moved() -> int:
        return 1

    old = moved.__code__
    assert find_running_old([(moved, old)]) == []  # no thread runs it
    assert find_running_old([]) == []
