"""The panels in a real browser: JupyterLab 4 and Notebook 7 in headless Chromium.

Cells run one by one with Shift+Enter, with assertions between them, so a broken change
handler cannot hide behind a final state. The render counter (``data-renders``) and the
count of ``execute_request`` frames the page sends prove that a panel re-rendered from
state pushed by the kernel, not because its cell ran again.
"""

from __future__ import annotations

import re
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.harness import ARTIFACTS, JupyterServer, NotebookDriver, write_notebook

pytestmark = pytest.mark.browser

SHAPES = '''\
"""Areas of simple shapes."""

import math


def circle(radius: float) -> float:
    """Area of a circle."""
    return math.pi * radius**2


def square(side: float) -> float:
    """Area of a square."""
    return side * side


class Shape:
    """A named shape with an area."""

    def __init__(self, name: str, area: float) -> None:
        self.name = name
        self.area = area

    def describe(self) -> str:
        """One line about the shape."""
        return f"{self.name}: {self.area:.2f}"

    @property
    def label(self) -> str:
        """The name, capitalised."""
        return self.name.title()
'''

HEXAGON = '''

def hexagon(side: float) -> float:
    """Area of a regular hexagon."""
    return 3 * math.sqrt(3) / 2 * side**2
'''

TRIANGLE = '''

async def triangle(base: float, height: float) -> float:
    """Area of a triangle (async, to show the kind)."""
    return base * height / 2
'''

# square's body changes too: demo.scene calls square() at import time, so it runs again
# (SPEC §1.5: a dependent that only referenced what changed would run nothing).
SHAPES_V2 = SHAPES.replace("return side * side", "return float(side * side)") + HEXAGON
SHAPES_BROKEN = SHAPES_V2.replace("return float(side * side)", "return side *")
BROKEN_LINE = SHAPES_BROKEN.splitlines().index("    return side *") + 1
SHAPES_V3 = SHAPES_V2 + TRIANGLE

SCENE = """\
from demo.shapes import Shape, circle, square

SHAPES = [Shape("coin", circle(1.0)), Shape("tile", square(2.0))]
"""


def make_project(root: Path) -> None:
    (root / "demo").mkdir(parents=True, exist_ok=True)
    (root / "demo" / "__init__.py").write_text("")
    (root / "demo" / "shapes.py").write_text(SHAPES)
    (root / "demo" / "scene.py").write_text(SCENE)


def hotreload_cell(content: str) -> str:
    return "%%hotreload demo/shapes.py --no-format\n" + content


def renders(locator: Any) -> int:
    return int(locator.get_attribute("data-renders") or "0")


def qualnames(panel: Any) -> list[str]:
    names: list[str] = panel.locator("tr.hr-fn-row").evaluate_all(
        "rows => rows.map(r => r.dataset.qualname)"
    )
    return names


def test_lab_panel_follows_reloads_from_cells_and_from_another_client(
    browser: Any, jupyter_servers: dict[str, JupyterServer]
) -> None:
    from jupyter_client import BlockingKernelClient
    from playwright.sync_api import expect

    from ipython_hotreload.client import HotReloadClient

    t0 = time.monotonic()
    server = jupyter_servers["lab"]
    root = server.root
    make_project(root)
    write_notebook(
        root / "panels.ipynb",
        [
            "%load_ext ipython_hotreload\n"
            "import demo.scene\n"
            "from ipython_hotreload.widgets import EventLog, FunctionsPanel",
            'panel = FunctionsPanel("demo.shapes")\npanel',
            "log = EventLog()\nlog",
            hotreload_cell(SHAPES_V2),
            hotreload_cell(SHAPES_BROKEN),
        ],
    )
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.set_default_timeout(30_000)
    nb = NotebookDriver(page, server, "panels.ipynb")
    try:
        nb.open()
        nb.select_first()
        nb.run(0, 1)

        nb.run(1, 2)
        panel = nb.cell(1).locator(".hr-root[data-panel=functions]")
        expect(panel).to_have_attribute("data-status", "ok")
        expect(panel.locator("tr[data-qualname='Shape.label'] .hr-chip")).to_have_text("property")
        assert qualnames(panel) == [
            "circle",
            "square",
            "Shape.__init__",
            "Shape.describe",
            "Shape.label",
        ]
        expect(panel.locator("tr[data-qualname=circle] .hr-sig")).to_have_text(
            "(radius: float) -> float"
        )
        expect(panel.locator(".hr-meta")).to_contain_text("not recompiled yet")
        expect(panel.locator(".hr-footer")).to_have_text("demo/shapes.py")  # relative to cwd
        before = renders(panel)

        nb.run(2, 3)
        log = nb.cell(2).locator(".hr-root[data-panel=events]")
        expect(log.locator(".hr-empty")).to_be_visible()

        # A %%hotreload cell in another cell: the panel's own cell does not run again.
        nb.run(3, 4)
        expect(panel.locator("tr[data-qualname=hexagon]")).to_be_visible()
        expect(panel.locator("tr[data-qualname=hexagon] .hr-doc")).to_have_text(
            "Area of a regular hexagon."
        )
        expect(panel.locator("tr[data-qualname=hexagon]")).to_have_class(re.compile(r"\bhr-new\b"))
        expect(panel.locator(".hr-meta")).to_contain_text("recompiled ")
        assert renders(panel) > before
        expect(nb.prompt(1)).to_have_text("[2]:")
        # The saved module first, then its dependent (a bare payload), newest first.
        kinds = log.locator(".hr-event").evaluate_all(
            "rows => rows.map(r => `${r.dataset.kind} ${r.dataset.mod}`)"
        )
        assert kinds == [
            "recompiled demo.scene",
            "recompiled demo.shapes",
            "source_written demo.shapes",
        ]
        expect(log.locator(".hr-event[data-mod='demo.scene'] .hr-detail")).to_contain_text(
            "after demo.shapes (compile)"
        )

        # A failing reload: the cell fails, the panel shows the failure and keeps the list.
        nb.run(4, 5)
        expect(panel).to_have_attribute("data-status", "failed")
        banner = panel.locator(".hr-banner-failed")
        expect(banner).to_contain_text("Reload failed")
        expect(banner).to_contain_text(f"SyntaxError at line {BROKEN_LINE}")
        expect(banner).to_contain_text("previous code keeps running")
        panel.screenshot(path=str(ARTIFACTS / "panel-failed.png"))
        expect(panel.locator("tr[data-qualname=hexagon]")).to_be_visible()
        expect(
            nb.cell(4).locator("[data-mime-type='application/vnd.jupyter.stderr']")
        ).to_contain_text("shapes.py")

        # Recovery from another client over the comm channel: no cell runs in the page.
        # The render counter must rise while the page sends no execute_request at all.
        nb.wait_idle()
        sent_before, renders_before = nb.execute_requests, renders(panel)
        assert sent_before == 5
        kc = BlockingKernelClient(connection_file=str(server.connection_file(nb.kernel_id)))
        kc.load_connection_file()
        kc.start_channels()
        executed: list[dict[str, Any]] = []
        client = HotReloadClient(
            kc,
            on_other=lambda msg: (
                executed.append(msg) if msg["msg_type"] == "execute_input" else None
            ),
        )
        try:
            client.open()
            reply = client.reload("demo/shapes.py", SHAPES_V3, format=False)
            assert reply["ok"], reply
            expect(panel).to_have_attribute("data-status", "ok")
            expect(panel.locator("tr[data-qualname=triangle] .hr-chip")).to_have_text("async def")
            client.pump(0.2)
        finally:
            client.close()
            kc.stop_channels()
        assert renders(panel) > renders_before
        assert nb.execute_requests == sent_before, "the page sent an execute_request"
        assert executed == [], "the kernel executed code during the update"
        expect(nb.prompt(1)).to_have_text("[2]:")
        expect(panel.locator(".hr-banner-failed")).to_have_count(0)

        panel.screenshot(path=str(ARTIFACTS / "panel.png"))
        log.screenshot(path=str(ARTIFACTS / "event-log.png"))
    except BaseException:
        nb.screenshot("lab-failure.png")
        raise
    finally:
        page.close()
    print(f"JupyterLab: server up in {server.started_in:.1f}s, test {time.monotonic() - t0:.1f}s")


