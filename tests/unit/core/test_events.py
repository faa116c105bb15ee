"""Module events and the process-wide stream: who hears what, and how an event looks."""

from __future__ import annotations

import json

import pytest

import ipython_hotreload as hr
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
