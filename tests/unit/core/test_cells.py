"""What a reload does that arrives while a cell runs on another thread (SPEC 2.5): the gate
fed by the shell's cell events, and the rule that applies, holds back or queues a reload."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

import ipython_hotreload as hr
from ipython_hotreload.core.cells import CellGate, CellRule, Hold, MustWait


def in_thread(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` on another thread and return what it returned (or raise what it raised)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    t = threading.Thread(target=run)
    t.start()
    t.join(30)
    assert not t.is_alive()
    if "error" in box:
        raise box["error"]
    return box.get("value")


class Result:
    def __init__(self, info: object) -> None:
        self.info = info


def test_a_cell_runs_for_the_other_threads_only_and_nested_cells_end_with_the_outer() -> None:
    gate = CellGate(threading.RLock())
    assert not gate.running()
    outer, inner = object(), object()
    gate.cell_started(outer)
    assert not gate.running()  # the cell's own thread
    assert in_thread(gate.running)
    gate.cell_started(inner)  # a cell that runs a cell
    gate.cell_ended(Result(inner))
    assert in_thread(gate.running)
    gate.cell_ended(Result(object()))  # a blank cell's post_run_cell: no pre_run_cell
    assert in_thread(gate.running)
    gate.cell_ended(Result(outer))
    assert not in_thread(gate.running)


def test_what_waits_for_the_cell_runs_when_it_ends_on_its_thread() -> None:
    gate = CellGate(threading.RLock())
    assert in_thread(lambda: gate.after_cell(lambda: None)) is False  # no cell runs
    ran: list[str] = []
    info = object()
    gate.cell_started(info)
    assert in_thread(lambda: gate.after_cell(lambda: ran.append(threading.current_thread().name)))
    assert ran == []
    gate.cell_ended(Result(info))
    assert ran == [threading.current_thread().name]


def test_the_rule_holds_back_statements_while_a_cell_runs_and_queues_the_reload() -> None:
    lock = threading.RLock()
    gate = CellGate(lock)
    rule = CellRule(lock)
    rule.cells = gate
    holds: list[Hold | None] = []
    events: list[hr.ModuleEvent] = []
    sub = hr.subscribe(events.append, kinds=["reload_waiting"])

    def attempt(hold: Hold | None) -> str:
        holds.append(hold)
        if hold is not None:
            wait = MustWait("line 1 of m (X = 2) must run")
            wait.modules = [("m", "/p/m.py")]
            wait.resume = lambda: attempt(None)
            raise wait
        return "applied"

    info = object()
    gate.cell_started(info)
    try:
        result: dict[str, str] = {}
        waiter = threading.Thread(target=lambda: result.setdefault("r", rule.apply(attempt)))
        waiter.start()
        deadline = threading.Event()
        while not events and not deadline.wait(0.01):
            pass
        assert [e.mod for e in events] == ["m"] and "must run" in events[0].payload["reason"]
        assert "r" not in result  # it waits for the cell
        gate.cell_ended(Result(info))  # the cell ends: the reload runs on this thread
        waiter.join(30)
        assert result == {"r": "applied"} and holds == ["statements", None]
    finally:
        sub.close()
    assert rule.apply(lambda hold: hold) is None  # no cell: nothing held back


def test_while_running_chooses_what_is_held_back_and_refuses_a_wrong_value() -> None:
    lock = threading.RLock()
    gate, rule = CellGate(lock), CellRule(lock)
    rule.cells = gate
    info = object()
    gate.cell_started(info)
    try:
        assert in_thread(rule.hold) == "statements"
        rule.while_running = "wait"
        assert in_thread(rule.hold) == "everything"
        rule.while_running = "all"
        assert in_thread(rule.hold) is None
    finally:
        gate.cell_ended(Result(info))
    with pytest.raises(ValueError, match="while_running must be one of"):
        rule.while_running = "sometimes"  # type: ignore[assignment]
