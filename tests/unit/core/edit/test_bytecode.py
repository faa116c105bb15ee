"""Checked hash-based .pyc files (PEP 552): written, loaded, removed."""

from __future__ import annotations

import importlib.util
import marshal
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ipython_hotreload.core.edit.bytecode import checked_hash_pyc, remove_pyc, write_pyc
from tests.conftest import Project


def test_bytecode_is_a_checked_hash_pyc_that_a_fresh_interpreter_loads(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    project.write("bc.py", "X = 1\n")
    project.import_("bc")
    project.reload("bc.py", "X = 2\n")
    import importlib.util

    pyc = Path(importlib.util.cache_from_source(str(project.path("bc.py"))))
    flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
    assert flags == 0b11  # hash-based, checked
    probe = textwrap.dedent(
        """
        import importlib.machinery as m, sys
        def refuse(self, data, path, *, _optimize=-1):
            raise SystemExit("recompiled from source")
        m.SourceFileLoader.source_to_code = refuse
        import bc
        print(bc.X)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(project.root)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "2"


def test_a_checked_hash_pyc_is_the_pep_552_layout_of_the_code() -> None:
    source = b"X = 41 + 1\n"
    code = compile(source, "m.py", "exec")
    data = checked_hash_pyc(source, code)
    assert data[:4] == importlib.util.MAGIC_NUMBER
    assert int.from_bytes(data[4:8], "little") == 0b11  # hash-based, checked
    assert data[8:16] == importlib.util.source_hash(source)
    ns: dict[str, object] = {}
    exec(marshal.loads(data[16:]), ns)
    assert ns["X"] == 42


def test_write_and_remove_the_pyc_beside_a_source(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_bytes(b"X = 1\n")
    code = compile(b"X = 1\n", str(path), "exec")
    assert write_pyc(path, b"X = 1\n", code) is None
    pyc = Path(importlib.util.cache_from_source(str(path)))
    assert pyc.read_bytes() == checked_hash_pyc(b"X = 1\n", code)
    assert os.listdir(pyc.parent) == [pyc.name]  # no temporary left
    remove_pyc(path)
    assert not pyc.exists()
    remove_pyc(path)  # nothing to remove: fine


def test_a_pyc_that_cannot_be_written_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    (tmp_path / "__pycache__").write_text("a file where the directory should be")
    warning = write_pyc(path, b"X = 1\n", compile("X = 1\n", str(path), "exec"))
    assert warning is not None and warning.startswith("bytecode not saved to ")


def test_an_import_never_runs_a_pyc_whose_source_changed_at_the_same_size_and_time(
    tmp_path: Path, clean_modules: None
) -> None:
    path = tmp_path / "same_stat.py"
    path.write_bytes(b"X = 1\n")
    assert write_pyc(path, b"X = 1\n", compile(b"X = 1\n", str(path), "exec")) is None
    st = path.stat()
    path.write_bytes(b"X = 2\n")  # what an editor saving within one timestamp tick does
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    assert importlib.import_module("same_stat").X == 2
