"""Write the example notebooks of this directory from the cell texts below.

Run ``python notebooks/build_notebooks.py`` after editing a cell here; the notebook files are
outputs (committed without outputs, so diffs stay readable). ``tests/kernel/test_notebooks.py``
checks that they match this script and that every notebook runs clean.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}

# One cell per item: ("md", text) or ("code", text). Code cells run top to bottom with
# "Run all", so none of them may fail: the failure demo goes through the Python API.
TOUR: list[tuple[str, str]] = [
    (
        "md",
        """\
# A tour of `ipython_hotreload`

Edit a module from a notebook cell and the running kernel picks it up at once: only what
changed runs (an edited function is patched in place; a changed statement runs again, and so
does a statement of another module that reads what changed while it is imported), and
functions and classes keep their identity, so objects you already hold run the new code. A
live panel shows each module's functions as they change.

This notebook builds a tiny package in a temporary directory, hot-reloads it, breaks it, mends
it, and cleans up after itself. Run it top to bottom.""",
    ),
    (
        "code",
        '''\
import os
import sys
import tempfile
import textwrap
from pathlib import Path

workdir = Path(tempfile.mkdtemp(prefix="hotreload-tour-"))
files = {
    "geometry/__init__.py": "",
    "geometry/shapes.py": \'\'\'
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
        \'\'\',
    # Uses shapes while it is imported: a "compile" edge, so it is re-executed with shapes.
    "geometry/scene.py": \'\'\'
        from geometry.shapes import Shape, circle, square

        SHAPES = [Shape("coin", circle(1.0)), Shape("tile", square(2.0))]


        def total_area() -> float:
            """The sum of all areas in the scene."""
            return sum(s.area for s in SHAPES)
        \'\'\',
    # Binds a name from shapes but calls it only inside a function: an "export" edge.
    "geometry/report.py": \'\'\'
        from geometry.shapes import circle


        def coin_report(radius: float) -> str:
            """Describe a coin."""
            return f"a coin of radius {radius} covers {circle(radius):.2f}"
        \'\'\',
}
for name, text in files.items():
    path = workdir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())

# %%hotreload paths are relative to the working directory, and the reloader's project root
# is the working directory when it is first used: start in the project.
previous_cwd = os.getcwd()
os.chdir(workdir)
sys.path.insert(0, str(workdir))
print("project in", workdir)''',
    ),
    (
        "code",
        """\
%load_ext ipython_hotreload
from geometry import report, scene, shapes

import ipython_hotreload as hr

print(f"total area {scene.total_area():.2f}")
print(report.coin_report(1.0))""",
    ),
    (
        "md",
        """\
## A live panel

`%hotreload panel MODULE` shows a module's functions: name, kind, signature, line and the
first line of the docstring. It listens to the kernel's reload events, so it re-renders by
itself whenever the module is reloaded, from this notebook, another notebook on the same
kernel, an editor talking to the kernel, or the file watcher (`%hotreload watch`).
`EventLog()` shows every event, newest first.""",
    ),
    ("code", "%hotreload panel geometry.shapes"),
    (
        "code",
        """\
from ipython_hotreload.widgets import EventLog

log = EventLog(limit=50)
log""",
    ),
    (
        "md",
        """\
## Hot-reload a module with `%%hotreload`

Hold on to some objects first: an instance made before the reload, a bound method, and the
function that `report` imported by name.""",
    ),
    (
        "code",
        """\
coin = scene.SHAPES[0]
describe = coin.describe
imported_circle = report.circle
print(describe())""",
    ),
    (
        "md",
        """\
