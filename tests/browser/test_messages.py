"""What the panels say, and for how long (SPEC §1.8, §2.2, §2.5), in JupyterLab 4 and
Notebook 7.

- A panel opened after several reloads shows the module's last reload (when, how many
  times, its mode, what it changed), not "not recompiled yet"; the project panel too.
- One message per reload: after the panel's Undo ("undid the last reload") a failing
  reload from a cell shows its failure alone, its type said once; a later reload of the
  module ends the failure in every panel.
- A reload waiting for the running cell (``reload_waiting``) shows as "waiting for the
  running cell: <reason>" in the module panel, the project panel and the event log until
  the module's next event; functions whose old code still runs are marked with the thread
  until ``clear_running_old`` takes the marks off. (The events are published from a cell,
  as the engine publishes them.)
- A save the kernel has but cannot apply while a cell runs says "saving…" under the editor
  while the module's banner says the reload waits for the running cell; then how it went,
  and the banner goes. (Where the page cannot even reach the kernel during a cell, the
  editor says so itself: test_beside_cells.py.)
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.browser.editor_page import PanelEditor, output, run_cell
from tests.browser.harness import ARTIFACTS, JupyterServer, NotebookDriver, write_notebook
from tests.browser.test_panels import SHAPES, SHAPES_V2, make_project

pytestmark = pytest.mark.browser

SHAPES_V3 = SHAPES_V2.replace("return float(side * side)", "return float(side) * side")
RAISING = SHAPES + "\nBROKEN = 1 / 0\n"
RAISING_LINE = RAISING.splitlines().index("BROKEN = 1 / 0") + 1
REASON = "a statement must run: DATA = load()"
SQUARE_SAVED = '''\
def square(side: float) -> float:
    """Area of a square."""
    return side * side * 1
'''


def cells() -> list[str]:
    path = "str(pathlib.Path('demo/shapes.py').resolve())"
    return [
        "%load_ext ipython_hotreload\n"
        "%config HotReload.formatter = None\n"
        "import pathlib, time\n"
        "import demo.scene\n"
        "from ipython_hotreload.core.defaults import default_reloader\n"
        "from ipython_hotreload.core.events import ModuleEvent, publish\n"
        "from ipython_hotreload.widgets import FunctionsPanel, clear_running_old",
        "%%hotreload demo/shapes.py\n" + SHAPES_V2,
        "%%hotreload demo/shapes.py\n" + SHAPES_V3,
        'FunctionsPanel("demo.shapes")',  # 3: opened after two reloads
        "%hotreload panel",  # 4: the project panel and the event log
        "%%hotreload demo/shapes.py\n" + RAISING,  # 5: fails
        "%%hotreload demo/shapes.py\n" + SHAPES,  # 6: the failure ends
        f'publish(ModuleEvent("reload_waiting", "demo.shapes", {path}, {{"reason": "{REASON}"}}))',
        "publish(ModuleEvent('recompiled', 'demo.shapes', "
        f"{path}, {{'mod': 'demo.shapes', 'source_hash': None, "
        "'functions': default_reloader().functions('demo.shapes'), 'mode': 'patched', "
        "'running_old': [{'qualname': 'square', 'thread': 'MainThread'}]}))",
        'clear_running_old("demo.shapes", "square")',  # 9
        # 10: a long cell that no reload may run beside (it holds the reload lock; ipykernel 7
        # answers the panel's messages beside a plain running cell, on a subshell), which
        # says so as the engine does for a reload it makes wait for the cell
        "with default_reloader().lock:\n"
        f'    publish(ModuleEvent("reload_waiting", "demo.shapes", {path}, '
        f'{{"reason": "{REASON}"}}))\n'
        "    time.sleep(4)",
        "demo.shapes.square(3)",  # 11
    ]


def messages_scenario(nb: NotebookDriver, app: str) -> None:
    from playwright.sync_api import expect

    nb.select_first()
    for i in range(3):
        nb.run(i, i + 1)
    nb.run(3, 4)
    ed = PanelEditor(nb, 3)
    panel = ed.panel
    meta = panel.locator(".hr-header .hr-meta")
    expect(meta).to_contain_text(re.compile(r"recompiled \d\d:\d\d:\d\d \(2 times\)"))
    expect(panel.locator(".hr-header .hr-mode")).to_have_text("patched")
    expect(ed.row("square")).to_have_attribute("data-change", "changed")
    nb.run(4, 5)
    overview = nb.cell(4).locator(".hr-root[data-panel=overview]")
    shapes = overview.locator("details[data-mod='demo.shapes']")
    expect(shapes.locator("summary .hr-meta")).to_contain_text("(2 times)")
    log = nb.cell(4).locator(".hr-root[data-panel=events]")
    panel.screenshot(path=str(ARTIFACTS / f"late-panel-{app}.png"))

    # Undo from the panel, then a failing reload from a cell: only the failure shows.
    panel.locator(".hr-header .hr-button-undo").click()
    expect(ed.outcome).to_contain_text("undid the last reload (demo.shapes")
    run_cell(nb, 5, 6)
    expect(panel).to_have_attribute("data-status", "failed")
    expect(ed.outcome).to_be_hidden()
    expect(panel.locator(".hr-banner")).to_have_count(1)
    banner = panel.locator(".hr-banner-failed")
    expect(banner).to_contain_text(f"ZeroDivisionError at line {RAISING_LINE}: division by zero")
    assert "ZeroDivisionError: division" not in banner.inner_text()
    expect(shapes).to_have_attribute("data-status", "failed")
    failed_row = log.locator(".hr-event[data-kind=compile_failed] .hr-detail").first
    expect(failed_row).to_have_text(f"ZeroDivisionError at line {RAISING_LINE}: division by zero")
    panel.screenshot(path=str(ARTIFACTS / f"failure-after-undo-{app}.png"))

    # The module reloads again: the failure ends everywhere.
    run_cell(nb, 6, 7)
    expect(panel).to_have_attribute("data-status", "ok")
    expect(panel.locator(".hr-banner")).to_have_count(0)
    expect(shapes).to_have_attribute("data-status", "ok")

    # A reload waiting for the running cell: shown in all three until the next event.
    run_cell(nb, 7, 8)
    waiting = f"waiting for the running cell: {REASON}"
    expect(panel.locator(".hr-banner-waiting")).to_have_text(re.compile(re.escape(waiting)))
    expect(shapes).to_have_attribute("data-waiting", "true")
    expect(shapes.locator(".hr-banner-waiting")).to_contain_text(waiting)
    waiting_row = log.locator(".hr-event[data-kind=reload_waiting] .hr-detail")
    expect(waiting_row).to_have_text(waiting)
    panel.screenshot(path=str(ARTIFACTS / f"waiting-{app}.png"))
    run_cell(nb, 8, 9)
    expect(panel.locator(".hr-banner-waiting")).to_have_count(0)
    expect(shapes).not_to_have_attribute("data-waiting", "true")
    expect(waiting_row).to_have_text(f"waited for the running cell: {REASON}")
    # ... and that reload's payload marks square as still running its old code.
    old = ed.row("square").locator(".hr-mark-old")
    expect(old).to_have_text("running the old version in MainThread")
    expect(shapes.locator("tr[data-qualname=square] .hr-mark-old")).to_have_count(1)
    panel.screenshot(path=str(ARTIFACTS / f"running-old-{app}.png"))
    run_cell(nb, 9, 10)
    expect(old).to_have_count(0)
    expect(shapes.locator("tr[data-qualname=square] .hr-mark-old")).to_have_count(0)

    # A save the kernel holds until the cell ends: "saving…" below, the reason above.
    ed.open("square")
    ed.type_over(SQUARE_SAVED)
    nb.prompt(10).click()
    nb.page.keyboard.press("Shift+Enter")
    expect(panel.locator(".hr-banner-waiting")).to_contain_text(waiting)
    ed.content.click()
    nb.page.keyboard.press("Control+s")
    expect(ed.outcome).to_have_attribute("data-kind", "busy")
    expect(ed.outcome).to_have_text("saving…")
    expect(panel.locator(".hr-banner")).to_have_count(1)
    panel.screenshot(path=str(ARTIFACTS / f"save-waiting-{app}.png"))
    expect(ed.outcome).to_have_attribute("data-kind", "ok", timeout=30_000)
    expect(ed.outcome).to_contain_text("saved demo.shapes")
    expect(panel.locator(".hr-banner-waiting")).to_have_count(0)
    expect(nb.prompt(10)).to_have_text("[11]:")
    run_cell(nb, 11, 12)
    expect(output(nb, 11)).to_have_text("9")


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_panels_say_each_reloads_outcome_once_and_for_as_long_as_it_holds(
    app: str, browser: Any, jupyter_servers: dict[str, JupyterServer]
) -> None:
    t0 = time.monotonic()
    server = jupyter_servers[app]
    root = server.root / app
    make_project(root)
    write_notebook(root / "messages.ipynb", cells())
    page = browser.new_page(viewport={"width": 1200, "height": 1100})
    page.set_default_timeout(30_000)
    nb = NotebookDriver(page, server, f"{app}/messages.ipynb")
    try:
        nb.open()
        messages_scenario(nb, app)
    except BaseException:
        nb.screenshot(f"messages-{app}-failure.png")
        raise
    finally:
        page.close()
    print(f"{app}: messages test {time.monotonic() - t0:.1f}s")
