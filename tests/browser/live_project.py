"""A small project for the browser tests of edits reaching running code: ``live.work``,
whose functions a long cell calls while the user edits them in the panel, and
``live.prices``, an unrelated module that holds a failed edit.

The running cells wait on files the test creates (``stop`` markers) and print what they see
as they see it, so the test synchronises on the page (the cell's output, its prompt), never
on sleeps of its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.browser.editor_page import PanelEditor
from tests.browser.harness import JupyterServer, NotebookDriver, write_notebook

WORK = '''\
"""The work a long cell does, one step at a time."""

import os
import time


def step() -> str:
    """One step of the loop."""
    return "old"


def load() -> list[int]:
    """What DATA holds, computed once at import time."""
    return [1, 2, 3]


DATA = load()


def long_call(stop: str) -> str:
    """Runs until the file ``stop`` exists."""
    print("long_call runs", flush=True)
    while not os.path.exists(stop):
        time.sleep(0.05)
    return "old"
'''

PRICES = '''\
"""Prices with tax."""

RATE = 0.2


def with_tax(amount: float) -> float:
    """The amount with tax."""
    return amount * (1 + RATE)
'''

# The panel's editor shows each definition as it is in the file; these are what a user types.
STEP = '''\
def step() -> str:
    """One step of the loop."""
    return "old"
'''
STEP_NEW = STEP.replace('return "old"', 'return "new"')
LOAD = '''\
def load() -> list[int]:
    """What DATA holds, computed once at import time."""
    return [1, 2, 3]
'''
LOAD_NEW = LOAD.replace("[1, 2, 3]", "[4, 5, 6]")
LONG_CALL = '''\
def long_call(stop: str) -> str:
    """Runs until the file ``stop`` exists."""
    print("long_call runs", flush=True)
    while not os.path.exists(stop):
        time.sleep(0.05)
    return "old"
'''
LONG_CALL_NEW = LONG_CALL.replace('return "old"', 'return "new"')

#: Seconds a waiting cell runs when nobody stops it (the test failed before stopping it).
CELL_GIVES_UP = 90

SETUP = (
    "%load_ext ipython_hotreload\n"
    "%config HotReload.formatter = None\n"
    "import os, time\n"
    "import live.work, live.prices\n"
    "from ipython_hotreload.widgets import EventLog, FunctionsPanel"
)


def loop_cell(stop: Path) -> str:
    """A cell that calls ``live.work.step()`` and reads ``live.work.DATA`` until ``stop``
    exists (or for :data:`CELL_GIVES_UP` seconds), printing each new thing it sees the
    moment it sees it (with whether the test had let it stop by then, and how long into the
    cell), and at the end all it saw."""
    return (
        "seen, t0 = [], time.monotonic()\n"
        f"while time.monotonic() - t0 < {CELL_GIVES_UP}:\n"
        f"    stopping = os.path.exists({str(stop)!r})\n"
        "    now = (live.work.step(), live.work.DATA)\n"
        "    if not seen or seen[-1] != now:\n"
        "        seen.append(now)\n"
        "        print(f'saw {now} (stop file there: {stopping}) "
        "at {time.monotonic() - t0:.2f}s', flush=True)\n"
        "    if stopping:\n"
        "        break\n"
        "    time.sleep(0.02)\n"
        "print(f'the loop ended, having seen {seen}')"
    )


def make_live_project(root: Path) -> None:
    (root / "live").mkdir(parents=True, exist_ok=True)
    (root / "live" / "__init__.py").write_text("")
    (root / "live" / "work.py").write_text(WORK)
    (root / "live" / "prices.py").write_text(PRICES)


def open_live_notebook(
    browser: Any, server: JupyterServer, name: str, cells: list[str]
) -> NotebookDriver:
    """A notebook of ``cells`` in its own directory ``name`` (holding the project), opened
    in a new page with its kernel ready."""
    root = server.root / name
    root.mkdir()
    make_live_project(root)
    write_notebook(root / f"{name}.ipynb", cells)
    page = browser.new_page(viewport={"width": 1200, "height": 1000})
    page.set_default_timeout(30_000)
    nb = NotebookDriver(page, server, f"{name}/{name}.ipynb")
    nb.open()
    return nb


def start_cell(nb: NotebookDriver, i: int) -> None:
    """Select cell ``i`` and run it without waiting for it to end."""
    from playwright.sync_api import expect

    nb.prompt(i).click()
    nb.page.keyboard.press("Shift+Enter")
    expect(nb.prompt(i)).to_have_text("[*]:")


def still_running(nb: NotebookDriver, i: int) -> None:
    from playwright.sync_api import expect

    expect(nb.prompt(i)).to_have_text("[*]:")


def waiting_banner(ed: PanelEditor) -> Any:
    return ed.panel.locator(".hr-banner-waiting")
