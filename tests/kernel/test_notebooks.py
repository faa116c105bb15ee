"""Every notebook in notebooks/ runs top to bottom in a real kernel, with no error and no
stderr output, and matches the script that writes it.

nbclient runs no JavaScript: this proves the notebooks execute, not that the panels render
(tests/browser/ checks that).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def _builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_notebooks", REPO / "notebooks" / "build_notebooks.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def python3_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A ``python3`` kernelspec that runs this interpreter, first on the Jupyter path, and an
    empty IPython profile, so the user's own kernels and startup files play no part."""
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    yield


def test_there_are_notebooks() -> None:
    assert any(p.name == "tour.ipynb" for p in NOTEBOOKS)


def test_notebooks_match_their_source() -> None:
    builder = _builder()
    assert sorted(builder.NOTEBOOKS) == [p.name for p in NOTEBOOKS]
    for path in NOTEBOOKS:
        on_disk = nbformat.read(path, as_version=4)
        built = builder.notebook(builder.NOTEBOOKS[path.name])
        assert on_disk.metadata["kernelspec"]["name"] == "python3"
        assert [(c.cell_type, c.source) for c in on_disk.cells] == [
            (c.cell_type, c.source) for c in built.cells
        ], f"{path.name} is stale: run python notebooks/build_notebooks.py"
        assert all(not c.get("outputs") for c in on_disk.cells), "commit notebooks without outputs"


@pytest.mark.kernel
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_clean(path: Path, tmp_path: Path, python3_kernel: None) -> None:
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=90,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell

    problems = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.output_type == "error" or (out.output_type == "stream" and out.name == "stderr"):
                problems.append((i, cell.source.splitlines()[0], out))
    assert problems == []
    ran = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in ran), "every code cell ran"
    # The tour must actually show a panel and a %%hotreload summary, not only run.
    if path.name == "tour.ipynb":
        outputs = [o for c in ran for o in c.outputs]
        widgets = [
            o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
        ]
        assert len(widgets) >= 2
        reloads = [
            "".join(o.get("text", "") for o in c.outputs)
            for c in ran
            if c.source.startswith("%%hotreload")
        ]
        assert len(reloads) == 2
        assert all("geometry.shapes" in r and "geometry.scene" in r for r in reloads)
        text = "".join(o.get("text", "") for o in outputs)
        assert "ReloadError in geometry.shapes" in text
        assert "'label': 'compile'" in text
