"""Saves from the panel's editor while a cell runs (SPEC §2.5), in JupyterLab 4 and
Notebook 7, with real kernels (ipykernel 7 answers the panel on a subshell, beside the cell).

- A save that only changes a function's code reaches the running loop: the outcome shows
  under the editor while the cell still runs, and the loop, which prints each value it sees
  the moment it sees it, saw the new one before the test let it stop.
- A save that must run a statement (``DATA = load()`` reads the edited ``load``) waits for
  the cell: the panel says "waiting for the running cell: ..." and "saving…" meanwhile, the
  loop never sees the new ``DATA``; once the cell ends the reload applies, the banner goes,
  the outcome says what ran, and the next cell sees the new ``DATA``.
- A patch of a function whose old version is running in the cell marks its row "running
  the old version in MainThread"; the mark comes off once that call returns, while the cell
  is still running (the kernel's watch of old frames, not the cell's end, takes it off).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.editor_page import PanelEditor, output
from tests.browser.harness import ARTIFACTS, JupyterServer
from tests.browser.live_project import (
    LOAD_NEW,
    LONG_CALL_NEW,
    SETUP,
    STEP_NEW,
    loop_cell,
    open_live_notebook,
    start_cell,
    still_running,
    waiting_banner,
)

pytestmark = pytest.mark.browser

BEFORE = "('old', [1, 2, 3])"
PATCHED = "('new', [1, 2, 3])"
RELOADED = "('new', [4, 5, 6])"


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_saves_from_the_panel_reach_a_running_loop_or_wait_for_it(
    app: str, browser: Any, jupyter_servers: dict[str, JupyterServer]
) -> None:
    from playwright.sync_api import expect

    server = jupyter_servers[app]
    name = f"loop-{app}"
    root = server.root / name
    first, second = root / "stop-first", root / "stop-second"
    cells = [
        SETUP,
        'panel = FunctionsPanel("live.work")\npanel',
        loop_cell(first),
        loop_cell(second),
        "live.work.step(), live.work.DATA",
    ]
    nb = open_live_notebook(browser, server, name, cells)
    try:
        nb.select_first()
        nb.run(0, 1)
        nb.run(1, 2)
        ed = PanelEditor(nb, 1)
        expect(ed.panel).to_have_attribute("data-status", "ok")

        # 1. A patch: it reaches the loop while the loop runs.
        start_cell(nb, 2)
        expect(output(nb, 2)).to_contain_text(f"saw {BEFORE} (stop file there: False)")
        ed.open("step")
        ed.save(STEP_NEW)
        expect(ed.outcome).to_have_attribute("data-kind", "ok")
        expect(ed.outcome).to_contain_text("saved live.work · patched")
        expect(ed.row("step")).to_have_attribute("data-change", "changed")
        expect(output(nb, 2)).to_contain_text(f"saw {PATCHED} (stop file there: False)")
        still_running(nb, 2)
        expect(waiting_banner(ed)).to_have_count(0)
        ed.panel.screenshot(path=str(ARTIFACTS / f"running-loop-patched-{app}.png"))
        first.touch()
        expect(nb.prompt(2)).to_have_text("[3]:")
        expect(output(nb, 2)).to_contain_text(f"the loop ended, having seen [{BEFORE}, {PATCHED}]")

        # 2. A save that must run a statement: it waits for the cell, and says so.
        start_cell(nb, 3)
        expect(output(nb, 3)).to_contain_text(f"saw {PATCHED} (stop file there: False)")
        ed.open("load")
        ed.type_over(LOAD_NEW)
        nb.page.keyboard.press("Control+s")
        banner = waiting_banner(ed)
        expect(banner).to_contain_text(
            re.compile(r"waiting for the running cell: .*DATA = load\(\).* must run")
        )
        expect(ed.outcome).to_have_attribute("data-kind", "busy")
        expect(ed.outcome).to_have_text("saving…")
        expect(ed.panel).to_have_attribute("data-waiting", "true")
        still_running(nb, 3)
        ed.panel.screenshot(path=str(ARTIFACTS / f"running-loop-waiting-{app}.png"))
        nb.screenshot(f"running-loop-waiting-{app}-page.png")
        second.touch()
        expect(nb.prompt(3)).to_have_text("[4]:")
        expect(output(nb, 3)).to_contain_text(f"the loop ended, having seen [{PATCHED}]")
        expect(banner).to_have_count(0)
        expect(ed.outcome).to_have_attribute("data-kind", "ok")
        expect(ed.outcome).to_contain_text("saved live.work · partial: 1 statement")
        expect(ed.row("load")).to_have_attribute("data-change", "changed")
        expect(ed.panel.locator(".hr-header .hr-mode")).to_have_text("partial: 1 statement")
        ed.panel.screenshot(path=str(ARTIFACTS / f"running-loop-applied-{app}.png"))
        nb.prompt(4).click()
        nb.run(4, 5)
        expect(output(nb, 4)).to_have_text(RELOADED)
    except BaseException:
        nb.screenshot(f"running-loop-{app}-failure.png")
        raise
    finally:
        first.touch()
        second.touch()
        nb.page.close()


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_a_function_running_its_old_version_is_marked_until_the_call_returns(
    app: str, browser: Any, jupyter_servers: dict[str, JupyterServer]
) -> None:
    from playwright.sync_api import expect

    server = jupyter_servers[app]
    name = f"old-{app}"
    root = server.root / name
    call_ends, cell_ends = root / "call-ends", root / "cell-ends"
    cells = [
        SETUP,
        'panel = FunctionsPanel("live.work")\npanel',
        f"print('the first call returned', live.work.long_call({str(call_ends)!r}), flush=True)\n"
        f"while not os.path.exists({str(cell_ends)!r}):\n"
        "    time.sleep(0.05)\n"
        f"print('the second call returned', live.work.long_call({str(call_ends)!r}))",
    ]
    nb = open_live_notebook(browser, server, name, cells)
    try:
        nb.select_first()
        nb.run(0, 1)
        nb.run(1, 2)
        ed = PanelEditor(nb, 1)
        expect(ed.panel).to_have_attribute("data-status", "ok")
        start_cell(nb, 2)
        expect(output(nb, 2)).to_contain_text("long_call runs")  # inside the old version

        ed.open("long_call")
        ed.save(LONG_CALL_NEW)
        expect(ed.outcome).to_contain_text("saved live.work · patched")
        row = ed.row("long_call")
        mark = row.locator(".hr-mark-old")
        expect(mark).to_have_text("running the old version in MainThread")
        expect(row).to_have_attribute("data-running-old", "MainThread")
        expect(ed.row("step").locator(".hr-mark-old")).to_have_count(0)
        ed.panel.screenshot(path=str(ARTIFACTS / f"running-old-live-{app}.png"))

        # The old call returns (with the old code); the cell goes on running, the mark goes.
        call_ends.touch()
        expect(output(nb, 2)).to_contain_text("the first call returned old")
        expect(mark).to_have_count(0)
        expect(row).not_to_have_attribute("data-running-old", re.compile(".*"))
        still_running(nb, 2)
        expect(row).to_have_attribute("data-change", "changed")
        ed.panel.screenshot(path=str(ARTIFACTS / f"running-old-cleared-{app}.png"))

        # The next call runs the new code.
        cell_ends.touch()
        expect(nb.prompt(2)).to_have_text("[3]:")
        expect(output(nb, 2)).to_contain_text("the second call returned new")
    except BaseException:
        nb.screenshot(f"running-old-{app}-failure.png")
        raise
    finally:
        call_ends.touch()
        cell_ends.touch()
        nb.page.close()
