"""Checked hash-based .pyc files (PEP 552): written, loaded, removed."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

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
