"""One definition read and replaced (SPEC 1.6), and undo (SPEC 1.7), over a real pipeline."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import ipython_hotreload as hr
from ipython_hotreload.core.batch import Batch
from ipython_hotreload.core.cells import CellRule, Hold
from ipython_hotreload.core.edit.definitions import text_hash
from ipython_hotreload.core.edit.history import History
from ipython_hotreload.core.editor import Editor
from ipython_hotreload.core.pipeline import RELOAD_LOCK, Pipeline
from ipython_hotreload.core.project import Project as Where
from tests.conftest import Project

MOD = "X = 1\n\n\nclass C:\n    def m(self):\n        return 1\n"


def make(project: Project) -> tuple[Editor, Pipeline]:
    project.write("ed.py", MOD)
    project.import_("ed")
    pipeline = Pipeline(Where([project.root]))
    history = History(lambda: 10)
    pipeline.listeners.append(history.record)
    return Editor(pipeline.project, pipeline, history, CellRule(RELOAD_LOCK)), pipeline


def batch(origin: str, hold: Hold | None) -> Batch:
    return Batch(origin, "minimal", False, [], hold=hold)  # type: ignore[arg-type]


def test_source_of_gives_the_text_on_disk_and_its_hash(project: Project) -> None:
    editor, _ = make(project)
    found = editor.source_of("ed:C.m")
    assert found["source"] == "    def m(self):\n        return 1\n"
    assert found["source_hash"] == text_hash(found["source"])
    assert (found["lineno"], found["end_lineno"], found["mod"]) == (5, 6, "ed")
    with pytest.raises(hr.HotReloadError, match=r"no definition C\.nope"):
        editor.source_of("ed:C.nope")


def test_a_definition_is_replaced_in_place_unless_it_changed_since_it_was_read(
    project: Project,
) -> None:
    editor, _ = make(project)
    opened = editor.source_of("ed:C.m")["source_hash"]
    result = editor.reload_definition("ed:C.m", "def m(self):\n    return 2\n", None, opened, batch)
    assert result["definition"]["qualname"] == "C.m" and sys.modules["ed"].C().m() == 2
    before = project.path("ed.py").read_bytes()
    with pytest.raises(hr.ConflictError) as caught:
        editor.reload_definition("ed:C.m", "def m(self):\n    return 3\n", None, opened, batch)
    assert caught.value.current == "    def m(self):\n        return 2\n"
    assert project.path("ed.py").read_bytes() == before


def test_undo_writes_back_the_bytes_before_and_is_itself_undone(project: Project) -> None:
    editor, pipeline = make(project)
    editor.reload_definition("ed:C.m", "def m(self):\n    return 2\n", None, None, batch)

    def reload_files(files: dict[Path, bytes | None], *, origin: str = "undo") -> object:
        return pipeline.reload_files(files, batch(origin, None))

    result = editor.undo(1, False, reload_files)  # type: ignore[arg-type]
    assert project.path("ed.py").read_text() == MOD and sys.modules["ed"].C().m() == 1
    assert result["undone"]
    editor.undo(1, False, reload_files)  # type: ignore[arg-type]
    assert sys.modules["ed"].C().m() == 2