Now give `shapes` a new function, change a method and change `square`. The cell body is the
new content of the file: it is written (formatted with ruff), and only what changed runs: the
method and `square` are patched in place (every reference held above runs the new code), the
new `def hexagon` runs, and `geometry.scene`, which calls `square()` while it is imported,
runs that one statement again. The module's other code does not run twice.""",
    ),
    (
        "code",
        '''\
%%hotreload geometry/shapes.py
"""Areas of simple shapes."""

import math


def circle(radius: float) -> float:
    """Area of a circle."""
    return math.pi * radius**2


def square(side: float) -> float:
    """Area of a square."""
    return float(side) ** 2


def hexagon(side: float) -> float:
    """Area of a regular hexagon."""
    return 3 * math.sqrt(3) / 2 * side**2


class Shape:
    """A named shape with an area."""

    def __init__(self, name: str, area: float) -> None:
        self.name = name
        self.area = area

    def describe(self) -> str:
        """One line about the shape, with units."""
        return f"{self.name}: {self.area:.2f} cm²"''',
    ),
    (
        "md",
        """\
The summary line says what ran in the saved module and in each module that followed it, in
the panel's words. The panel above now lists `hexagon` and the new docstring of `describe`,
and the event log shows the saved module's `recompiled` event (carrying the function list)
and one for `geometry.scene`, whose `SHAPES = [...]` statement ran again because it calls
`square` while it is imported (its payload is bare, so the panel of a dependent asks for its
analysis itself).

The objects held before the reload run the new code:""",
    ),
    (
        "code",
        """\
print(describe())  # the bound method taken before the reload
print(coin.describe())  # an instance made before the reload
print(imported_circle is shapes.circle)  # patched in place: one function object
print(f"hexagon(1) = {shapes.hexagon(1.0):.3f}")
print("scene re-executed:", [s.describe() for s in scene.SHAPES])""",
    ),
    (
        "md",
        """\
## A failure, and the recovery

A reload that fails (a syntax error, an exception while the module runs, a dependent that
can no longer import a name) changes nothing: every module is put back as it was and the old
code keeps running. The new text stays on disk, so nothing typed is lost, and the module is
*pending*: other edits go on as if its file still held the text it runs, until you fix it.

A failing `%%hotreload` cell shows a short error with `file:line`, the line and a caret, and
counts as a failed cell, so **"Run all" stops there**. To keep this notebook runnable top to
bottom, the failure is shown through the Python API instead: `hr.reload(path, text)` raises
`hr.ReloadError`. The panel above switches to its failure state with the message and line.""",
    ),
    (
        "code",
        """\
source = Path("geometry/shapes.py").read_text()
broken = source.replace("return float(side) ** 2", "return side *")  # a syntax error
try:
    hr.reload("geometry/shapes.py", broken)
except hr.ReloadError as err:
    print(f"ReloadError in {err.mod}, line {err.lineno}: {err.message}")
    print("caused by", type(err.__cause__).__name__)

print("old code still runs:", shapes.square(3.0))""",
    ),
    (
        "md",
        """\
Fix the file with another `%%hotreload` cell (or in any editor, with `%hotreload watch` on);
the panel goes back to its live state.""",
    ),
    (
        "code",
        '''\
%%hotreload geometry/shapes.py
"""Areas of simple shapes."""

import math


def circle(radius: float) -> float:
    """Area of a circle."""
    return math.pi * radius**2


def square(side: float) -> float:
    """Area of a square."""
    return side * side


def hexagon(side: float) -> float:
    """Area of a regular hexagon."""
    return 3 * math.sqrt(3) / 2 * side**2


def triangle(base: float, height: float) -> float:
    """Area of a triangle."""
    return base * height / 2


class Shape:
    """A named shape with an area."""

    def __init__(self, name: str, area: float) -> None:
        self.name = name
        self.area = area

    def describe(self) -> str:
        """One line about the shape, with units."""
        return f"{self.name}: {self.area:.2f} cm²"''',
    ),
    (
        "md",
        """\
## Edit one definition

A cell can hold a single function, method or class: `%%hotreload geometry.shapes:Shape.describe`
replaces that definition in its file, re-indented to where it lives, leaves every other byte
of the file as it was, and hot-reloads the module. `%hotreload edit geometry.shapes:Shape.describe`
fills the next cell with exactly that: the magic line and the definition's current source,
ready to edit. From Python: `hr.source_of(target)` and `hr.reload_definition(target, text)`.""",
    ),
    ("code", 'print(hr.source_of("geometry.shapes:Shape.describe")["source"])'),
    (
        "code",
        '''\
# The same as a cell starting with: %%hotreload geometry.shapes:Shape.describe
result = hr.reload_definition(
    "geometry.shapes:Shape.describe",
    \'\'\'
def describe(self) -> str:
    """One line about the shape, rounded to a tenth."""
    return f"{self.name}: {self.area:.1f} cm²"
\'\'\',
)
print("reloaded", [payload["mod"] for payload in result["recompiled"]])''',
    ),
    ("code", "print(coin.describe())  # the instance made at the start runs the new method"),
    (
        "md",
        """\
## The editor in the panel

The panel edits too, with no cell at all. Click a function below: its source opens in an
editor inside the panel (Tab indents with spaces). Change it and press **Ctrl+S** (**Cmd+S**
on a Mac): the definition is hot-reloaded, its row is marked *changed* (added functions
*added*, removed ones listed as *removed* until the next reload), and the header says how the
module was updated (`patched`: only function code changed; `partial: N statements`; `full`).
A broken edit shows its error and the line in the editor under it, and keeps your text for
fixing; the old code keeps running. **Undo** reverts the last reload.

The panel talks to the kernel through the widget's own messages, not by running code: the
notebook's execution count does not move. (Running this notebook without a browser, as its
test does, shows the panel but clicks nothing.)""",
    ),
    (
        "code",
        """\
from ipython_hotreload.widgets import FunctionsPanel

editor_panel = FunctionsPanel("geometry.shapes")
editor_panel""",
    ),
    (
        "md",
        """\
## History and undo

Every successful reload (a cell, the panel, the comm, the file watcher, an undo) is an entry
of `hr.history()`, newest first, which keeps the exact bytes of each file before and after.
`hr.undo()` (or `%hotreload undo [N]`, or the panel's **Undo**) writes back the files of the
newest entry and reloads them in one all-or-nothing batch. The undo is itself an entry, so
undoing again redoes. It refuses, naming the file, if the file changed on disk since.""",
    ),
    (
        "code",
        """\
for entry in hr.history()[:3]:
    print(entry["id"], entry["origin"], entry["mods"])

hr.undo()  # back to the describe() before the one-definition edit
print("after undo:", coin.describe())""",
    ),
    (
        "md",
        """\
## The dependency graph

`hr.compile_dep_edges()` lists the project's import edges as `{"from", "to", "label"}`:
changing `to` forces this much work on `from`. `compile`: `from` is re-executed;
`export`: its imported names are rebound; `runtime`: nothing, it sees the new code on its
next call. `%hotreload edges` prints the same as a table.""",
    ),
    (
        "code",
        """\
for edge in hr.compile_dep_edges():
    print(edge)""",
    ),
    ("code", "%hotreload edges"),
    (
        "md",
        """\
## Clean up

Forget the tour's modules (the panels show them as gone), stop the event log, unload the
extension and delete the files.""",
    ),
    (
        "code",
        """\
import shutil

for name in [m for m in sys.modules if m == "geometry" or m.startswith("geometry.")]:
    hr.purge_module(name)  # panels hear `source_removed`
log.close()
editor_panel.close()
%unload_ext ipython_hotreload
os.chdir(previous_cwd)
sys.path.remove(str(workdir))
shutil.rmtree(workdir)
print("removed", workdir)""",
    ),
]


