"""Two editors, one definition (SPEC §1.6, §2.2), in JupyterLab 4 and Notebook 7.

The panel's editor saves with the hash of the text it opened. When the definition changed
on disk since (another editor wrote the file, another frontend saved it over the comm
channel), the save writes nothing and the editor shows the text on disk beside the user's:
"take the file's version" puts the disk text in the editor (Ctrl+Z brings the user's back),
"keep mine" saves the user's text over exactly the text now on disk. A reload from
elsewhere never replaces unsaved text: the editor says the definition changed on disk and
offers to compare or load it; with nothing unsaved, it follows. Leaving unsaved text for
another function, or closing it, asks first.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.browser.editor_page import PanelEditor, another_client
from tests.browser.harness import ARTIFACTS, JupyterServer, NotebookDriver, write_notebook
from tests.browser.test_panels import SHAPES, make_project

pytestmark = pytest.mark.browser

SQUARE = '''\
def square(side: float) -> float:
    """Area of a square."""
    return side * side
'''
MINE = SQUARE.replace("return side * side", "return side**2  # mine")
THEIRS = SQUARE.replace("return side * side", "return side * side  # theirs")
THEIRS_AGAIN = SQUARE.replace("return side * side", "return abs(side) * abs(side)  # theirs")
CIRCLE_ELSEWHERE = ("return math.pi * radius**2", "return math.pi * radius * radius")


def conflict_scenario(nb: NotebookDriver, app: str) -> None:
    from playwright.sync_api import expect

    root = nb.server.root / app
    file = root / "demo" / "shapes.py"
    nb.select_first()
    nb.run(0, 1)
    nb.run(1, 2)
    ed = PanelEditor(nb, 1)
    ed.open("square")
    ed.type_over(MINE)

    # 1. Another editor writes the file (no reload): the save is refused, nothing is written.
    file.write_text(SHAPES.replace(SQUARE, THEIRS))
    ed.save()
    expect(ed.conflict).to_be_visible()
    expect(ed.box).to_have_attribute("data-conflict", "true")
    expect(ed.outcome).to_have_attribute("data-kind", "conflict")
    expect(ed.outcome).to_contain_text("changed on disk since you opened it")
    assert ed.side("a") == THEIRS and ed.side("b") == MINE
    assert file.read_text() == SHAPES.replace(SQUARE, THEIRS)
    expect(ed.conflict.locator(".cm-merge-a .cm-changedLine").first).to_be_visible()
    ed.panel.screenshot(path=str(ARTIFACTS / f"conflict-{app}.png"))

    # Take the file's version: the editor holds it, unmodified; Ctrl+Z brings mine back.
    ed.conflict.locator(".hr-button-theirs").click()
    expect(ed.conflict).to_be_hidden()
    expect(ed.box).to_have_attribute("data-dirty", "false")
    expect(ed.outcome).to_contain_text("took the file's version of square")
    assert ed.text() == THEIRS
    ed.content.click()
    nb.page.keyboard.press("Control+z")
    assert ed.text() == MINE
    expect(ed.box).to_have_attribute("data-dirty", "true")

    # 2. Again, and keep mine: it is saved over the text now on disk, the rest of the file
    # (circle, changed by the other editor too) stays as that editor left it.
    other = SHAPES.replace(SQUARE, THEIRS_AGAIN).replace(*CIRCLE_ELSEWHERE)
    file.write_text(other)
    ed.save()
    expect(ed.conflict).to_be_visible()
    assert ed.side("a") == THEIRS_AGAIN and ed.side("b") == MINE
    ed.conflict.locator(".hr-button-mine").click()
    expect(ed.outcome).to_have_attribute("data-kind", "ok")
    expect(ed.outcome).to_contain_text("saved demo.shapes")
    expect(ed.conflict).to_be_hidden()
    assert file.read_text() == other.replace(THEIRS_AGAIN, MINE)
    assert ed.text() == MINE
    expect(ed.box).to_have_attribute("data-dirty", "false")

    # 3. Another frontend saves square over the comm channel while the editor has unsaved
    # text: the text stays, the editor says so and offers to compare or load.
    edited = MINE.replace("# mine", "# mine, edited")
    ed.type_over(edited)
    with another_client(nb.server, nb.kernel_id) as client:
        source = client.source("demo.shapes:square")
        reply = client.reload_definition(
            "demo.shapes:square",
            THEIRS,
            format=False,
            expected_hash=source["result"]["source_hash"],
        )
        assert reply["ok"], reply
    notice = ed.notice
    expect(notice).to_have_attribute("data-kind", "disk")
    expect(notice).to_contain_text("square changed on disk since you opened it")
    expect(ed.box).to_have_attribute("data-disk-changed", "true")
    assert ed.text() == edited
    notice.locator(".hr-button-compare").click()
    expect(ed.conflict).to_be_visible()
    assert ed.side("a") == THEIRS and ed.side("b") == edited
    ed.conflict.locator(".hr-button-theirs").click()
    assert ed.text() == THEIRS
    expect(ed.box).to_have_attribute("data-dirty", "false")

    # With nothing unsaved, the editor follows a reload from elsewhere.
    with another_client(nb.server, nb.kernel_id) as client:
        reply = client.reload_definition("demo.shapes:square", THEIRS_AGAIN, format=False)
        assert reply["ok"], reply
    expect(ed.content).to_contain_text("abs(side)")
    assert ed.text() == THEIRS_AGAIN
    expect(ed.notice).to_be_hidden()

    # 4. Unsaved text is not dropped by opening another function, or by closing.
    ed.type_over(MINE)
    ed.row("circle").click()
    expect(ed.notice).to_have_attribute("data-kind", "unsaved")
    expect(ed.notice).to_contain_text("square has unsaved changes")
    ed.notice.locator(".hr-button-keep").click()
    expect(ed.box.locator(".hr-editor-title")).to_have_text("square")
    assert ed.text() == MINE
    ed.box.locator(".hr-button-close").click()
    expect(ed.notice).to_have_attribute("data-kind", "unsaved")
    expect(ed.box).to_be_visible()
    ed.row("circle").click()
    ed.notice.locator(".hr-button-discard").click()
    expect(ed.box.locator(".hr-editor-title")).to_have_text("circle")
    assert "radius * radius" in ed.text()
    assert file.read_text().count("# theirs") == 1  # square as the other frontend left it


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_a_save_over_a_definition_changed_elsewhere_lets_the_user_take_either(
    app: str, browser: Any, jupyter_servers: dict[str, JupyterServer]
) -> None:
    t0 = time.monotonic()
    server = jupyter_servers[app]
    root = server.root / app
    make_project(root)
    write_notebook(
        root / "conflict.ipynb",
        [
            "%load_ext ipython_hotreload\n"
            "%config HotReload.formatter = None\n"
            "import demo.scene\n"
            "from ipython_hotreload.widgets import FunctionsPanel",
            'panel = FunctionsPanel("demo.shapes")\npanel',
        ],
    )
    page = browser.new_page(viewport={"width": 1200, "height": 1100})
    page.set_default_timeout(30_000)
    nb = NotebookDriver(page, server, f"{app}/conflict.ipynb")
    try:
        nb.open()
        conflict_scenario(nb, app)
    except BaseException:
        nb.screenshot(f"conflict-{app}-failure.png")
        raise
    finally:
        page.close()
    print(f"{app}: conflict test {time.monotonic() - t0:.1f}s")
