"""Regenerate the README's screenshot, ``docs/panel.png``: a FunctionsPanel in JupyterLab 4
showing the last reload's change set (one function added, one changed, one removed) with
its editor (CodeMirror) open on a method, with unsaved text.

    python -m tests.browser.screenshot_panel [OUT.png]

It runs the same harness as the browser tests (a JupyterLab server in temporary Jupyter
directories, Debian's Chromium through Playwright).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.browser.editor_page import PanelEditor
from tests.browser.harness import (
    CHROMIUM_ARGS,
    REPO,
    TIMEOUT_MS,
    NotebookDriver,
    find_chromium,
    launch_server,
    write_notebook,
)
from tests.browser.test_panels import HEXAGON, SHAPES, make_project

LABEL = '''
    @property
    def label(self) -> str:
        """The name, capitalised."""
        return self.name.title()
'''
# One reload that adds hexagon, changes describe and removes the label property.
EDITED = (
    SHAPES.replace(LABEL, "").replace(
        'return f"{self.name}: {self.area:.2f}"', 'return f"{self.name} ({self.area:.2f})"'
    )
    + HEXAGON
)
TYPED = '''def describe(self) -> str:
    """One line about the shape, with its units."""
    return f"{self.name} ({self.area:.2f} cm²)"
'''


def take(out: Path) -> None:
    """Run the notebook in a fresh JupyterLab and save the panel's picture to ``out``."""
    from playwright.sync_api import expect, sync_playwright

    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("Chromium is not installed: apt-get install chromium")
    assert LABEL in SHAPES, "the removed property must be in the original module"
    expect.set_options(timeout=TIMEOUT_MS)
    with tempfile.TemporaryDirectory(prefix="hotreload-shot-") as tmp:
        root, home = Path(tmp) / "lab", Path(tmp) / "home"
        root.mkdir()
        make_project(root)
        write_notebook(
            root / "shot.ipynb",
            [
                "%load_ext ipython_hotreload\n"
                "%config HotReload.formatter = None\n"
                "import demo.scene\n"
                "from ipython_hotreload.widgets import FunctionsPanel",
                'FunctionsPanel("demo.shapes")',
                "%%hotreload demo/shapes.py\n" + EDITED,
            ],
        )
        server = launch_server("lab", root, home)
        try:
            server.wait_ready()
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1300, "height": 1000})
                nb = NotebookDriver(page, server, "shot.ipynb")
                nb.open()
                nb.select_first()
                for i in range(3):
                    nb.run(i, i + 1)
                ed = PanelEditor(nb, 1)
                expect(ed.panel.locator("tr[data-change=removed]")).to_have_count(1)
                ed.open("Shape.describe")
                ed.type_over(TYPED)
                page.keyboard.press("Control+End")
                expect(ed.box.locator(".hr-unsaved")).to_be_visible()
                # No flash of new rows, no caret blink: the picture is the resting state.
                page.add_style_tag(
                    content="* { animation: none !important; caret-color: transparent !important; }"
                )
                ed.panel.screenshot(path=str(out))
                browser.close()
        finally:
            server.stop()


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "panel.png"
    take(out)
    print("wrote", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