def test_notebook7_panel_from_the_magic_in_the_dark_theme(
    browser: Any, jupyter_servers: dict[str, JupyterServer]
) -> None:
    from playwright.sync_api import expect

    t0 = time.monotonic()
    server = jupyter_servers["notebook"]
    root = server.root
    make_project(root)
    write_notebook(
        root / "panel.ipynb",
        [
            "%load_ext ipython_hotreload\nimport demo.scene",
            "%hotreload panel demo.shapes",
            hotreload_cell(SHAPES_V2),
            "%hotreload panel",
        ],
    )
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.set_default_timeout(30_000)
    nb = NotebookDriver(page, server, "panel.ipynb")
    try:
        nb.open()
        nb.select_first()
        nb.run(0, 1)
        nb.run(1, 2)
        panel = nb.cell(1).locator(".hr-root[data-panel=functions]")
        expect(panel.locator("tr[data-qualname=circle]")).to_be_visible()
        before = renders(panel)
        nb.run(2, 3)
        expect(panel.locator("tr[data-qualname=hexagon]")).to_be_visible()
        assert renders(panel) > before
        expect(nb.prompt(1)).to_have_text("[2]:")

        # Readable in the dark theme: the panel takes JupyterLab's colours, so its text
        # contrasts with its own (dark) background.
        colours = panel.evaluate(
            textwrap.dedent(
                """
                root => {
                  const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
                  const lum = ([r, g, b]) => {
                    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
                    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
                  };
                  const bg = lum(rgb(getComputedStyle(root).backgroundColor));
                  const fg = lum(rgb(getComputedStyle(root.querySelector(".hr-title")).color));
                  const sig = lum(rgb(getComputedStyle(root.querySelector(".hr-sig code")).color));
                  const ratio = (a, b) => (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
                  return { bg, title: ratio(fg, bg), signature: ratio(sig, bg) };
                }
                """
            )
        )
        assert colours["bg"] < 0.1, f"the panel background is not dark: {colours}"
        assert colours["title"] >= 4.5 and colours["signature"] >= 4.5, colours
        panel.screenshot(path=str(ARTIFACTS / "panel-dark.png"))

        # Without a module: every loaded project module, and the event log.
        nb.run(3, 4)
        overview = nb.cell(3).locator(".hr-root[data-panel=overview]")
        expect(overview.locator("details.hr-module")).to_have_count(3)  # demo, .scene, .shapes
        shapes = overview.locator("details[data-mod='demo.shapes']")
        expect(shapes.locator("summary .hr-meta")).to_contain_text("6 functions")
        shapes.locator("summary").click()
        expect(shapes.locator("tr[data-qualname=hexagon]")).to_be_visible()
        expect(nb.cell(3).locator(".hr-root[data-panel=events] .hr-empty")).to_be_visible()
        nb.cell(3).locator(".jp-OutputArea").screenshot(path=str(ARTIFACTS / "overview-dark.png"))
    except BaseException:
        nb.screenshot("notebook7-failure.png")
        raise
    finally:
        page.close()
    print(f"Notebook 7: server up in {server.started_in:.1f}s, test {time.monotonic() - t0:.1f}s")
