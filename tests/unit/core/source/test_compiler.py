"""Compiling a reload's sources: a spliced or a whole parse, failures naming their module,
and a dependent's kept code reused while its file is unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ipython_hotreload.core.paths import stamp_of
from ipython_hotreload.core.source.compiler import Compiler
from ipython_hotreload.core.source.texts import Source
from ipython_hotreload.errors import ModuleFailed
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


BODY = b"import os\n\nX = 1\n\n\ndef f():\n    return 1\n"


def test_a_first_text_is_parsed_and_compiled_whole(tmp_path: Path) -> None:
    compiler = Compiler()
    src = Source("whole", tmp_path / "whole.py", BODY, full=True)
    assert compiler.compile(src) is False
    assert src.text == BODY.decode() and src.filename == str(tmp_path / "whole.py")
    assert src.tree is not None and src.code is not None and src.index is None


def test_an_edit_of_a_known_module_parses_only_what_it_touched(tmp_path: Path) -> None:
    compiler = Compiler()
    path = tmp_path / "edited.py"
    first = Source("edited", path, BODY, full=True)
    compiler.compile(first)
    compiler.running.index(first)  # what the module now runs, statement by statement
    body_edit = Source("edited", path, BODY.replace(b"return 1", b"return 2"), full=True)
    assert compiler.compile(body_edit) is True  # spliced, with the same imports
    assert body_edit.index is not None and body_edit.code is None
    assert body_edit.tree is body_edit.index.tree
    ns: dict[str, Any] = {}
    exec(body_edit.compiled(), ns)
    assert ns["f"]() == 2
    compiler.running.index(body_edit)
    import_edit = Source("edited", path, body_edit.data + b"import sys\n", full=True)
    assert compiler.compile(import_edit) is False  # spliced, but its imports changed
    assert import_edit.index is not None


@pytest.mark.parametrize(
    ("data", "cause"),
    [(b"def f(:\n", SyntaxError), (b"X = '\xff'\n", UnicodeDecodeError)],
)
def test_a_source_that_does_not_compile_fails_naming_its_module(
    tmp_path: Path, data: bytes, cause: type[BaseException]
) -> None:
    compiler = Compiler()
    path = tmp_path / "broken.py"
    with pytest.raises(ModuleFailed) as info:
        compiler.compile(Source("pkg.broken", path, data, full=True))
    assert (info.value.mod, info.value.path) == ("pkg.broken", str(path))
    assert isinstance(info.value.__cause__, cause)


def test_a_dependent_reuses_its_kept_code_while_its_file_is_unchanged(tmp_path: Path) -> None:
    compiler = Compiler()
    path = tmp_path / "dep.py"
    path.write_bytes(b"Y = 1\n")
    read = compiler.read("dep", path)
    assert (read.data, read.stamp, read.full, read.code) == (
        b"Y = 1\n",
        stamp_of(path),
        False,
        None,
    )
    first = compiler.dependent("dep", path)
    assert first.code is not None and not first.reused
    compiler.ran(first)
    again = compiler.dependent("dep", path)
    assert again.reused and again.code is first.code and again.stamp == first.stamp
    assert compiler.running.text("dep") == b"Y = 1\n"
    path.write_bytes(b"Y = 22\n")  # its file changed: read and compiled again
    changed = compiler.dependent("dep", path)
    assert not changed.reused and changed.code is not first.code and changed.data == b"Y = 22\n"
    compiler.ran(changed)
    compiler.forget("dep")
    assert not compiler.dependent("dep", path).reused
    assert compiler.running.text("dep") is None
