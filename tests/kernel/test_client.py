"""The client's docstring example runs as written, against a kernel started as it says."""

from __future__ import annotations

import contextlib
import io
import json
import re
import sys
from pathlib import Path

import pytest

import ipython_hotreload.client

pytestmark = pytest.mark.kernel


def docstring_example() -> str:
    """The indented block after ``::`` in the client module's docstring."""
    doc = ipython_hotreload.client.__doc__ or ""
    block = doc.split("::\n", 1)[1].split("\n\n\n", 1)[0]
    block = re.split(r"\n(?=\S)", block, maxsplit=1)[0]  # up to the first unindented line
    lines = block.splitlines()
    return "\n".join(line[4:] for line in lines)


def test_the_docstring_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A python3 kernelspec running this interpreter, first on the Jupyter path.
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "python3", "language": "python"})
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    project = tmp_path / "project"
    (project / "pkg").mkdir(parents=True)
    (project / "pkg" / "__init__.py").write_text("")

    code = docstring_example()
    assert "HotReloadClient(kc)" in code and "/path/to/project" in code
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code.replace("/path/to/project", str(project)), "<example>", "exec"), {})
    assert out.getvalue() == "()\n"
    assert (project / "pkg" / "mod.py").read_text() == "def f():\n    return 2\n"
