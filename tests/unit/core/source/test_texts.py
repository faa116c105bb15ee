"""The two texts a reload compares: a new Source, compiled once, and the Running text of a
loaded module; and the file name their code carries."""

from __future__ import annotations

import ast
import dataclasses
import os
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from ipython_hotreload.core.source.statements import ModuleIndex
from ipython_hotreload.core.source.texts import Running, Source, code_filename

FUTURE = b"from __future__ import annotations\ndef f(x: Undefined) -> None:\n    pass\n"


def test_a_source_compiles_its_whole_text_once_on_first_use(tmp_path: Path) -> None:
    src = Source("m", tmp_path / "m.py", b"X = 1\n", full=True, filename="m.py")
    code = src.compiled()
    assert src.code is code and src.compiled() is code
    assert code.co_filename == "m.py"
    ns: dict[str, object] = {}
    exec(code, ns)
    assert ns["X"] == 1


def test_a_source_read_statement_by_statement_compiles_as_its_whole_text(tmp_path: Path) -> None:
    index = ModuleIndex(FUTURE.decode(), ast.parse(FUTURE), None)
    src = Source("m", tmp_path / "m.py", FUTURE, full=True, filename="m.py", index=index)
    ns: dict[str, object] = {}
    exec(src.compiled(), ns)  # the annotation is not evaluated: no NameError
    assert ns["f"].__annotations__ == {"x": "Undefined", "return": "None"}  # type: ignore[attr-defined]


def test_what_a_module_runs_is_a_frozen_value() -> None:
    running = Running(None, "m.py", "the source the module runs is not known exactly")
    with pytest.raises(dataclasses.FrozenInstanceError):
        running.why = None  # type: ignore[misc]
    assert Running(None, "m.py").why is None


@pytest.fixture
def module(tmp_path: Path) -> Iterator[tuple[types.ModuleType, Path]]:
    path = tmp_path / "real" / "m.py"
    path.parent.mkdir()
    path.write_text("X = 1\n")
    mod = types.ModuleType("_hr_texts_m")
    mod.__file__ = str(path)
    sys.modules[mod.__name__] = mod
    yield mod, path
    sys.modules.pop(mod.__name__, None)


def test_code_carries_the_modules_own_file_name_when_it_names_the_same_file(
    module: tuple[types.ModuleType, Path], tmp_path: Path
) -> None:
    mod, path = module
    link = tmp_path / "link"
    os.symlink(path.parent, link)
    assert code_filename(mod.__name__, link / "m.py") == str(path)  # the same file
    other = tmp_path / "other.py"
    other.write_text("")
    assert code_filename(mod.__name__, other) == str(other)  # another file: the path
    assert code_filename("_hr_not_loaded", link / "m.py") == str(link / "m.py")
    mod.__file__ = str(tmp_path / "gone.py")
    assert code_filename(mod.__name__, path) == str(path)  # its __file__ is no file
