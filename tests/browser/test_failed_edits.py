"""Failed edits in the panels (SPEC §1.8, §2.2, §2.3), in JupyterLab 4 and Notebook 7.

- A broken file saved by another editor while ``%hotreload watch`` runs, between cells and
  again while a cell runs: the module panel shows the failure with its line, the event log
  too, and the line ``%hotreload watch`` displayed says the edit did not reload; the output
  of the cell that ran last (or runs) stays as it was. Writing back the text the module runs
  ends the failure everywhere: the module is recompiled, ``unchanged``. A listener on the
  kernel's IOPub channel checks that nothing was printed at all: JupyterLab 4 and Notebook 7
  drop output that arrives for a cell that has finished, so a print between cells would be
  lost rather than seen in the page (a frontend that routes it to the last cell shows it).
- A pending failed edit never blocks: after a ``%%hotreload`` cell of one module fails at
  import time, a save of another module from the panel's editor succeeds, and so does a
  ``%%hotreload`` cell of it, whose summary names the module still holding a failed edit;
  the failed module keeps running its old code and its failure stays shown meanwhile.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.editor_page import PanelEditor, kernel_listener, output, run_cell
from tests.browser.harness import ARTIFACTS, JupyterServer, NotebookDriver
from tests.browser.live_project import (
    PRICES,
    SETUP,
    STEP_NEW,
    WORK,
    open_live_notebook,
    start_cell,
    still_running,
)

pytestmark = pytest.mark.browser

WORK_BROKEN = WORK.replace('    return "old"\n', '    return "old" +\n', 1)
BROKEN_LINE = WORK_BROKEN.splitlines().index('    return "old" +') + 1
LAST_CELL = "the last cell ran"
WATCHING = "hotreload: watching the project roots for changes made by other editors"

PRICES_RAISING = PRICES.replace("RATE = 0.2\n", "RATE = 0.2\nCHECK = 1 / 0\n")
RAISING_LINE = PRICES_RAISING.splitlines().index("CHECK = 1 / 0") + 1
WORK_NEWER = WORK.replace('    return "old"\n', '    return "newer"\n', 1)


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_a_broken_file_from_another_editor_shows_in_the_panels_and_the_watch_line(
    app: str, browser: Any, jupyter_servers: dict[str, JupyterServer]
) -> None:
    from playwright.sync_api import expect

    server = jupyter_servers[app]
    name = f"watch-{app}"
    stop = server.root / name / "stop"
    cells = [
        SETUP,
        "%hotreload watch",
        'panel = FunctionsPanel("live.work")\npanel',
        "EventLog()",
        f"print({LAST_CELL!r})",
        f"while not os.path.exists({str(stop)!r}):\n"
        "    time.sleep(0.05)\n"
        "print('the running cell ended')",
    ]
    nb = open_live_notebook(browser, server, name, cells)
    try:
        nb.select_first()
        for i in range(5):
            nb.run(i, i + 1)
        expect(nb.cell(1).locator(".jp-OutputArea-output")).to_have_text(WATCHING)
        expect(PanelEditor(nb, 2).panel).to_have_attribute("data-status", "ok")
        expect(output(nb, 4)).to_have_text(LAST_CELL)
        nb.wait_idle()
        sent = nb.execute_requests

        with kernel_listener(server, nb.kernel_id) as seen:
            break_and_put_back(nb, app, "between-cells")
            nb.wait_idle()
        # Nothing of it in the cell that ran last, nor printed anywhere; no cell ran.
        expect(output(nb, 4)).to_have_text(LAST_CELL)
        assert seen["streams"] == [], [m["content"] for m in seen["streams"]]
        assert seen["executed"] == []
        assert nb.execute_requests == sent
        check_events(seen["events"])
        nb.screenshot(f"watch-{app}-page.png")

        # Again while a cell runs: its output is its own.
        with kernel_listener(server, nb.kernel_id) as seen:
            start_cell(nb, 5)
            break_and_put_back(nb, app, "running-cell")
            still_running(nb, 5)
            expect(output(nb, 5)).to_have_count(0)
            stop.touch()
            expect(nb.prompt(5)).to_have_text("[6]:")
            nb.wait_idle()
        expect(output(nb, 5)).to_have_text("the running cell ended")
        printed = [m["content"]["text"] for m in seen["streams"]]
        assert printed == ["the running cell ended\n"], printed
        check_events(seen["events"])
        assert nb.page.locator("[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
    except BaseException:
        nb.screenshot(f"watch-{app}-failure.png")
        raise
    finally:
        stop.touch()
        nb.page.close()


def break_and_put_back(nb: NotebookDriver, app: str, when: str) -> None:
    """Another editor saves a broken live/work.py, then puts back the text it runs: the
    panel, the event log and the watch line say so, then stop saying it."""
    from playwright.sync_api import expect

    file = nb.server.root / f"watch-{app}" / "live" / "work.py"
    ed = PanelEditor(nb, 2)
    log = nb.cell(3).locator(".hr-root[data-panel=events]")
    watch_line = nb.cell(1).locator(".jp-OutputArea-output")
    file.write_text(WORK_BROKEN)
    expect(ed.panel).to_have_attribute("data-status", "failed")
    failed = ed.panel.locator(".hr-banner-failed")
    expect(failed).to_contain_text(f"SyntaxError at line {BROKEN_LINE}")
    expect(failed).to_contain_text("The previous code keeps running.")
    failed_row = log.locator(".hr-event[data-kind=compile_failed][data-mod='live.work']").first
    expect(failed_row.locator(".hr-detail")).to_have_text(
        f"SyntaxError at line {BROKEN_LINE}: invalid syntax"
    )
    expect(watch_line).to_contain_text("a file changed by another editor did not reload: ")
    expect(watch_line).to_contain_text(f"work.py:{BROKEN_LINE}")
    expect(watch_line).to_contain_text("fix the file and save it again")
    ed.panel.screenshot(path=str(ARTIFACTS / f"watch-failed-panel-{when}-{app}.png"))
    log.screenshot(path=str(ARTIFACTS / f"watch-failed-log-{when}-{app}.png"))
    nb.cell(1).screenshot(path=str(ARTIFACTS / f"watch-failed-line-{when}-{app}.png"))

    file.write_text(WORK)
    expect(ed.panel).to_have_attribute("data-status", "ok")
    expect(failed).to_have_count(0)
    expect(ed.panel.locator(".hr-header .hr-mode")).to_have_text("unchanged")
    back = log.locator(".hr-event[data-mod='live.work']").first
    expect(back).to_have_attribute("data-kind", "recompiled")
    expect(back.locator(".hr-detail")).to_contain_text("unchanged")
    expect(watch_line).to_have_text(WATCHING)


def check_events(events: list[dict[str, Any]]) -> None:
    kinds = [(e["kind"], e["mod"]) for e in events]
    assert kinds == [("compile_failed", "live.work"), ("recompiled", "live.work")], kinds
    assert events[-1]["payload"]["mode"] == "unchanged", events[-1]


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_a_pending_failed_edit_never_blocks_another_modules_reload(
    app: str, browser: Any, jupyter_servers: dict[str, JupyterServer]
) -> None:
    from playwright.sync_api import expect

    server = jupyter_servers[app]
    name = f"pending-{app}"
    cells = [
        SETUP,
        'panel = FunctionsPanel("live.work")\npanel',
        "%hotreload panel",
        "%%hotreload live/prices.py\n" + PRICES_RAISING,
        "live.work.step(), live.prices.with_tax(100)",
        "%%hotreload live/work.py\n" + WORK_NEWER,
        "live.work.step(), live.prices.with_tax(100)",
    ]
    nb = open_live_notebook(browser, server, name, cells)
    try:
        nb.select_first()
        nb.run(0, 1)
        nb.run(1, 2)
        nb.run(2, 3)
        ed = PanelEditor(nb, 1)
        overview = nb.cell(2).locator(".hr-root[data-panel=overview]")
        prices = overview.locator("details[data-mod='live.prices']")
        work = overview.locator("details[data-mod='live.work']")
        expect(prices).to_have_attribute("data-status", "ok")

        # live.prices fails at import time: the cell fails, the module is pending.
        nb.run(3, 4)
        error = nb.cell(3).locator("[data-mime-type='application/vnd.jupyter.stderr']")
        expect(error).to_contain_text(f"prices.py:{RAISING_LINE}")
        expect(error).to_contain_text("ZeroDivisionError")
        expect(prices).to_have_attribute("data-status", "failed")
        failure = f"ZeroDivisionError at line {RAISING_LINE}: division by zero"
        expect(prices.locator(".hr-banner-failed")).to_contain_text(failure)

        # A save of live.work from the panel goes through.
        ed.open("step")
        ed.save(STEP_NEW)
        expect(ed.outcome).to_have_attribute("data-kind", "ok")
        expect(ed.outcome).to_contain_text("saved live.work · patched")
        # The save's outcome names the pending module, as the summary line does.
        expect(ed.outcome).to_contain_text(
            f"live.prices still has a failed edit (line {RAISING_LINE})"
        )
        expect(ed.panel).to_have_attribute("data-status", "ok")
        expect(work).to_have_attribute("data-status", "ok")
        expect(prices).to_have_attribute("data-status", "failed")
        expect(prices.locator(".hr-banner-failed")).to_contain_text(failure)
        ed.panel.screenshot(path=str(ARTIFACTS / f"pending-save-{app}.png"))
        nb.cell(2).screenshot(path=str(ARTIFACTS / f"pending-overview-{app}.png"))
        run_cell(nb, 4, 5)
        expect(output(nb, 4)).to_have_text("('new', 120.0)")

        # So does a %%hotreload cell of it, whose summary names the pending module.
        run_cell(nb, 5, 6)
        summary = output(nb, 5)
        expect(summary).to_contain_text("live.work")
        expect(summary).to_contain_text(
            f"live.prices still has a failed edit (line {RAISING_LINE})"
        )
        assert nb.cell(5).locator("[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
        expect(prices).to_have_attribute("data-status", "failed")
        nb.cell(5).screenshot(path=str(ARTIFACTS / f"pending-summary-{app}.png"))
        run_cell(nb, 6, 7)
        expect(output(nb, 6)).to_have_text("('newer', 120.0)")
    except BaseException:
        nb.screenshot(f"pending-{app}-failure.png")
        raise
    finally:
        nb.page.close()
