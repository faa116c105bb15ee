"""The panel's code editor in a real browser (SPEC §2.2): JupyterLab 4 and Notebook 7.

A user clicks a function in a FunctionsPanel and edits it in a CodeMirror editor: Python is
highlighted in the notebook's theme (light in JupyterLab, dark in Notebook 7, and JupyterLab
switched to dark on the fly), Tab, Shift+Tab and Enter indent, undo/redo and search work,
and keys typed in the editor never reach the notebook (no cell added, deleted, turned into
Markdown or run). Ctrl+S saves: a broken edit shows its error and line in place, a good one
marks the row changed; the new code runs from a cell; Undo reverts it and the editor
follows. While the panel opens, saves and undoes, the page sends no execute request and the
kernel runs no cell (no ``execute_input`` on IOPub, while the same listener does see the
reload's events): everything goes through the widget's own messages.

The editor round trip (Ctrl+S until the panel has re-rendered, measured in the page) is
printed and written to ``editor-roundtrip-<app>.json`` in the test artifacts; it is a
report, never a pass/fail condition.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.editor_page import (
    CONTRAST,
    TOKEN_COLOURS,
    PanelEditor,
    kernel_listener,
    output,
    run_cell,
)
from tests.browser.harness import ARTIFACTS, JupyterServer, NotebookDriver, write_notebook
from tests.browser.test_panels import SHAPES, make_project

pytestmark = pytest.mark.browser

DESCRIBE = '''\
def describe(self) -> str:
    """One line about the shape."""
    return f"{self.name}: {self.area:.2f}"
'''
SQUARE = '''\
def square(side: float) -> float:
    """Area of a square."""
    return side * side
'''
SQUARE_BROKEN = SQUARE.replace("return side * side", "return (side *")
SQUARE_NEW = SQUARE.replace("return side * side", "return float(side) ** 2")
TIMED_SAVES = 5


def notebook_cells() -> list[str]:
    return [
        "%load_ext ipython_hotreload\n"
        "%config HotReload.formatter = None\n"
        "import demo.scene\n"
        "from ipython_hotreload.widgets import EventLog, FunctionsPanel",
        'panel = FunctionsPanel("demo.shapes")\npanel',
        "log = EventLog()\nlog",
        "demo.shapes.square(3)",  # before the edit
        "demo.shapes.square(3)",  # after the save
        "demo.shapes.square(3)",  # after the undo
    ]


def check_highlighting(ed: PanelEditor, theme: str) -> dict[str, Any]:
    """Python tokens carry CodeMirror's classes and take the theme's own colours."""
    colours: dict[str, Any] = ed.panel.evaluate(TOKEN_COLOURS)
    assert colours["theme"] == theme, colours
    assert colours["keyword"] and colours["keyword"] == colours["keywordVar"], colours
    assert colours["string"] and colours["string"] == colours["stringVar"], colours
    assert colours["keyword"] != colours["string"], colours
    contrast = ed.page.evaluate(CONTRAST, [colours["text"], colours["background"]])
    assert (contrast["background"] < 0.1) == (theme == "dark"), (colours, contrast)
    assert contrast["ratio"] >= 4.5, (colours, contrast)
    return colours


def notebook_shape(nb: NotebookDriver) -> tuple[int, int, int]:
    """Cells, Markdown cells, execute requests sent: what a stray notebook shortcut changes."""
    cells = nb.page.locator(".jp-Notebook .jp-Cell").count()
    markdown = nb.page.locator(".jp-Notebook .jp-MarkdownCell").count()
    return cells, markdown, nb.execute_requests


def check_keys_stay_in_the_editor(ed: PanelEditor) -> None:
    """Notebook command-mode keys typed in the editor are text, not commands; undo/redo."""
    from playwright.sync_api import expect

    page, nb = ed.page, ed.nb
    before = notebook_shape(nb)
    ed.content.click()
    page.keyboard.press("Control+End")
    for key in ["a", "b", "d", "d", "m", "y", "Escape", "Shift+Enter", "Control+Enter", "x"]:
        page.keyboard.press(key)
    expect(ed.box).to_have_attribute("data-dirty", "true")
    expect(ed.box.locator(".hr-unsaved")).to_be_visible()
    typed = ed.text()
    assert typed.startswith(SQUARE) and "abddmy" in typed and typed.rstrip().endswith("x"), typed
    assert notebook_shape(nb) == before, "a key typed in the editor reached the notebook"
    assert page.locator(".jp-Dialog").count() == 0

    # Undo takes it all back, redo brings it again, and the editor is clean once more.
    for _ in range(12):
        if ed.text() == SQUARE:
            break
        page.keyboard.press("Control+z")
    assert ed.text() == SQUARE
    expect(ed.box).to_have_attribute("data-dirty", "false")
    page.keyboard.press("Control+Shift+z")
    assert ed.text() != SQUARE and "abddm" in ed.text()
    page.keyboard.press("Control+z")
    assert ed.text() == SQUARE
    page.keyboard.press("Control+y")
    assert "abddm" in ed.text()
    ed.type_over(SQUARE)
    assert notebook_shape(nb) == before


def check_indentation(ed: PanelEditor) -> None:
    """Tab indents with spaces, Shift+Tab takes them off, Enter keeps the indentation."""
    page = ed.page
    ed.content.click()
    page.keyboard.press("Control+Home")
    page.keyboard.press("Tab")
    assert ed.text() == "    " + SQUARE
    page.keyboard.press("Shift+Tab")
    assert ed.text() == SQUARE
    page.keyboard.press("End")  # the end of "def square(...) -> float:"
    page.keyboard.press("Enter")
    lines = ed.text().split("\n")
    assert lines[1] == "    " and lines[2] == '    """Area of a square."""', lines
    page.keyboard.press("Control+z")
    assert ed.text() == SQUARE


def check_search(ed: PanelEditor) -> None:
    """Ctrl+F opens the editor's own search (not the notebook's); Enter finds, Escape closes."""
    from playwright.sync_api import expect

    page = ed.page
    ed.content.click()
    page.keyboard.press("Control+Home")
    page.keyboard.press("Control+f")
    field = ed.code.locator(".cm-search input[name=search]")
    expect(field).to_be_focused()
    assert page.locator(".jp-DocumentSearch-overlay").count() == 0
    page.keyboard.type("side")
    page.keyboard.press("Enter")
    expect(ed.code.locator(".cm-searchMatch-selected")).to_have_text("side")
    expect(ed.code.locator(".cm-searchMatch")).to_have_count(3)  # (side, side * side
    page.keyboard.press("Escape")
    expect(ed.code.locator(".cm-search")).to_have_count(0)
    assert ed.text() == SQUARE


def run_editor_scenario(nb: NotebookDriver, root: Path, theme: str) -> list[float]:
    """The whole user story on an open notebook; returns the timed saves' round trips (ms)."""
    from playwright.sync_api import expect

    nb.select_first()
    nb.run(0, 1)
    nb.run(1, 2)
    nb.run(2, 3)
    log = nb.cell(2).locator(".hr-root[data-panel=events]")
    nb.run(3, 4)
    expect(output(nb, 3)).to_have_text("9")
    nb.wait_idle()
    sent_before = nb.execute_requests
    assert sent_before == 4
    file = root / "demo" / "shapes.py"
    ed = PanelEditor(nb, 1)
    row = ed.row("square")

    with kernel_listener(nb.server, nb.kernel_id) as seen:
        # A method opens dedented, in an editor inside the panel.
        ed.open("Shape.describe")
        assert ed.text() == DESCRIBE.rstrip("\n") + "\n"
        ed.open("square")
        expect(row).to_have_class(re.compile(r"\bhr-editing\b"))
        assert ed.text() == SQUARE
        check_highlighting(ed, theme)
        check_keys_stay_in_the_editor(ed)
        check_indentation(ed)
        check_search(ed)

        # A broken edit: the error and its line in place, the text kept, the file untouched.
        ed.save(SQUARE_BROKEN)
        expect(ed.outcome).to_have_attribute("data-kind", "error")
        expect(ed.outcome).to_contain_text("line 3 of the editor")
        expect(ed.code.locator(".hr-error-line")).to_have_count(1)
        assert ed.text() == SQUARE_BROKEN
        assert file.read_text() == SHAPES
        expect(ed.panel).to_have_attribute("data-status", "ok")

        # The fixed edit: saved, the row marked changed, the mode shown.
        renders_before = int(ed.panel.get_attribute("data-renders") or "0")
        ed.save(SQUARE_NEW)
        expect(ed.outcome).to_have_attribute("data-kind", "ok")
        expect(ed.outcome).to_contain_text("saved demo.shapes")
        expect(ed.code.locator(".hr-error-line")).to_have_count(0)
        expect(row).to_have_attribute("data-change", "changed")
        expect(row.locator(".hr-mark")).to_have_text("changed")
        expect(ed.panel.locator(".hr-header .hr-mode")).to_have_text("patched")
        expect(ed.box).to_have_attribute("data-dirty", "false")
        assert int(ed.panel.get_attribute("data-renders") or "0") > renders_before
        assert file.read_text() == SHAPES.replace("return side * side", "return float(side) ** 2")
        first_ms = float(ed.panel.get_attribute("data-save-ms") or "nan")

        # demo.scene calls square() at import time, so it ran again: its row says after what.
        dependent = log.locator(".hr-event[data-mod='demo.scene'][data-kind=recompiled]")
        expect(dependent).to_have_count(1)
        expect(dependent).to_have_attribute("data-after", "demo.shapes")
        expect(dependent.locator(".hr-detail")).to_contain_text("after demo.shapes (compile)")
    assert nb.execute_requests == sent_before, "the page sent an execute_request"
    assert seen["executed"] == [], "the kernel executed code for the editor"
    assert ("recompiled", "demo.shapes") in [(e["kind"], e["mod"]) for e in seen["events"]]
    expect(nb.prompt(1)).to_have_text("[2]:")

    # The new code runs, from a cell.
    run_cell(nb, 4, 5)
    expect(output(nb, 4)).to_have_text("9.0")

    # Undo: the file and the editor are back to the old text, again without a cell.
    nb.wait_idle()
    sent_before = nb.execute_requests
    with kernel_listener(nb.server, nb.kernel_id) as seen:
        ed.panel.locator(".hr-header .hr-button-undo").click()
        expect(ed.panel).to_have_attribute("data-undos", "1")
        expect(ed.outcome).to_contain_text("undid the last reload (demo.shapes")
        assert file.read_text() == SHAPES
        expect(ed.content).to_have_text(re.compile(r"return side \* side"))
        assert ed.text() == SQUARE
    assert nb.execute_requests == sent_before, "the page sent an execute_request"
    assert seen["executed"] == [], "the kernel executed code for the undo"
    assert ("recompiled", "demo.shapes") in [(e["kind"], e["mod"]) for e in seen["events"]]
    run_cell(nb, 5, 6)
    expect(output(nb, 5)).to_have_text("9")

    # The round trip, a few more times, for the report.
    timings = [first_ms]
    ed.open("square")
    for i in range(TIMED_SAVES):
        ed.save(SQUARE_NEW.replace("** 2", f"** 2 + {i}"))
        expect(ed.outcome).to_have_attribute("data-kind", "ok")
        timings.append(float(ed.panel.get_attribute("data-save-ms") or "nan"))
    return timings


