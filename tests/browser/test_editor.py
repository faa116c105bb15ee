"""The panel editor in a real browser (SPEC §2.2): JupyterLab 4 and Notebook 7.

A user clicks a function in a FunctionsPanel, edits it in the panel, saves with Ctrl+S,
sees the row marked changed, calls the function from a cell, and undoes the edit. While
the panel opens, saves and undoes, the page sends no execute request and the kernel runs
no cell (no ``execute_input`` on IOPub, while the same listener does see the reload's
events): everything goes through the widget's own messages.

The editor round trip (Ctrl+S until the panel has re-rendered, measured in the page) is
printed and written to ``editor-roundtrip-<app>.json`` in the test artifacts; it is a
report, never a pass/fail condition.
"""

from __future__ import annotations

import json
import re
import statistics
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

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


@contextmanager
def kernel_listener(server: JupyterServer, kernel_id: str) -> Iterator[dict[str, list[Any]]]:
    """Listen to the notebook's kernel from outside the page: every IOPub message of the
    time, sorted into ``executed`` (``execute_input``) and ``events`` (hot-reload events)."""
    from jupyter_client import BlockingKernelClient

    from ipython_hotreload.client import HotReloadClient

    seen: dict[str, list[Any]] = {"executed": [], "events": []}
    kc = BlockingKernelClient(connection_file=str(server.connection_file(kernel_id)))
    kc.load_connection_file()
    kc.start_channels()
    client = HotReloadClient(
        kc,
        on_other=lambda msg: (
            seen["executed"].append(msg) if msg["msg_type"] == "execute_input" else None
        ),
    )
    try:
        client.open()  # its hello came over IOPub: the listener hears the kernel from here on
        yield seen
        client.pump(0.3)
        seen["events"] = list(client.events())
    finally:
        client.close()
        kc.stop_channels()


def editor_text(panel: Any) -> str:
    text: str = panel.locator("textarea.hr-editor-text").input_value()
    return text


def save(page: Any, panel: Any, content: str) -> None:
    """Replace the editor's text like a user pasting it, then press Ctrl+S; wait for the reply."""
    from playwright.sync_api import expect

    area = panel.locator("textarea.hr-editor-text")
    saves = int(panel.get_attribute("data-saves") or "0")
    area.fill(content)
    area.press("Control+s")
    expect(panel).to_have_attribute("data-saves", str(saves + 1))


def output(nb: NotebookDriver, i: int) -> Any:
    return nb.cell(i).locator(".jp-OutputArea-output")


def run_cell(nb: NotebookDriver, i: int, count: int) -> None:
    """Select cell ``i`` (a click in the panel selected the panel's cell) and run it."""
    nb.prompt(i).click()
    nb.run(i, count)


