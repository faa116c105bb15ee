"""The panel while a cell runs (SPEC §2.5), in JupyterLab 4 and Notebook 7.

A cell prints ``tick N`` until the test lets it stop (a file appears), or for a minute. While
it runs, a user clicks a function in the panel. By default (ipykernel 7, comms over kernel
subshells) the editor opens with the function's source while the cell is still running.
Where the page sends the panel's messages to the main shell (a kernel that has no
subshells, as ipykernel 6; or, in JupyterLab, comms over subshells turned off in the
settings: Notebook 7.6 does not load that setting), the panel says that opening waits for
the running cell, and the editor opens once the cell has ended; a save made there says it
waits for the cell too, and another function clicked meanwhile opens once the cell ends,
while the outcome names the function that was saved.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.browser.editor_page import PanelEditor, output
from tests.browser.harness import (
    NO_SUBSHELLS_KERNEL,
    JupyterServer,
    NotebookDriver,
    write_notebook,
)
from tests.browser.test_editor import SQUARE, SQUARE_NEW
from tests.browser.test_panels import make_project

pytestmark = pytest.mark.browser

CELL_GIVES_UP = 60  # seconds the looping cell runs when nobody stops it
CIRCLE_BROKEN = "def circle(radius: float) -> float:\n    return (radius *\n"
KERNELS_SETTINGS = "@jupyterlab/apputils-extension:kernels-settings"


def notebook_cells(stop: Path) -> list[str]:
    return [
        "%load_ext ipython_hotreload\n"
        "import demo.scene\n"
        "from ipython_hotreload.widgets import FunctionsPanel",
        'panel = FunctionsPanel("demo.shapes")\npanel',
        "import os, time\n"
        f"for i in range({CELL_GIVES_UP * 10}):\n"
        "    print('tick', i, flush=True)\n"
        f"    if os.path.exists({str(stop)!r}):\n"
        "        break\n"
        "    time.sleep(0.1)\n"
        "print('done')",
    ]


def put_setting(server: JupyterServer, plugin: str, values: dict[str, Any]) -> None:
    """Save a user setting through the server's settings API (what the Settings editor does)."""
    request = urllib.request.Request(
        f"{server.base}/lab/api/settings/{plugin}",
        data=json.dumps({"raw": json.dumps(values)}).encode(),
        method="PUT",
        headers={"Authorization": f"token {server.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 204, response.status


@contextmanager
def comms_over_subshells_off(server: JupyterServer) -> Iterator[None]:
    """JupyterLab's *Kernel Comms over subshells: Disabled*, for the pages opened meanwhile."""
    put_setting(server, KERNELS_SETTINGS, {"commsOverSubshells": "disabled"})
    try:
        yield
    finally:
        put_setting(server, KERNELS_SETTINGS, {})


def open_panel_and_start_the_loop(
    browser: Any,
    server: JupyterServer,
    name: str,
    kernel: str = "python3",
    before_the_loop: Callable[[PanelEditor], None] | None = None,
) -> tuple[NotebookDriver, PanelEditor, Path]:
    """A notebook with the panel shown and the looping cell running (its first ticks out);
    ``before_the_loop(editor)`` acts on the panel before the loop starts."""
    from playwright.sync_api import expect

    root = server.root / name
    root.mkdir()
    make_project(root)
    stop = root / "stop"
    write_notebook(root / "loop.ipynb", notebook_cells(stop), kernel=kernel)
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.set_default_timeout(30_000)
    nb = NotebookDriver(page, server, f"{name}/loop.ipynb")
    nb.open()
    nb.select_first()
    nb.run(0, 1)
    nb.run(1, 2)
    ed = PanelEditor(nb, 1)
    expect(ed.panel).to_have_attribute("data-status", "ok")
    if before_the_loop is not None:
        before_the_loop(ed)
        nb.prompt(2).click()
    page.keyboard.press("Shift+Enter")  # the loop: it runs until the test stops it
    expect(output(nb, 2)).to_contain_text("tick 1")
    return nb, ed, stop


def still_running(nb: NotebookDriver) -> None:
    from playwright.sync_api import expect

    expect(nb.prompt(2)).to_have_text("[*]:")
    assert "done" not in output(nb, 2).inner_text()


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_the_panel_opens_a_function_while_a_cell_runs(
    app: str, browser: Any, jupyter_servers: dict[str, JupyterServer]
) -> None:
    from playwright.sync_api import expect

    nb, ed, stop = open_panel_and_start_the_loop(browser, jupyter_servers[app], "beside")
    try:
        ed.row("square").click()
        expect(ed.box).to_be_visible()
        assert ed.text() == SQUARE
        still_running(nb)
        stop.touch()
        expect(nb.prompt(2)).to_have_text("[3]:", timeout=CELL_GIVES_UP * 1000)
    except BaseException:
        nb.screenshot(f"beside-cells-{app}-failure.png")
        raise
    finally:
        stop.touch()
        nb.page.close()


@pytest.mark.parametrize(
    ("app", "without"), [("lab", "kernel"), ("notebook", "kernel"), ("lab", "setting")]
)
def test_without_subshells_the_panel_says_it_waits_for_the_cell(
    app: str, without: str, browser: Any, jupyter_servers: dict[str, JupyterServer]
) -> None:
    from playwright.sync_api import expect

    server = jupyter_servers[app]
    with ExitStack() as stack:
        if without == "setting":
            stack.enter_context(comms_over_subshells_off(server))
        kernel = NO_SUBSHELLS_KERNEL if without == "kernel" else "python3"
        nb, ed, stop = open_panel_and_start_the_loop(browser, server, f"waits-{without}", kernel)
        stack.callback(nb.page.close)
        stack.callback(stop.touch)
        try:
            ed.row("square").click()
            expect(ed.outcome).to_have_attribute("data-kind", "waiting")
            expect(ed.outcome).to_contain_text("Opening waits for the running cell to finish")
            still_running(nb)
            assert ed.box.is_hidden()
            nb.screenshot(f"waits-for-the-cell-{app}-{without}.png")
            stop.touch()
            expect(nb.prompt(2)).to_have_text("[3]:")
            expect(ed.box).to_be_visible()
            assert ed.text() == SQUARE
            expect(ed.outcome).to_be_hidden()
        except BaseException:
            nb.screenshot(f"waits-for-the-cell-{app}-{without}-failure.png")
            raise


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_without_subshells_a_save_waits_and_another_function_opens_meanwhile(
    app: str, browser: Any, jupyter_servers: dict[str, JupyterServer]
) -> None:
    from playwright.sync_api import expect

    def edit_square(ed: PanelEditor) -> None:
        ed.open("square")
        ed.type_over(SQUARE_NEW)

    server = jupyter_servers[app]
    nb, ed, stop = open_panel_and_start_the_loop(
        browser, server, "save-waits", NO_SUBSHELLS_KERNEL, before_the_loop=edit_square
    )
    try:
        ed.content.click()
        nb.page.keyboard.press("Control+s")
        expect(ed.outcome).to_have_attribute("data-kind", "waiting")
        expect(ed.outcome).to_contain_text("The save waits for the running cell to finish")
        # The save is out: clicking another function is not refused, it waits in turn.
        ed.row("circle").click()
        expect(ed.outcome).to_contain_text(
            "The save of square and opening circle wait for the running cell to finish"
        )
        expect(ed.panel.locator(".hr-notice")).to_be_hidden()  # nothing to lose: no question
        still_running(nb)
        nb.screenshot(f"save-waits-for-the-cell-{app}.png")
        stop.touch()
        expect(nb.prompt(2)).to_have_text("[3]:")
        expect(ed.box.locator(".hr-editor-title")).to_have_text("circle")
        expect(ed.outcome).to_have_attribute("data-kind", "ok")
        expect(ed.outcome).to_contain_text("square: saved demo.shapes")
        expect(ed.row("square")).to_have_attribute("data-change", "changed")
        assert ed.text().startswith("def circle(")

        # Again with a text the kernel refuses: leaving it meanwhile loses nothing.
        stop.unlink()
        ed.type_over(CIRCLE_BROKEN)
        nb.prompt(2).click()
        nb.page.keyboard.press("Shift+Enter")
        expect(nb.prompt(2)).to_have_text("[*]:")
        ed.content.click()
        nb.page.keyboard.press("Control+s")
        ed.row("square").click()
        expect(ed.outcome).to_contain_text(
            "The save of circle and opening square wait for the running cell to finish"
        )
        stop.touch()
        expect(nb.prompt(2)).to_have_text("[4]:")
        expect(ed.box.locator(".hr-editor-title")).to_have_text("square")
        expect(ed.outcome).to_have_attribute("data-kind", "error")
        expect(ed.outcome).to_contain_text("circle was not saved: ")
        nb.screenshot(f"save-refused-elsewhere-{app}.png")
        ed.notice.get_by_role("button", name="Back to circle with your text").click()
        expect(ed.box.locator(".hr-editor-title")).to_have_text("circle")
        expect(ed.box).to_have_attribute("data-dirty", "true")
        assert ed.text() == CIRCLE_BROKEN
        expect(ed.outcome).to_have_attribute("data-kind", "error")
    except BaseException:
        nb.screenshot(f"save-waits-for-the-cell-{app}-failure.png")
        raise
    finally:
        stop.touch()
        nb.page.close()
