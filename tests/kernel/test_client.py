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
from tests.kernel.conftest import Kernel

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


def test_the_edit_methods_drive_a_kernel(kernel: Kernel) -> None:
    kernel.write("kc_edit/__init__.py", "")
    kernel.write("kc_edit/mod.py", "class C:\n    def m(self):\n        return 1\n")
    client = kernel.hotreload_client()
    client.open()
    assert client.execute("import kc_edit.mod\nc = kc_edit.mod.C()")["status"] == "ok"
    source = client.source("kc_edit.mod:C.m")["result"]
    assert source["source"] == "    def m(self):\n        return 1\n" and source["lineno"] == 2
    new = source["source"].replace("return 1", "return 2")
    assert client.reload_definition("kc_edit.mod:C.m", new, format=False)["ok"]
    event = client.wait_for_event(lambda e: e["kind"] == "recompiled" and e["mod"] == "kc_edit.mod")
    assert [f["qualname"] for f in event["payload"]["functions"]] == ["C.m"]
    assert client.execute("assert c.m() == 2")["status"] == "ok"
    [entry, *_] = client.history()["result"]
    assert entry["origin"] == "definition"
    assert client.undo()["result"]["undone"] == [entry["id"]]
    assert client.execute("assert c.m() == 1")["status"] == "ok"
    client.close()