def run_editor_scenario(nb: NotebookDriver, root: Path) -> list[float]:
    """The whole user story on an open notebook; returns the timed saves' round trips (ms)."""
    from playwright.sync_api import expect

    page = nb.page
    nb.select_first()
    nb.run(0, 1)
    nb.run(1, 2)
    panel = nb.cell(1).locator(".hr-root[data-panel=functions]")
    nb.run(2, 3)
    log = nb.cell(2).locator(".hr-root[data-panel=events]")
    nb.run(3, 4)
    expect(output(nb, 3)).to_have_text("9")
    nb.wait_idle()
    sent_before = nb.execute_requests
    assert sent_before == 4
    file = root / "demo" / "shapes.py"
    editor = panel.locator(".hr-editor")
    outcome = panel.locator(".hr-outcome")
    area = panel.locator("textarea.hr-editor-text")
    row = panel.locator("tr[data-qualname=square]")

    with kernel_listener(nb.server, nb.kernel_id) as seen:
        # A method opens dedented, in an editor inside the panel.
        panel.locator("tr[data-qualname='Shape.describe']").click()
        expect(editor).to_be_visible()
        expect(editor.locator(".hr-editor-title")).to_have_text("Shape.describe")
        assert editor_text(panel) == DESCRIBE

        row.click()
        expect(editor.locator(".hr-editor-title")).to_have_text("square")
        expect(row).to_have_class(re.compile(r"\bhr-editing\b"))
        assert editor_text(panel) == SQUARE

        # Tab indents with spaces, Shift+Tab takes them away again.
        area.press("Control+Home")
        area.press("Tab")
        assert editor_text(panel) == "    " + SQUARE
        area.press("Shift+Tab")
        assert editor_text(panel) == SQUARE

        # A broken edit: the error and its line in place, the text kept, the file untouched.
        save(page, panel, SQUARE_BROKEN)
        expect(outcome).to_have_attribute("data-kind", "error")
        expect(outcome).to_contain_text("line 3 of the editor")
        assert editor_text(panel) == SQUARE_BROKEN
        assert file.read_text() == SHAPES
        expect(panel).to_have_attribute("data-status", "ok")

        # The fixed edit: saved, the row marked changed, the mode shown.
        renders_before = int(panel.get_attribute("data-renders") or "0")
        save(page, panel, SQUARE_NEW)
        expect(outcome).to_have_attribute("data-kind", "ok")
        expect(outcome).to_contain_text("saved demo.shapes")
        expect(row).to_have_attribute("data-change", "changed")
        expect(row.locator(".hr-mark")).to_have_text("changed")
        expect(panel.locator(".hr-header .hr-mode")).to_have_text("patched")
        assert int(panel.get_attribute("data-renders") or "0") > renders_before
        assert file.read_text() == SHAPES.replace("return side * side", "return float(side) ** 2")
        first_ms = float(panel.get_attribute("data-save-ms") or "nan")

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
        panel.locator(".hr-header .hr-undo").click()
        expect(panel).to_have_attribute("data-undos", "1")
        expect(outcome).to_contain_text("undid the last reload (demo.shapes")
        assert file.read_text() == SHAPES
        expect(area).to_have_value(SQUARE)
    assert nb.execute_requests == sent_before, "the page sent an execute_request"
    assert seen["executed"] == [], "the kernel executed code for the undo"
    assert ("recompiled", "demo.shapes") in [(e["kind"], e["mod"]) for e in seen["events"]]
    run_cell(nb, 5, 6)
    expect(output(nb, 5)).to_have_text("9")

    # The round trip, a few more times, for the report.
    timings = [first_ms]
    for i in range(TIMED_SAVES):
        save(page, panel, SQUARE_NEW.replace("** 2", f"** 2 + {i}"))
        expect(outcome).to_have_attribute("data-kind", "ok")
        timings.append(float(panel.get_attribute("data-save-ms") or "nan"))
    return timings


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


def contrast(panel: Any) -> dict[str, float]:
    """The editor's text against its background, as a WCAG contrast ratio."""
    result: dict[str, float] = panel.evaluate(
        textwrap.dedent(
            """
            root => {
              const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
              const lum = ([r, g, b]) => {
                const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
                return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
              };
              const area = getComputedStyle(root.querySelector("textarea.hr-editor-text"));
              const bg = lum(rgb(area.backgroundColor)), fg = lum(rgb(area.color));
              return { bg, ratio: (Math.max(bg, fg) + 0.05) / (Math.min(bg, fg) + 0.05) };
            }
            """
        )
    )
    return result


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_a_user_edits_a_function_in_the_panel_and_undoes_it(
    app: str, browser: Any, jupyter_servers: dict[str, JupyterServer]
) -> None:
    t0 = time.monotonic()
    server = jupyter_servers[app]
    root = server.root / "editor"
    root.mkdir()
    make_project(root)
    name = "editor/edit.ipynb"
    write_notebook(root / "edit.ipynb", notebook_cells())
    page = browser.new_page(viewport={"width": 1200, "height": 1000})
    page.set_default_timeout(30_000)
    nb = NotebookDriver(page, server, name)
    try:
        nb.open()
        timings = run_editor_scenario(nb, root)
        panel = nb.cell(1).locator(".hr-root[data-panel=functions]")
        ratio = contrast(panel)
        dark = app == "notebook"  # the fixture serves Notebook 7 in the dark theme
        assert (ratio["bg"] < 0.1) == dark, ratio
        assert ratio["ratio"] >= 4.5, ratio
        panel.screenshot(path=str(ARTIFACTS / f"editor-{app}.png"))
    except BaseException:
        nb.screenshot(f"editor-{app}-failure.png")
        raise
    finally:
        page.close()
    report_roundtrip(app, timings)
    print(f"{app}: editor test {time.monotonic() - t0:.1f}s")
