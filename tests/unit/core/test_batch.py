"""A reload as the stages carry it, and what its listeners hear once it is committed."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import get_args

import pytest

from ipython_hotreload.core.batch import (
    Batch,
    CommittedBatch,
    CommittedFile,
    LastReload,
    Origin,
    Reexecute,
)
from tests.conftest import Project


def test_the_origins_are_those_of_the_history_and_reexecute_the_two_modes() -> None:
    assert get_args(Origin) == ("reload", "definition", "watch", "undo")
    assert get_args(Reexecute) == ("minimal", "module")


def test_a_batch_starts_empty_and_owns_its_collections() -> None:
    before = time.perf_counter()
    one = Batch("reload", "minimal", True, [])
    two = Batch("watch", "module", False, [])
    assert (one.before, one.warnings, one.purged) == ({}, [], {})
    one.before[Path("a.py")] = b"x"
    one.warnings.append("w")
    one.purged["a"] = None
    assert (two.before, two.warnings, two.purged) == ({}, [], {})
    assert before <= one.started <= time.perf_counter()


def test_what_listeners_hear_cannot_be_changed() -> None:
    file = CommittedFile("m", Path("m.py"), b"old", b"new")
    batch = CommittedBatch("reload", (file,), (), {"recompiled": []})
    with pytest.raises(dataclasses.FrozenInstanceError):
        file.after = None  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        batch.purged = ("m",)  # type: ignore[misc]


def test_the_last_reload_is_json_and_a_copy() -> None:
    last = LastReload("a", 12.5, ["a", "b"], 3.25)
    data = last.to_json()
    assert data == {"mod": "a", "at": 12.5, "modules": ["a", "b"], "elapsed_ms": 3.25}
    data["modules"].append("c")
    assert last.modules == ["a", "b"]


def test_a_listener_hears_each_file_with_its_bytes_before_and_after(project: Project) -> None:
    heard: list[CommittedBatch] = []
    project.reloader.add_batch_listener(heard.append)
    project.write("m.py", "X = 1\n")
    project.import_("m")
    result = project.reload("m.py", "X = 2\n")
    [batch] = heard
    assert batch.origin == "reload" and batch.purged == () and batch.result == result
    assert batch.files == (
        CommittedFile("m", project.path("m.py").resolve(), b"X = 1\n", b"X = 2\n"),
    )
