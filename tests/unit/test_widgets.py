"""The panels in Python alone: their synced traits follow the event stream (SPEC §2.2).

What the browser draws from these traits is checked in tests/browser/.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
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
    clear_running_old,
    record_reloads,
    show_panel,
)
from ipython_hotreload.widgets._editor import answer, editor_line
from ipython_hotreload.widgets._record import last_state
from ipython_hotreload.widgets._state import (
    blank_state,
    change_set,
    error_of,
    event_entry,
    mode_label,
    own_time_ms,
    state_after,
    without_running_old,
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
    # Its own subscription, and the record of last reloads that it is the only holder of.
    assert subscriber_count() == before + 2
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
        assert subscriber_count() == before + 4  # three panels and the record they hold
        # Outside a kernel, display() prints the text form: it was called once per panel.
        assert capsys.readouterr().out.count("\n") == 2
    finally:
        panel.close()
        whole.close()
    assert subscriber_count() == before


def test_the_front_end_modules_are_shipped_as_strings() -> None:
    for cls in (FunctionsPanel, EventLog, ProjectOverview):
        assert isinstance(cls._esm, str) and "export{" in cls._esm and " as default}" in cls._esm
        assert "dataset.renders" in cls._esm
        assert "--jp-layout-color1" in cls._css and "--jp-ui-font-color1" in cls._css
    # Only the FunctionsPanel's carries the editor; the log and the overview stay small.
    assert (
        "cm-content" in FunctionsPanel._esm and "data-lm-suppress-shortcuts" in FunctionsPanel._esm
    )
    assert "cm-content" not in EventLog._esm and EventLog._esm is ProjectOverview._esm
    assert len(EventLog._esm) * 20 < len(FunctionsPanel._esm)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("esm", [_panels._ESM, _panels._LISTS_ESM], ids=["panel", "lists"])
def test_the_front_end_modules_parse(esm: str, tmp_path: Path) -> None:
    script = tmp_path / "panel.mjs"
    script.write_text(esm, encoding="utf-8")
    done = subprocess.run(["node", "--check", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# -- the last reload's change set, its mode, and why a module ran (SPEC 1.5, 2.2) ---------


def no_fetch(mod: str) -> list[dict[str, object]]:
    raise AssertionError(f"a payload with functions needs no analysis of {mod}")


def recompiled(
    payload: dict[str, object], mod: str = "geo.shapes", path: str | None = None
) -> ModuleEvent:
    return ModuleEvent("recompiled", mod, path or f"/p/{mod}.py", {"mod": mod, **payload})


FUNCS = [{"qualname": "circle"}, {"qualname": "hexagon"}]


def test_a_change_set_is_kept_until_the_next_reload_and_survives_a_failure() -> None:
    state = blank_state("geo.shapes", None)
    changes = {"added": ["hexagon"], "changed": ["circle"], "removed": ["square"]}
    state = state_after(
        state, recompiled({"functions": FUNCS, "changes": changes, "mode": "patched"}), no_fetch
    )
    assert state["changes"] == changes
    assert (state["mode"], state["mode_label"]) == ("patched", "patched")
    failed = ModuleEvent("compile_failed", "geo.shapes", None, error={"type": "SyntaxError"})
    state = state_after(state, failed, no_fetch)
    assert state["status"] == "failed"
    assert state["changes"] == changes  # the old code still runs: its last change set stands
    state = state_after(
        state, recompiled({"functions": FUNCS, "changes": {"changed": ["hexagon"]}}), no_fetch
    )
    assert state["changes"] == {"added": [], "changed": ["hexagon"], "removed": []}
    assert state["mode"] is None and state["mode_label"] is None  # the payload did not say
    state = state_after(state, recompiled({"functions": FUNCS}), no_fetch)
    assert state["changes"] is None  # no change set in the payload: nothing shown
    gone = state_after(state, ModuleEvent("source_removed", "geo.shapes", None), no_fetch)
    assert gone["changes"] is None and gone["mode"] is None


def test_change_set_takes_only_lists_of_names() -> None:
    assert change_set({}) is None
    assert change_set({"changes": "all"}) is None
    assert change_set({"changes": {"added": ["f", 3, None], "changed": "g"}}) == {
        "added": ["f"],
        "changed": [],
        "removed": [],
    }


@pytest.mark.parametrize(
    ("payload", "label"),
    [
        ({"mode": "patched"}, "patched"),
        ({"mode": "partial", "rerun": [{"lineno": 3, "end_lineno": 3}]}, "partial: 1 statement"),
        ({"mode": "partial", "rerun": [{"lineno": 3}, {"lineno": 9}]}, "partial: 2 statements"),
        ({"mode": "partial"}, "partial: 0 statements"),
        ({"mode": "full", "full_reason": "a from __future__ change"}, "full"),
        ({"mode": "unchanged"}, "unchanged"),
        ({}, None),
        ({"mode": 3}, None),
    ],
)
def test_mode_label(payload: dict[str, object], label: str | None) -> None:
    assert mode_label(payload) == label


def test_a_full_reload_keeps_its_reason() -> None:
    event = recompiled(
        {"functions": FUNCS, "mode": "full", "full_reason": "a top-level global statement"}
    )
    state = state_after(blank_state("geo.shapes", None), event, no_fetch)
    assert state["mode_label"] == "full"
    assert state["full_reason"] == "a top-level global statement"


def test_own_time_prefers_the_modules_own_over_the_batchs() -> None:
    assert own_time_ms({"module_ms": 1.5, "elapsed_ms": 40.0}) == 1.5
    assert own_time_ms({"elapsed_ms": 40}) == 40.0
    assert own_time_ms({"module_ms": True, "elapsed_ms": 2.0}) == 2.0
    assert own_time_ms({}) is None


def test_a_dependents_row_says_what_it_followed_and_its_own_time() -> None:
    payload = {
        "source_hash": None,
        "functions": None,
        "reason": {"after": "geo.shapes", "label": "compile"},
        "mode": "partial",
        "rerun": [{"lineno": 3, "end_lineno": 3}],
        "module_ms": 0.8,
        "elapsed_ms": 12.0,
    }
    entry = event_entry(recompiled(payload, mod="geo.scene"))
    summary = entry["summary"]
    assert (summary["after"], summary["label"]) == ("geo.shapes", "compile")
    assert summary["own_ms"] == 0.8 and summary["elapsed_ms"] == 12.0
    assert summary["mode_label"] == "partial: 1 statement"
    json.dumps(entry)
    state = state_after(
        blank_state("geo.scene", None),
        recompiled(payload, mod="geo.scene"),
        lambda mod: [{"qualname": "total"}],
    )
    assert state["reason"] == {"after": "geo.shapes", "label": "compile"}
    assert state["own_ms"] == 0.8
    assert "geo.shapes" in state["note"]


def test_a_real_dependent_names_the_module_it_followed(shapes: Project) -> None:
    shapes.write("geo/scene.py", "from geo.shapes import circle\n\nUNIT = circle(1)\n")
    shapes.import_("geo.scene")
    overview = ProjectOverview(reloader=shapes.reloader)
    log = EventLog(kinds=["recompiled"], mods=["geo.scene"])
    try:
        shapes.reload("geo/shapes.py", SHAPES_V2.replace("3.14159", "3.0"))
        scene = overview.module("geo.scene")
        assert scene is not None and scene["reason"] == {"after": "geo.shapes", "label": "compile"}
        assert scene["own_ms"] is not None
        (entry,) = log.events
        assert entry["summary"]["after"] == "geo.shapes"
        assert entry["summary"]["own_ms"] == scene["own_ms"]
    finally:
        overview.close()
        log.close()


def test_the_panel_syncs_the_change_set_from_an_event(shapes: Project) -> None:
    panel = FunctionsPanel("geo.shapes", reloader=shapes.reloader)
    try:
        changes = {"added": ["hexagon"], "changed": [], "removed": ["square"]}
        publish(
            recompiled(
                {
                    "functions": FUNCS,
                    "changes": changes,
                    "mode": "partial",
                    "rerun": [{"lineno": 1, "end_lineno": 1}],
                }
            )
        )
        assert panel.changes == changes
        assert panel.mode == "partial" and panel.mode_label == "partial: 1 statement"
        assert panel.state["changes"] == changes
        assert panel.editable
    finally:
        panel.close()


# -- the panel editor's requests -----------------------------------------------------------


def test_editor_requests_that_cannot_be_tried_get_one_error_reply(shapes: Project) -> None:
    reloader = shapes.reloader
    cases: list[tuple[object, str]] = [
        ("not an object", "JSON object"),
        ({"id": 1, "op": "explode"}, "unknown editor op"),
        ({"id": 2, "op": "source"}, "'target'"),
        ({"id": 3, "op": "source", "target": ""}, "'target'"),
        ({"id": 4, "op": "reload_definition", "target": "geo.shapes:circle"}, "'content'"),
        ({"id": 5, "op": "undo", "steps": 0}, "positive"),
        ({"id": 6, "op": "undo", "steps": True}, "positive"),
    ]
    for request, words in cases:
        reply = answer(lambda: reloader, request)  # type: ignore[arg-type, return-value]
        assert reply["type"] == "reply" and reply["ok"] is False, reply
        assert reply["id"] == (request.get("id") if isinstance(request, dict) else None)
        assert reply["error"]["type"] == "BadRequest"
        assert words in reply["error"]["message"]
        json.dumps(reply)


def test_an_unexpected_error_is_one_line_in_the_reply(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> object:
        raise RuntimeError("the reloader is gone")

    reply = answer(broken, {"id": "x", "op": "history"})  # type: ignore[arg-type]
    assert reply == {
        "type": "reply",
        "id": "x",
        "ok": False,
        "error": {"type": "RuntimeError", "message": "the reloader is gone"},
    }
    assert "history" in caplog.text  # the traceback went to the log, not to the user


def test_editor_line_points_into_the_editors_text() -> None:
    broken = "def square(side):\n    return (side *\n"
    assert editor_line(broken, None, None) == 2  # its own parse: where the user typed
    indented = "    def area(self):\n        return 1\n"
    assert editor_line(indented, None, None) is None  # re-indented text parses
    fine = "def f():\n    x = 1\n    raise ValueError(x)\n"
    assert editor_line(fine, 42, 40) == 3  # a run-time error at file line 42, def at 40
    assert editor_line(fine, 10, 40) is None  # not inside the definition
    assert editor_line(fine, None, 40) is None


def test_the_editor_opens_saves_and_undoes_a_definition(shapes: Project) -> None:
    reloader = shapes.reloader
    panel = FunctionsPanel("geo.shapes", reloader=reloader)
    try:
        opened = answer(
            lambda: reloader, {"id": 1, "op": "source", "target": "geo.shapes:Shape.area"}
        )
        assert opened["ok"], opened
        assert opened["result"]["source"] == "    def area(self) -> float:\n        return 0.0\n"

        content = "def area(self) -> float:\n    return 1.0\n"
        saved = answer(
            lambda: reloader,
            {
                "id": 2,
                "op": "reload_definition",
                "target": "geo.shapes:Shape.area",
                "content": content,
                "format": False,
            },
        )
        assert saved["ok"], saved
        assert saved["result"]["recompiled"][0]["mod"] == "geo.shapes"
        assert (
            saved["result"]["source"]["source"]
            == "    def area(self) -> float:\n        return 1.0\n"
        )
        import geo.shapes  # type: ignore[import-not-found]

        assert geo.shapes.Shape().area() == 1.0
        assert panel.recompiles == 1  # the event reached the panel before the reply

        undone = answer(lambda: reloader, {"id": 3, "op": "undo"})
        assert undone["ok"], undone
        assert geo.shapes.Shape().area() == 0.0
        assert shapes.path("geo/shapes.py").read_text() == SHAPES
        listed = answer(lambda: reloader, {"id": 4, "op": "history"})
        assert listed["ok"] and listed["result"][0]["origin"] == "undo"
    finally:
        panel.close()


def test_a_failed_save_says_where_and_changes_nothing(shapes: Project) -> None:
    reloader = shapes.reloader
    target = "geo.shapes:circle"
    broken = 'def circle(r):\n    """Area of a circle."""\n    return (r *\n'
    reply = answer(
        lambda: reloader,
        {"id": 7, "op": "reload_definition", "target": target, "content": broken},
    )
    assert reply["ok"] is False and reply["id"] == 7
    assert reply["error"]["editor_line"] == 3
    assert shapes.path("geo/shapes.py").read_text() == SHAPES  # nothing written

    raising = (
        'def circle(r):\n    """Area of a circle."""\n    return r\n\n\nraise ValueError("no")\n'
    )
    reply = answer(
        lambda: reloader,
        {"id": 8, "op": "reload_definition", "target": target, "content": raising},
    )
    assert reply["ok"] is False
    assert reply["error"]["message"]


def test_a_never_imported_module_and_a_misspelt_one_each_say_what_is_true(
    project: Project,
) -> None:
    project.write("unused.py", "def helper():\n    return 1\n")
    unused = FunctionsPanel("unused", reloader=project.reloader)
    misspelt = FunctionsPanel("unsued", reloader=project.reloader)
    try:
        # Its functions are read from the file, but nothing runs from it yet.
        assert unused.status == "not_imported" and names(unused) == ["helper"]
        assert "not imported" in unused.note
        assert misspelt.status == "missing" and "check the spelling" in misspelt.note
        project.import_("unused")
        project.reload("unused.py", "def helper():\n    return 2\n")
        assert unused.status == "ok"
    finally:
        unused.close()
        misspelt.close()


# -- messages: one per reload, failures said once, pending until recompiled (SPEC 1.8, 2.2) --

RAISING = SHAPES + "\nBROKEN = 1 / 0\n"


def test_a_failure_says_its_type_once(shapes: Project) -> None:
    panel = FunctionsPanel("geo.shapes", reloader=shapes.reloader)
    log = EventLog(mods=["geo.shapes"], kinds=["compile_failed"])
    try:
        with pytest.raises(hr.ReloadError):
            shapes.reload("geo/shapes.py", RAISING)
        failed = next(e for e in shapes.events if e.kind == "compile_failed")
        assert failed.error is not None
        assert failed.error["message"] == "ZeroDivisionError: division by zero"  # the engine's
        assert panel.error is not None
        assert (panel.error["type"], panel.error["message"]) == (
            "ZeroDivisionError",
            "division by zero",
        )
        assert panel.error["lineno"] == RAISING.splitlines().index("BROKEN = 1 / 0") + 1
        assert panel.error["at"] == failed.at
        (entry,) = log.events
        assert (entry["error"]["type"], entry["error"]["message"]) == (
            "ZeroDivisionError",
            "division by zero",
        )
    finally:
        panel.close()
        log.close()


@pytest.mark.parametrize(
    ("error", "message"),
    [
        ({"type": "SyntaxError", "message": "'(' was never closed"}, "'(' was never closed"),
        ({"type": "KeyError", "message": "KeyError: 'x'"}, "'x'"),
        ({"type": "KeyboardInterrupt", "message": "KeyboardInterrupt"}, ""),
        (
            {"type": "ValueError", "message": "ValueErrors: not a prefix"},
            "ValueErrors: not a prefix",
        ),
        ({"message": None}, ""),
    ],
)
def test_error_of_keeps_the_message_without_its_type(
    error: dict[str, object], message: str
) -> None:
    shown = error_of(error, 12.5)
    assert shown["message"] == message and shown["at"] == 12.5
    assert shown["type"] == error.get("type", "Error")


def test_a_failure_stays_pending_until_the_module_recompiles_even_unchanged(
    shapes: Project,
) -> None:
    panel = FunctionsPanel("geo.shapes", reloader=shapes.reloader)
    overview = ProjectOverview(reloader=shapes.reloader)
    try:
        with pytest.raises(hr.ReloadError):
            shapes.reload("geo/shapes.py", RAISING)
        # Another module's reload does not end it.
        publish(recompiled({"functions": FUNCS, "mode": "patched"}, mod="geo.other"))
        assert panel.status == "failed" and panel.error is not None
        assert (overview.module("geo.shapes") or {}).get("status") == "failed"
        # The typo put back: the engine says "unchanged", and every panel drops the failure.
        publish(recompiled({"functions": None, "mode": "unchanged", "source_hash": "h"}))
        assert panel.status == "ok" and panel.error is None and panel.mode == "unchanged"
        shown = overview.module("geo.shapes")
        assert shown is not None and shown["status"] == "ok" and shown["error"] is None
        # A real reload does too.
        with pytest.raises(hr.ReloadError):
            shapes.reload("geo/shapes.py", RAISING)
        assert panel.status == "failed"
        shapes.reload("geo/shapes.py", SHAPES)
        assert panel.status == "ok" and (overview.module("geo.shapes") or {})["status"] == "ok"
    finally:
        panel.close()
        overview.close()


def test_each_module_event_is_numbered_for_the_front_end(shapes: Project) -> None:
    # The browser clears the last reload's message when this changes (one banner per reload).
    panel = FunctionsPanel("geo.shapes", reloader=shapes.reloader)
    try:
        assert panel.last_event is None
        shapes.reload("geo/shapes.py", SHAPES_V2)
        first = panel.last_event
        assert first is not None and (first["kind"], first["n"]) == ("recompiled", 1)
        with pytest.raises(hr.ReloadError):
            shapes.reload("geo/shapes.py", RAISING)
        assert panel.last_event is not None
        assert (panel.last_event["kind"], panel.last_event["n"]) == ("compile_failed", 2)
        publish(recompiled({"functions": FUNCS}, mod="geo.other"))
        assert panel.last_event["n"] == 2  # another module's event is not this one's
    finally:
        panel.close()


# -- reloads that wait for the running cell, old code still running (SPEC 2.5) -------------


def waiting(reason: str, mod: str = "geo.shapes", path: str | None = None) -> ModuleEvent:
    return ModuleEvent("reload_waiting", mod, path, {"reason": reason})


def test_a_waiting_reload_shows_until_the_modules_next_event(shapes: Project) -> None:
    panel = FunctionsPanel("geo.shapes", reloader=shapes.reloader)
    overview = ProjectOverview(reloader=shapes.reloader)
    log = EventLog(mods=["geo.shapes"])
    try:
        publish(waiting("a statement must run"))
        assert panel.waiting is not None and panel.waiting["reason"] == "a statement must run"
        shown = overview.module("geo.shapes")
        assert shown is not None and shown["waiting"] == panel.waiting
        assert log.events[0]["kind"] == "reload_waiting"
        assert log.events[0]["summary"] == {"reason": "a statement must run"}
        # Nothing else about the module changed meanwhile.
        assert panel.status == "ok" and panel.recompiles == 0
        shapes.reload("geo/other.py", "def other():\n    return 7\n")
        assert panel.waiting is not None  # another module's event
        shapes.reload("geo/shapes.py", SHAPES_V2)
        assert panel.waiting is None and (overview.module("geo.shapes") or {})["waiting"] is None
        publish(waiting("again"))
        with pytest.raises(hr.ReloadError):
            shapes.reload("geo/shapes.py", RAISING)
        assert panel.waiting is None and panel.status == "failed"
    finally:
        panel.close()
        overview.close()
        log.close()


RUNNING_OLD = [
    {"qualname": "circle", "thread": "MainThread"},
    {"qualname": "circle", "thread": "worker-1"},
    {"qualname": "Shape.area", "thread": "MainThread"},
]


def test_running_old_marks_stay_until_cleared(shapes: Project) -> None:
    panel = FunctionsPanel("geo.shapes", reloader=shapes.reloader)
    overview = ProjectOverview(reloader=shapes.reloader)
    try:
        publish(recompiled({"functions": FUNCS, "mode": "patched", "running_old": RUNNING_OLD}))
        assert panel.running_old == RUNNING_OLD
        # A later reload adds its own marks and keeps the ones not cleared yet.
        late = [{"qualname": "hexagon", "thread": "MainThread"}, RUNNING_OLD[0], {"bad": 1}]
        publish(recompiled({"functions": FUNCS, "mode": "patched", "running_old": late}))
        assert panel.running_old == [*RUNNING_OLD, late[0]]
        clear_running_old("geo.shapes", "circle", thread="MainThread")
        assert panel.running_old == [RUNNING_OLD[1], RUNNING_OLD[2], late[0]]
        assert (overview.module("geo.shapes") or {})["running_old"] == panel.running_old
        clear_running_old("geo.shapes", thread="MainThread")  # every function of that thread
        assert panel.running_old == [RUNNING_OLD[1]]
        clear_running_old("geo.other")  # another module's: nothing here
        assert panel.running_old == [RUNNING_OLD[1]]
        clear_running_old("geo.shapes")
        assert (
            panel.running_old == [] and (overview.module("geo.shapes") or {})["running_old"] == []
        )
    finally:
        panel.close()
        overview.close()


def test_without_running_old_matches_function_and_thread() -> None:
    state = blank_state("m", None)
    state["running_old"] = [dict(entry) for entry in RUNNING_OLD]
    assert without_running_old(state, "circle")["running_old"] == [RUNNING_OLD[2]]
    assert without_running_old(state, None, "worker-1")["running_old"] == [
        RUNNING_OLD[0],
        RUNNING_OLD[2],
    ]
    assert without_running_old(state, "nope", "MainThread")["running_old"] == RUNNING_OLD
    assert state["running_old"] == RUNNING_OLD  # not changed in place


# -- a panel opened later shows the module's last reload ------------------------------------


def test_a_panel_opened_after_reloads_shows_the_last_one(shapes: Project) -> None:
    hold = record_reloads()  # what %load_ext takes
    try:
        shapes.reload("geo/shapes.py", SHAPES_V2)
        shapes.reload("geo/shapes.py", SHAPES_V2.replace("2.598", "2.6"))
        last = [e for e in shapes.events if e.kind == "recompiled" and e.mod == "geo.shapes"][-1]
        assert last.payload is not None
        panel = FunctionsPanel("geo.shapes", reloader=shapes.reloader)
        overview = ProjectOverview(reloader=shapes.reloader)
        try:
            assert panel.recompiled_at == last.at and panel.recompiles == 2
            assert panel.mode == last.payload["mode"] and panel.mode_label is not None
            assert panel.changes == {"added": [], "changed": ["hexagon"], "removed": []}
            assert panel.source_hash == last.payload["source_hash"]
            assert names(panel) == ["circle", "hexagon", "Shape.area"]
            shown = overview.module("geo.shapes")
            assert shown is not None and shown["recompiled_at"] == last.at
            assert shown["recompiles"] == 2 and shown["changes"] == panel.changes
            # It goes on from there.
            shapes.reload("geo/shapes.py", SHAPES)
            assert panel.recompiles == 3 and panel.changes is not None
            assert panel.changes["removed"] == ["hexagon"]
        finally:
            panel.close()
            overview.close()
    finally:
        hold.release()


def test_a_panel_opened_later_shows_a_pending_failure_and_a_waiting_reload(
    shapes: Project,
) -> None:
    hold = record_reloads()
    try:
        shapes.reload("geo/shapes.py", SHAPES_V2)
        with pytest.raises(hr.ReloadError):
            shapes.reload("geo/shapes.py", "def circle(r):\n    return (r *\n")
        panel = FunctionsPanel("geo.shapes", reloader=shapes.reloader)
        try:
            assert panel.status == "failed" and panel.error is not None
            assert panel.error["type"] == "SyntaxError" and panel.error["lineno"] == 2
            # The file holds the broken text; the list is the code that runs.
            assert names(panel) == ["circle", "hexagon", "Shape.area"]
            assert panel.recompiles == 1
        finally:
            panel.close()
        publish(waiting("the cell is still running", path=str(shapes.path("geo/shapes.py"))))
        other_path = str(shapes.path("geo/other.py"))
        publish(
            recompiled(
                {"functions": FUNCS, "running_old": RUNNING_OLD[:1]}, "geo.other", other_path
            )
        )
        later = FunctionsPanel("geo.shapes", reloader=shapes.reloader)
        other = FunctionsPanel("geo.other", reloader=shapes.reloader)
        try:
            assert later.waiting is not None
            assert later.waiting["reason"] == "the cell is still running"
            assert other.running_old == RUNNING_OLD[:1]
            clear_running_old("geo.other")
            assert other.running_old == []
        finally:
            later.close()
            other.close()
        again = FunctionsPanel("geo.other", reloader=shapes.reloader)
        try:
            assert again.running_old == []  # the record was cleared too
        finally:
            again.close()
    finally:
        hold.release()


def test_the_record_forgets_with_its_last_holder_and_another_file(shapes: Project) -> None:
    before = subscriber_count()
    hold = record_reloads()
    assert subscriber_count() == before + 1
    second = record_reloads()
    assert subscriber_count() == before + 1  # one subscription, however many holders
    shapes.reload("geo/shapes.py", SHAPES_V2)
    path = str(shapes.path("geo/shapes.py"))
    assert last_state("geo.shapes", path) is not None
    assert last_state("geo.shapes", "/elsewhere/geo/shapes.py") is None  # same name, not it
    hold.release()
    hold.release()  # idempotent
    assert last_state("geo.shapes", path) is not None
    second.release()
    assert subscriber_count() == before
    assert last_state("geo.shapes", path) is None
    shapes.reloader.purge_module("geo.other")
    third = record_reloads()
    try:
        shapes.reload("geo/shapes.py", SHAPES)
        shapes.reloader.purge_module("geo.shapes")
        assert last_state("geo.shapes", path) is None  # a purged module is forgotten
    finally:
        third.release()


def test_loading_the_extension_keeps_the_record_and_unloading_releases_it(
    shapes: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    from ipython_hotreload.ipython import extension

    shell = InteractiveShell.instance()
    monkeypatch.chdir(shapes.root)
    hr.set_default_reloader(shapes.reloader)
    before = subscriber_count()
    extension.load(shell)
    try:
        shapes.reload("geo/shapes.py", SHAPES_V2)
        panel = FunctionsPanel("geo.shapes", reloader=shapes.reloader)
        try:
            assert panel.recompiles == 1 and panel.changes is not None
            assert panel.changes["added"] == ["hexagon"]
        finally:
            panel.close()
    finally:
        extension.unload(shell)
        hr.set_default_reloader(None)
    assert subscriber_count() == before
    assert last_state("geo.shapes", str(shapes.path("geo/shapes.py"))) is None


def test_importing_the_widgets_for_the_record_loads_no_widget_library() -> None:
    code = (
        "import sys, ipython_hotreload.widgets as w; w.record_reloads().release(); "
        "print(sorted(m for m in ('anywidget', 'ipywidgets') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# -- the editor's replies: a conflict's text and hash, a failure said once ----------------


def test_a_conflicting_save_replies_with_the_text_on_disk_and_its_hash(shapes: Project) -> None:
    reloader = shapes.reloader
    target = "geo.shapes:circle"
    opened = answer(lambda: reloader, {"id": 1, "op": "source", "target": target})
    # Another editor changes circle on disk after the panel opened it.
    shapes.reload("geo/shapes.py", SHAPES.replace("3.14159", "3.1416"))
    reply = answer(
        lambda: reloader,
        {
            "id": 2,
            "op": "reload_definition",
            "target": target,
            "content": "def circle(r):\n    return 3 * r * r\n",
            "expected_hash": opened["result"]["source_hash"],
        },
    )
    assert reply["ok"] is False and reply["error"]["type"] == "ConflictError"
    current = reply["error"]["current"]
    assert "3.1416" in current
    assert reply["error"]["current_hash"] == hashlib.sha256(current.encode()).hexdigest()
    assert reply["error"]["current_hash"] == reloader.source_of(target)["source_hash"]
    # "Keep mine": the same text again, over the hash of the text now on disk.
    mine = answer(
        lambda: reloader,
        {
            "id": 3,
            "op": "reload_definition",
            "target": target,
            "content": "def circle(r):\n    return 3 * r * r\n",
            "expected_hash": reply["error"]["current_hash"],
            "format": False,
        },
    )
    assert mine["ok"], mine
    assert "return 3 * r * r" in shapes.path("geo/shapes.py").read_text()


def test_a_save_that_fails_to_run_names_what_failed_once(shapes: Project) -> None:
    reloader = shapes.reloader
    content = (
        'def circle(r):\n    """Area of a circle."""\n    return r\n\n\nraise ValueError("no")\n'
    )
    reply = answer(
        lambda: reloader,
        {"id": 1, "op": "reload_definition", "target": "geo.shapes:circle", "content": content},
    )
    assert reply["ok"] is False
    assert reply["error"]["editor_line"] == 6  # the statement after the definition
    content = 'def circle(r):\n    """Area of a circle."""\n    return 1 / 0 + r\n'
    shapes.reload("geo/shapes.py", SHAPES + "\nUNIT = circle(1)\n")
    reply = answer(
        lambda: reloader,
        {"id": 2, "op": "reload_definition", "target": "geo.shapes:circle", "content": content},
    )
    assert reply["ok"] is False and reply["error"]["type"] == "ReloadError"
    assert reply["error"]["cause"] == {"type": "ZeroDivisionError", "message": "division by zero"}
    assert reply["error"]["editor_line"] == 3


def test_editor_line_points_at_a_line_unindented_out_of_the_definition() -> None:
    unindented = "def with_tax(price):\n    rate = 1.2\nreturn price * rate\n"
    assert editor_line(unindented, None, None) == 3


def test_a_line_unindented_out_of_the_definition_is_said_as_such(shapes: Project) -> None:
    content = (
        'def circle(r):\n    """Area of a circle."""\n    area = 3.14159 * r * r\nreturn area\n'
    )
    reply = answer(
        lambda: shapes.reloader,
        {"id": 1, "op": "reload_definition", "target": "geo.shapes:circle", "content": content},
    )
    assert reply["ok"] is False and reply["error"]["type"] == "HotReloadError"
    message = reply["error"]["message"]
    assert message.startswith("unexpected unindent at line 4 of the new text for circle:")
    assert "'return area' is outside def circle (line 1)" in message
    assert "nothing was written" in message
    assert reply["error"]["editor_line"] == 4
    assert shapes.path("geo/shapes.py").read_text() == SHAPES