def switch_lab_theme(page: Any, name: str) -> None:
    """Settings > Theme > ``name``, as a user picks it from JupyterLab's menu."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
    page.locator(".lm-Menu-itemLabel", has_text="Theme").first.hover()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{name}$")).click()


def report_roundtrip(app: str, timings: list[float]) -> None:
    median = statistics.median(timings)
    line = (
        f"{app}: editor round trip (Ctrl+S -> panel re-rendered) median {median:.1f} ms "
        f"over {len(timings)} saves: {', '.join(f'{t:.1f}' for t in timings)}"
    )
    print(line)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"editor-roundtrip-{app}.json").write_text(
        json.dumps({"app": app, "median_ms": median, "samples_ms": timings, "note": line}, indent=1)
    )


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_a_user_edits_a_function_in_the_panel_and_undoes_it(
    app: str, browser: Any, jupyter_servers: dict[str, JupyterServer]
) -> None:
    from playwright.sync_api import expect

    t0 = time.monotonic()
    server = jupyter_servers[app]
    root = server.root / "editor"
    root.mkdir()
    make_project(root)
    name = "editor/edit.ipynb"
    write_notebook(root / "edit.ipynb", notebook_cells())
    page = browser.new_page(viewport={"width": 1200, "height": 1100})
    page.set_default_timeout(30_000)
    nb = NotebookDriver(page, server, name)
    theme = "dark" if app == "notebook" else "light"  # the fixture serves Notebook 7 dark
    try:
        nb.open()
        timings = run_editor_scenario(nb, root, theme)
        ed = PanelEditor(nb, 1)
        ed.panel.screenshot(path=str(ARTIFACTS / f"editor-{app}.png"))
        if app == "lab":
            # The editor follows a theme switch at once, without being re-opened.
            light = check_highlighting(ed, "light")
            switch_lab_theme(page, "JupyterLab Dark")
            expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false")
            expect(ed.code).to_have_attribute("data-theme", "dark")
            dark = check_highlighting(ed, "dark")
            assert dark["keyword"] != light["keyword"] and dark["string"] != light["string"]
            ed.panel.screenshot(path=str(ARTIFACTS / "editor-lab-dark.png"))
            switch_lab_theme(page, "JupyterLab Light")
            expect(ed.code).to_have_attribute("data-theme", "light")
    except BaseException:
        nb.screenshot(f"editor-{app}-failure.png")
        raise
    finally:
        page.close()
    report_roundtrip(app, timings)
    print(f"{app}: editor test {time.monotonic() - t0:.1f}s")
