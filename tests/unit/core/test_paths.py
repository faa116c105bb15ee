"""Paths: module names, which paths may be written, and atomic writes."""

from __future__ import annotations

import os

from tests.conftest import Project


def test_atomic_write_keeps_mode_and_makes_parents(project: Project) -> None:
    p = project.write("mode.py", "X = 1\n")
    p.chmod(0o640)
    project.reload("mode.py", "X = 2\n")
    assert (p.stat().st_mode & 0o777) == 0o640
    project.reload("deep/er/new_mod.py", "Z = 1\n")
    assert project.path("deep/er/new_mod.py").read_text() == "Z = 1\n"
    assert not [n for n in os.listdir(project.root) if n.endswith(".tmp")]
