"""Module events and the process-wide stream: who hears what, and how an event looks."""

from __future__ import annotations

import json
import logging
import threading
from typing import get_args

import pytest

import ipython_hotreload as hr
from ipython_hotreload.core.events import (
    EVENT_KINDS,
    EventKind,
    ModuleEvent,
    publish,
    subscribe,
    subscriber_count,
)
from tests.conftest import Project


def test_subscribe_kinds_and_failing_callback(
    project: Project, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    def bad(event: hr.ModuleEvent) -> None:
        raise ValueError("callback bug")

    with (
        hr.subscribe(bad),
        hr.subscribe(lambda e: seen.append(e.kind), kinds=["recompiled"]) as sub,
    ):
        project.write("ev.py", "X = 1\n")
        project.reload("ev.py", "X = 2\n")
        assert seen == ["recompiled"]
    assert sub.closed
    project.reload("ev.py", "X = 3\n")
    assert seen == ["recompiled"]
    assert "callback bug" in caplog.text
    with pytest.raises(ValueError, match="unknown event kinds"):
        hr.subscribe(print, kinds=["nope"])


def test_module_event_is_frozen_and_json(project: Project) -> None:
    project.write("fj.py", "X = 1\n")
    project.reload("fj.py", "X = 2\n")
    event = project.events[-1]
    with pytest.raises(AttributeError):
        event.kind = "x"  # type: ignore[misc]
    data = json.loads(json.dumps(event.to_json()))
    assert set(data) == {"kind", "mod", "path", "payload", "error", "at"}
    assert data["payload"]["mod"] == "fj"


def event(kind: EventKind = "recompiled", mod: str = "m") -> ModuleEvent:
    return ModuleEvent(kind, mod, None)


def test_the_kinds_are_the_literal_ones() -> None:
    assert frozenset(get_args(EventKind)) == EVENT_KINDS
    assert {"source_written", "recompiled", "compile_failed", "source_removed"} <= EVENT_KINDS


def test_subscribers_hear_every_event_in_subscription_order_until_they_close() -> None:
    heard: list[tuple[str, str | None]] = []
    first = subscribe(lambda e: heard.append(("first", e.mod)))
    second = subscribe(lambda e: heard.append(("second", e.mod)), kinds="recompiled")
    try:
        publish(event(mod="a"))
        publish(event("source_written", "b"))  # not a kind the second one asked for
        first.close()
        first.close()  # idempotent
        publish(event(mod="c"))
    finally:
        second.close()
    publish(event(mod="d"))
    assert heard == [("first", "a"), ("second", "a"), ("first", "b"), ("second", "c")]
    assert first.closed and second.closed
    assert repr(second) == "<Subscription closed kinds=['recompiled']>"


def test_the_count_of_subscribers_follows_subscribe_and_close() -> None:
    before = subscriber_count()
    with subscribe(print) as sub:
        assert subscriber_count() == before + 1
        assert repr(sub) == "<Subscription open kinds=all>"
    assert subscriber_count() == before


def test_bad_subscriptions_are_refused() -> None:
    with pytest.raises(TypeError, match="callable"):
        subscribe("not callable")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"unknown event kinds \['nope'\]"):
        subscribe(print, kinds=["recompiled", "nope"])


def test_a_subscriber_raising_even_keyboard_interrupt_is_logged_and_the_rest_still_hear(
    caplog: pytest.LogCaptureFixture,
) -> None:
    heard: list[str | None] = []

    def interrupted(e: ModuleEvent) -> None:
        raise KeyboardInterrupt

    with (
        subscribe(interrupted),
        subscribe(lambda e: heard.append(e.mod)),
        caplog.at_level(logging.ERROR, logger="ipython_hotreload.core.events"),
    ):
        publish(event(mod="x"))
    assert heard == ["x"]
    assert "callback" in caplog.text and "recompiled" in caplog.text


def test_a_subscriber_may_close_itself_or_subscribe_another_while_an_event_is_published() -> None:
    heard: list[str] = []
    later: list[hr.Subscription] = []

    def once(e: ModuleEvent) -> None:
        heard.append("once")
        own.close()
        later.append(subscribe(lambda e: heard.append("later")))

    own = subscribe(once)
    try:
        publish(event())  # the subscriber added meanwhile hears the next event, not this one
        publish(event())
    finally:
        for sub in later:
            sub.close()
    assert heard == ["once", "later"]


def test_events_are_published_in_the_publishing_thread() -> None:
    threads: list[str] = []
    with subscribe(lambda e: threads.append(threading.current_thread().name)):
        worker = threading.Thread(target=publish, args=(event(),), name="publisher")
        worker.start()
        worker.join(30)
    assert threads == ["publisher"]


def test_an_event_is_json_with_its_payload_and_error() -> None:
    e = ModuleEvent("compile_failed", "m", "/p/m.py", None, {"type": "SyntaxError"}, at=1.5)
    assert e.to_json() == {
        "kind": "compile_failed",
        "mod": "m",
        "path": "/p/m.py",
        "payload": None,
        "error": {"type": "SyntaxError"},
        "at": 1.5,
    }
