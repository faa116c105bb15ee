"""Compiling a reload's sources: one parse per text, failures naming their module, and a dependent's kept code."""

from __future__ import annotations

import pytest

from ipython_hotreload.core.source.compiler import Compiler
from ipython_hotreload.core.source.texts import Source
from tests.conftest import Project


def test_an_unchanged_dependent_reruns_its_kept_code_instead_of_recompiling(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.files({"kbase.py": "N = 1\n", "kdep.py": "from kbase import N\nM = N + 1\n"})
    project.import_("kbase")
    kdep = project.import_("kdep")
    project.reload("kbase.py", "N = 2\n")  # kdep compiled once, from its file
    compiled: list[str] = []
    real = Compiler.compile

    def counting(self: Compiler, src: Source) -> bool:
        compiled.append(src.mod)
        return real(self, src)

    monkeypatch.setattr(Compiler, "compile", counting)
    project.reload("kbase.py", "N = 3\n")
    assert compiled == ["kbase"] and kdep.M == 4
    project.path("kdep.py").write_text("from kbase import N\nM = N + 100\n")  # now it changed
    project.reload("kbase.py", "N = 4\n")
    assert "kdep" in compiled and kdep.M == 104
