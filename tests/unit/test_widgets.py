"""The panels in Python alone: their synced traits follow the event stream (SPEC §2.2).

What the browser draws from these traits is checked in tests/browser/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

import ipython_hotreload as hr
from ipython_hotreload.core.events import ModuleEvent, publish, subscriber_count
from ipython_hotreload.widgets import (
    EventLog,
    FunctionsPanel,
    ProjectOverview,
    ProjectPanel,
    _panels,
    show_panel,
)
from tests.conftest import Project

SHAPES = '''
def circle(r):
    """Area of a circle."""
    return 3.14159 * r * r


class Shape:
    def area(self) -> float:
        return 0.0
'''

SHAPES_V2 = '''
def circle(r):
    """Area of a circle."""
    return 3.14159 * r * r


def hexagon(side: float) -> float:
    """Area of a regular hexagon."""
    return 2.598 * side * side


class Shape:
    def area(self) -> float:
        return 0.0
'''


def names(panel: FunctionsPanel) -> list[str]:
    return [f["qualname"] for f in panel.functions]


@pytest.fixture
def shapes(project: Project) -> Project:
    project.write("geo/__init__.py")
    project.write("geo/shapes.py", SHAPES)
    project.write("geo/other.py", "def other():\n    return 1\n")
    project.import_("geo.shapes")
    project.import_("geo.other")
    return project


def test_initial_state_is_the_current_analysis(shapes: Project) -> None:
    panel = FunctionsPanel("geo.shapes", reloader=shapes.reloader)
    try:
        assert names(panel) == ["circle", "Shape.area"]
        assert panel.functions[0]["doc"] == "Area of a circle."
        assert panel.status == "ok" and panel.recompiled_at is None and panel.recompiles == 0
        assert panel.path is not None and panel.path.endswith("shapes.py")
        assert panel.cwd == os.getcwd()  # the front end shows paths relative to it
    finally:
        panel.close()


def test_a_module_object_names_the_panel(shapes: Project) -> None:
    import geo.shapes  # type: ignore[import-not-found]

    panel = FunctionsPanel(geo.shapes, reloader=shapes.reloader)
    try:
        assert panel.mod == "geo.shapes"
    finally:
        panel.close()


def test_recompiled_event_updates_from_the_payload(shapes: Project) -> None:
    panel = FunctionsPanel("geo.shapes", reloader=shapes.reloader)
    try:
        result = shapes.reload("geo/shapes.py", SHAPES_V2)
        saved = result["recompiled"][0]
        assert names(panel) == ["circle", "hexagon", "Shape.area"]
        assert panel.functions == saved["functions"]
        hexagon = panel.functions[1]
        assert hexagon["signature"] == "(side: float) -> float"
        assert hexagon["doc"] == "Area of a regular hexagon."
        assert panel.source_hash == saved["source_hash"]
        recompiled = [e for e in shapes.events if e.kind == "recompiled"]
        assert panel.recompiled_at == recompiled[-1].at
        assert panel.recompiles == 1 and panel.status == "ok" and panel.note == ""
    finally:
        panel.close()


def test_events_of_other_modules_are_ignored(shapes: Project) -> None:
    panel = FunctionsPanel("geo.shapes", reloader=shapes.reloader)
    try:
        before = panel.state
        shapes.reload("geo/other.py", "def other():\n    return 2\n\n\ndef more():\n    pass\n")
        shapes.reloader.purge_module("geo.other")
        assert [e.mod for e in shapes.events if e.kind != "source_written"] == [
            "geo.other",
            "geo.other",
        ]
        assert panel.state == before
    finally:
        panel.close()


def test_compile_failed_shows_the_failure_and_keeps_the_old_list(shapes: Project) -> None:
    panel = FunctionsPanel("geo.shapes", reloader=shapes.reloader)
    try:
        with pytest.raises(hr.ReloadError) as info:
            shapes.reload("geo/shapes.py", "def circle(r):\n    return r *\n")
        assert panel.status == "failed"
        assert panel.error is not None
        assert panel.error["type"] == "SyntaxError"
        assert panel.error["lineno"] == info.value.lineno == 2
        assert panel.error["message"]
        assert names(panel) == ["circle", "Shape.area"]  # the old code keeps running
        shapes.reload("geo/shapes.py", SHAPES_V2)
        assert panel.status == "ok" and panel.error is None
        assert "hexagon" in names(panel)
    finally:
        panel.close()


def test_source_removed_shows_the_module_as_gone(shapes: Project) -> None:
    panel = FunctionsPanel("geo.shapes", reloader=shapes.reloader)
    try:
        shapes.reloader.purge_module("geo.shapes")
        assert panel.status == "gone"
        assert panel.functions == []
    finally:
        panel.close()


def test_a_bare_payload_makes_the_panel_fetch_the_analysis(shapes: Project) -> None:
    # scene uses circle at import time (a compile edge), so reloading shapes re-executes
    # scene with a bare payload. Its file gained a function that no payload carries: only
    # the panel's own analysis can know it.
    shapes.write("geo/scene.py", "from geo.shapes import circle\n\nUNIT = circle(1)\n")
    shapes.import_("geo.scene")
    panel = FunctionsPanel("geo.scene", reloader=shapes.reloader)
    try:
        assert names(panel) == []
        shapes.write(
            "geo/scene.py",
            "from geo.shapes import circle\n\nUNIT = circle(1)\n\n\ndef total():\n    return UNIT\n",
        )
        result = shapes.reload("geo/shapes.py", SHAPES_V2)
        bare = next(p for p in result["recompiled"] if p["mod"] == "geo.scene")
        assert bare["functions"] is None
        assert names(panel) == ["total"]
        assert panel.recompiles == 1
        assert "depends on" in panel.note
    finally:
        panel.close()


def test_a_bare_payload_from_another_reloader_uses_the_panels_reloader(shapes: Project) -> None:
    panel = FunctionsPanel("geo.shapes", reloader=shapes.reloader)
    try:
        shapes.write("geo/shapes.py", SHAPES_V2)  # on disk, not reloaded
        publish(ModuleEvent("recompiled", "geo.shapes", None, {"mod": "geo.shapes"}))
        assert names(panel) == ["circle", "hexagon", "Shape.area"]
    finally:
        panel.close()


def test_events_from_another_thread_update_the_panel(shapes: Project) -> None:
    # A file watcher publishes from its own thread.
    panel = FunctionsPanel("geo.shapes", reloader=shapes.reloader)
    try:
        errors: list[BaseException] = []

        def reload_elsewhere() -> None:
            try:
                shapes.reload("geo/shapes.py", SHAPES_V2)
            except BaseException as exc:
                errors.append(exc)

        worker = threading.Thread(target=reload_elsewhere)
        worker.start()
        worker.join(timeout=30)
        assert not worker.is_alive() and errors == []
        assert "hexagon" in names(panel)
    finally:
        panel.close()


def test_a_file_edited_elsewhere_updates_the_panel_through_the_watcher(shapes: Project) -> None:
    panel = FunctionsPanel("geo.shapes", reloader=shapes.reloader)
    updated = threading.Event()
    panel.observe(lambda change: updated.set(), names="recompiles")
    watcher = shapes.reloader.watch()
    try:
        shapes.write("geo/shapes.py", SHAPES_V2)  # another editor saves the file
        assert updated.wait(timeout=15), "the watcher's reload never reached the panel"
        assert "hexagon" in names(panel) and panel.status == "ok"
    finally:
        watcher.stop()
        panel.close()


def test_a_panel_for_a_missing_module_says_so_and_fills_in_later(project: Project) -> None:
    panel = FunctionsPanel("later", reloader=project.reloader)
    try:
        assert panel.status == "missing"
        assert panel.error is not None and "later" in panel.error["message"]
        project.write("later.py", "")
        project.reload("later.py", "def now():\n    pass\n")
        assert panel.status == "ok" and names(panel) == ["now"]
    finally:
        panel.close()


def test_close_unsubscribes(shapes: Project) -> None:
    before = subscriber_count()
    panel = FunctionsPanel("geo.shapes", reloader=shapes.reloader)
    assert subscriber_count() == before + 1
    panel.close()
    assert subscriber_count() == before
    panel.close()  # idempotent
    assert subscriber_count() == before
    shapes.reload("geo/shapes.py", SHAPES_V2)
    assert names(panel) == ["circle", "Shape.area"]


def test_event_log_is_newest_first_and_bounded() -> None:
    log = EventLog(limit=3)
    try:
        for i in range(5):
            publish(ModuleEvent("source_written", f"m{i}", f"/p/m{i}.py"))
        assert [e["mod"] for e in log.events] == ["m4", "m3", "m2"]
        assert [e.mod for e in log.history] == ["m4", "m3", "m2"]
        assert log.total == 5
        log.limit = 2
        assert [e["mod"] for e in log.events] == ["m4", "m3"]
        log.clear()
        assert log.events == [] and len(log.history) == 0
    finally:
        log.close()


def test_event_log_entries_are_compact_json(shapes: Project) -> None:
    log = EventLog(kinds=["recompiled", "compile_failed"], mods=["geo.shapes"])
    try:
        shapes.reload("geo/shapes.py", SHAPES_V2)
        shapes.reload("geo/other.py", "def other():\n    return 3\n")
        with pytest.raises(hr.ReloadError):
            shapes.reload("geo/shapes.py", "def broken(:\n")
        json.dumps(log.events)
        assert [(e["kind"], e["mod"]) for e in log.events] == [
            ("compile_failed", "geo.shapes"),
            ("recompiled", "geo.shapes"),
        ]
        failed, recompiled = log.events
        assert failed["error"]["type"] == "SyntaxError"
        assert recompiled["summary"]["functions"] == 3  # a count, not the list
        assert log.history[1].payload is not None  # the full event stays in Python
        assert log.history[1].payload["functions"] is not None
    finally:
        log.close()


def test_event_log_refuses_an_empty_bound() -> None:
    with pytest.raises(ValueError, match="at least one"):
        EventLog(limit=0)


def test_overview_lists_project_modules_and_follows_events(shapes: Project) -> None:
    overview = ProjectOverview(reloader=shapes.reloader)
    try:
        assert [m["mod"] for m in overview.modules] == ["geo", "geo.other", "geo.shapes"]
        shapes.reload("geo/fresh.py", "def new():\n    pass\n")
        fresh = overview.module("geo.fresh")
        assert fresh is not None and [f["name"] for f in fresh["functions"]] == ["new"]
        with pytest.raises(hr.ReloadError):
            shapes.reload("geo/shapes.py", "x = (\n")
        failed = overview.module("geo.shapes")
        assert failed is not None and failed["status"] == "failed"
        shapes.reloader.purge_module("geo.other")
        gone = overview.module("geo.other")
        assert gone is not None and gone["status"] == "gone"
        json.dumps(overview.modules)
    finally:
        overview.close()


def test_show_panel_displays_a_panel_or_the_project(
    shapes: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    before = subscriber_count()
    panel = show_panel("geo.shapes", reloader=shapes.reloader)
    whole = show_panel(reloader=shapes.reloader)
    try:
        assert isinstance(panel, FunctionsPanel) and panel.mod == "geo.shapes"
        assert isinstance(whole, ProjectPanel)
        assert isinstance(whole.overview, ProjectOverview)
        assert isinstance(whole.event_log, EventLog)
        assert subscriber_count() == before + 3
        # Outside a kernel, display() prints the text form: it was called once per panel.
        assert capsys.readouterr().out.count("\n") == 2
    finally:
        panel.close()
        whole.close()
    assert subscriber_count() == before


def test_the_front_end_module_is_shipped_as_a_string() -> None:
    for cls in (FunctionsPanel, EventLog, ProjectOverview):
        assert isinstance(cls._esm, str) and "export default" in cls._esm
        assert "data-renders" in cls._esm or "dataset.renders" in cls._esm
        assert "--jp-layout-color1" in cls._css and "--jp-ui-font-color1" in cls._css


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_front_end_module_parses(tmp_path: Path) -> None:
    script = tmp_path / "panel.mjs"
    script.write_text(_panels._ESM, encoding="utf-8")
    done = subprocess.run(["node", "--check", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
