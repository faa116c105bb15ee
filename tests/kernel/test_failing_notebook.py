"""A failing ``%%hotreload`` cell stops a notebook run ("Run all", nbclient) at that cell."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from tests.kernel.conftest import KERNEL_NAME

pytestmark = pytest.mark.kernel


def test_a_failing_hotreload_cell_stops_the_notebook_there(
    tmp_path: Path, kernel_spec_manager: KernelSpecManager
) -> None:
    (tmp_path / "nbpkg").mkdir()
    (tmp_path / "nbpkg" / "__init__.py").write_text("")
    (tmp_path / "nbpkg" / "mod.py").write_text("def f():\n    return 1\n")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "%load_ext ipython_hotreload\n%config HotReload.formatter = None\nimport nbpkg.mod"
        ),
        nbformat.v4.new_code_cell("%%hotreload nbpkg/mod.py\ndef f(:\n    return 2\n"),
        nbformat.v4.new_code_cell("print('this cell must not run')"),
    ]
    km = KernelManager(kernel_spec_manager=kernel_spec_manager, kernel_name=KERNEL_NAME)
    client = NotebookClient(
        nb, km=km, timeout=60, startup_timeout=60, resources={"metadata": {"path": str(tmp_path)}}
    )
    with pytest.raises(CellExecutionError) as info:
        client.execute()

    assert "nbpkg/mod.py:1: SyntaxError" in str(info.value)
    first, failing, later = nb.cells
    assert first.execution_count == 1
    (error,) = [o for o in failing.outputs if o.output_type == "error"]
    assert error.ename == "ReloadError"
    # The short form, not a traceback through the reloader.
    assert error.traceback[0] == "nbpkg/mod.py:1: SyntaxError: invalid syntax"
    assert error.traceback[1:3] == ["    def f(:", "          ^"]
    assert len(error.traceback) <= 5
    assert not any("Traceback" in line for line in error.traceback)
    assert later.execution_count is None and later.outputs == []
    # Nothing was half-applied: the text is on disk for the user to fix.
    assert (tmp_path / "nbpkg" / "mod.py").read_text().startswith("def f(:")