# The cluster notebook (SPEC 2.4): a LocalCluster of worker processes, attached, edited.
CLUSTER: list[tuple[str, str]] = [
    (
        "md",
        """\
# Hot reload on a Dask cluster

A notebook that drives a `dask.distributed` cluster runs project code on its workers too.
`%hotreload workers` attaches the cluster: from then on every successful reload in this
kernel applies on every worker, in place, and the result says how each worker fared.
This notebook starts a local cluster of two worker processes, edits a module, and shows
the workers running the new code without a restart. Run it top to bottom.""",
    ),
    (
        "code",
        """\
import logging
import os
import sys
import tempfile
from pathlib import Path

workdir = Path(tempfile.mkdtemp(prefix="hotreload-cluster-"))
(workdir / "pricing.py").write_text(
    "TAX = 0.10\\n\\n\\ndef with_tax(amount):\\n    return round(amount * (1 + TAX), 2)\\n"
)
sys.path.insert(0, str(workdir))  # before the cluster starts: its workers inherit it
os.chdir(workdir)
%load_ext ipython_hotreload
%config HotReload.roots = [str(workdir)]""",
    ),
    (
        "code",
        """\
from distributed import Client, LocalCluster

cluster = LocalCluster(
    n_workers=2, processes=True, threads_per_worker=1,
    dashboard_address=None, worker_dashboard_address=None, silence_logs=logging.ERROR,
)
client = Client(cluster)
%hotreload workers""",
    ),
    (
        "code",
        """\
import pricing

before = client.submit(pricing.with_tax, 100, pure=False).result()
before""",
    ),
    (
        "code",
        """\
%%hotreload pricing.py
TAX = 0.20


def with_tax(amount):
    return round(amount * (1 + TAX), 2)""",
    ),
    (
        "code",
        """\
after = client.submit(pricing.with_tax, 100, pure=False).result()
on_each = client.run(lambda: __import__("pricing").with_tax(100))
assert (before, after) == (110.0, 120.0), (before, after)
assert set(on_each.values()) == {120.0}, on_each
print(f"a new task: {after}; on each worker: {on_each}")
%hotreload workers""",
    ),
    (
        "md",
        "Stop sending reloads to the workers (they keep the code they have), then clean up.",
    ),
    (
        "code",
        """\
import shutil

%hotreload workers --stop
client.close()
cluster.close()
os.chdir(tempfile.gettempdir())
sys.path.remove(str(workdir))
shutil.rmtree(workdir, ignore_errors=True)""",
    ),
]


def cells(spec: list[tuple[str, str]]) -> list[nbformat.NotebookNode]:
    """Notebook cells with stable ids (so rebuilding an unchanged notebook changes nothing)."""
    out = []
    for i, (kind, text) in enumerate(spec):
        cell_id = f"cell-{i:02d}"
        if kind == "code":
            out.append(nbformat.v4.new_code_cell(text, id=cell_id))
        else:
            out.append(nbformat.v4.new_markdown_cell(text, id=cell_id))
    return out


def notebook(spec: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """A v4 notebook with the python3 kernelspec (so no "Select Kernel" dialog appears)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = cells(spec)
    return nb


NOTEBOOKS = {"tour.ipynb": TOUR, "cluster.ipynb": CLUSTER}


def main() -> int:
    """Write every notebook next to this script."""
    for name, spec in NOTEBOOKS.items():
        nb = notebook(spec)
        nbformat.validate(nb)
        nbformat.write(nb, HERE / name)
        print("wrote", HERE / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
