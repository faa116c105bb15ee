"""Driving the panel's editor (CodeMirror 6) in a page, as a user does: click a function,
select all and type or paste, press Ctrl+S; read back what the editor shows.

The editor's text is read from its rendered lines (``.cm-line``), what the user sees.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.browser.harness import JupyterServer, NotebookDriver

# The text of every line CodeMirror drew, joined (an empty last line is the final newline).
_LINES = "el => Array.from(el.querySelectorAll('.cm-line')).map(l => l.textContent).join('\\n')"

# The colour of the first token of a kind in the editor, the colour JupyterLab's variable
# for it gives a probe element, the editor's background and the theme it says it is in.
TOKEN_COLOURS = """
root => {
  const editor = root.querySelector('.hr-code .cm-editor');
  const colour = (sel) => { const el = editor.querySelector(sel); return el && getComputedStyle(el).color; };
  const probe = (name) => {
    const s = document.createElement('span');
    s.style.color = `var(${name})`;
    root.append(s);
    const c = getComputedStyle(s).color;
    s.remove();
    return c;
  };
  return {
    theme: editor.dataset.theme,
    keyword: colour('.tok-keyword'),
    string: colour('.tok-string'),
    keywordVar: probe('--jp-mirror-editor-keyword-color'),
    stringVar: probe('--jp-mirror-editor-string-color'),
    background: getComputedStyle(editor).backgroundColor,
    text: getComputedStyle(editor.querySelector('.cm-content')).color,
  };
}
"""

# WCAG contrast of two CSS colours.
CONTRAST = """
([a, b]) => {
  const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = ([r, g, bl]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(bl);
  };
  const [x, y] = [lum(rgb(a)), lum(rgb(b))];
  return { background: y, ratio: (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05) };
}
"""


class PanelEditor:
    """The FunctionsPanel in notebook cell ``cell`` and its editor."""

    def __init__(self, nb: NotebookDriver, cell: int) -> None:
        self.nb = nb
        self.page = nb.page
        self.panel = nb.cell(cell).locator(".hr-root[data-panel=functions]")
        self.box = self.panel.locator(".hr-editor")
        self.code = self.panel.locator(".hr-code .cm-editor")
        self.content = self.panel.locator(".hr-code .cm-content")
        self.outcome = self.panel.locator(".hr-outcome")
        self.notice = self.panel.locator(".hr-notice")
        self.conflict = self.panel.locator(".hr-conflict")

    def row(self, qualname: str) -> Any:
        return self.panel.locator(f"tr[data-qualname='{qualname}']")

    def open(self, qualname: str) -> None:
        """Click the function's row; wait until the editor shows it."""
        from playwright.sync_api import expect

        self.row(qualname).click()
        expect(self.box.locator(".hr-editor-title")).to_have_text(qualname)

    def text(self) -> str:
        text: str = self.code.evaluate(_LINES)
        return text

    def side(self, which: str) -> str:
        """A conflict's side: ``"a"`` the text on disk, ``"b"`` yours."""
        text: str = self.conflict.locator(f".cm-merge-{which}").evaluate(_LINES)
        return text

    def type_over(self, text: str) -> None:
        """Select everything in the editor and type ``text`` over it (one input, as a paste)."""
        self.content.click()
        self.page.keyboard.press("Control+a")
        self.page.keyboard.insert_text(text)

    def saves(self) -> int:
        return int(self.panel.get_attribute("data-saves") or "0")

    def save(self, text: str | None = None) -> None:
        """Optionally type ``text`` over the editor's, press Ctrl+S, wait for the reply."""
        from playwright.sync_api import expect

        before = self.saves()
        if text is not None:
            self.type_over(text)
        else:
            self.content.click()
        self.page.keyboard.press("Control+s")
        expect(self.panel).to_have_attribute("data-saves", str(before + 1))


@contextmanager
def kernel_listener(server: JupyterServer, kernel_id: str) -> Iterator[dict[str, list[Any]]]:
    """Listen to the notebook's kernel from outside the page: every IOPub message of the
    time, sorted into ``executed`` (``execute_input``), ``streams`` (``stream``: what any cell
    printed) and ``events`` (hot-reload events)."""
    from jupyter_client import BlockingKernelClient

    from ipython_hotreload.client import HotReloadClient

    seen: dict[str, list[Any]] = {"executed": [], "streams": [], "events": []}
    kinds = {"execute_input": "executed", "stream": "streams"}
    kc = BlockingKernelClient(connection_file=str(server.connection_file(kernel_id)))
    kc.load_connection_file()
    kc.start_channels()
    client = HotReloadClient(
        kc,
        on_other=lambda msg: (
            seen[kinds[msg["msg_type"]]].append(msg) if msg["msg_type"] in kinds else None
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


def run_cell(nb: NotebookDriver, i: int, count: int) -> None:
    """Select cell ``i`` (a click in a panel selected the panel's cell) and run it."""
    nb.prompt(i).click()
    nb.run(i, count)


def output(nb: NotebookDriver, i: int) -> Any:
    return nb.cell(i).locator(".jp-OutputArea-output")


@contextmanager
def another_client(server: JupyterServer, kernel_id: str) -> Iterator[Any]:
    """A second frontend on the notebook's kernel (the comm channel): another editor."""
    from jupyter_client import BlockingKernelClient

    from ipython_hotreload.client import HotReloadClient

    kc = BlockingKernelClient(connection_file=str(server.connection_file(kernel_id)))
    kc.load_connection_file()
    kc.start_channels()
    client = HotReloadClient(kc)
    try:
        client.open()
        yield client
    finally:
        client.close()
        kc.stop_channels()
