"""One reload's stages over a Batch, and what its listeners hear."""

from __future__ import annotations

import hashlib
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import ipython_hotreload as hr
from ipython_hotreload.core import project as core_project
from ipython_hotreload.core.batch import Batch, CommittedBatch, CommittedFile, Origin
from ipython_hotreload.core.events import ModuleEvent, subscribe
from ipython_hotreload.core.pipeline import RELOAD_LOCK, Pipeline
from ipython_hotreload.core.source import provenance
from ipython_hotreload.errors import ReloadError
from tests.conftest import Project


def test_a_subscriber_editing_its_payload_does_not_change_the_result(project: Project) -> None:
    project.write("mut.py", "def f():\n    pass\n")
    project.import_("mut")

    def vandal(event: hr.ModuleEvent) -> None:
        assert event.payload is not None
        event.payload["functions"].clear()
        event.payload["mod"] = "vandalised"

    with hr.subscribe(vandal, kinds=["recompiled"]):
        result = project.reload("mut.py", "def f():\n    pass\ndef g():\n    pass\n")
    [payload] = result["recompiled"]
    assert payload["mod"] == "mut" and [f["name"] for f in payload["functions"]] == ["f", "g"]


# -- the stages on their own ---------------------------------------------------------------


class Stages:
    """A pipeline over a throw-away project, what its listeners heard and what was published."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pipeline = Pipeline(core_project.Project([root], graph_cache=False))
        self.heard: list[CommittedBatch] = []
        self.pipeline.listeners.append(self.heard.append)
        self.events: list[ModuleEvent] = []

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        importlib.invalidate_caches()
        return path

    def kinds(self) -> list[tuple[str, str | None]]:
        return [(e.kind, e.mod) for e in self.events]


def batch(origin: Origin = "reload") -> Batch:
    return Batch(origin, "minimal", False, [])


@pytest.fixture
def stages(tmp_path: Path, clean_modules: None) -> Iterator[Stages]:
    provenance.record_imports()
    root = (tmp_path / "proj").resolve()
    root.mkdir()
    sys.path.insert(0, str(root))
    made = Stages(root)
    with subscribe(made.events.append):
        yield made
    made.pipeline.project.loaded.close()


def test_a_reload_runs_its_stages_in_order_and_listeners_hear_the_committed_batch(
    stages: Stages,
) -> None:
    path = stages.write("base.py", "X = 1\n")
    stages.write("dep.py", "from base import X\nY = X + 1\n")
    dep = importlib.import_module("dep")
    result = stages.pipeline.reload_text(path, "X = 10\n", None, batch())
    assert dep.Y == 11 and [p["mod"] for p in result["recompiled"]] == ["base", "dep"]
    assert stages.kinds() == [
        ("source_written", "base"),
        ("recompiled", "base"),
        ("recompiled", "dep"),
    ]
    [heard] = stages.heard
    assert heard == CommittedBatch(
        "reload", (CommittedFile("base", path, b"X = 1\n", b"X = 10\n"),), (), result
    )
    pipeline = stages.pipeline
    assert pipeline.compiler.running.text("base") == b"X = 10\n"
    assert pipeline.disk_hashes[path] == hashlib.sha256(b"X = 10\n").hexdigest()
    assert pipeline.last_reload is not None and pipeline.last_reload.modules == ["base", "dep"]


def test_what_a_listener_adds_joins_the_result_and_a_failing_one_is_only_logged(
    stages: Stages, caplog: pytest.LogCaptureFixture
) -> None:
    path = stages.write("m.py", "X = 1\n")
    importlib.import_module("m")

    def fails(committed: CommittedBatch) -> None:
        raise RuntimeError("listener bug")

    stages.pipeline.listeners[:0] = [fails, lambda c: {"workers": {"ok": 2, "failed": []}}]
    result = stages.pipeline.reload_text(path, "X = 2\n", None, batch())
    assert result["workers"] == {"ok": 2, "failed": []} and sys.modules["m"].X == 2
    assert "a batch listener failed" in caplog.text and len(stages.heard) == 1


def test_a_file_deleted_in_a_batch_purges_its_module_and_listeners_hear_it(
    stages: Stages,
) -> None:
    path = stages.write("gone.py", "X = 1\n")
    importlib.import_module("gone")
    result = stages.pipeline.reload_files({path: None}, batch("undo"))
    assert result == {"recompiled": []}
    assert not path.exists() and "gone" not in sys.modules
    assert stages.kinds() == [("source_removed", "gone")]
    [heard] = stages.heard
    assert heard.origin == "undo" and heard.purged == ("gone",)
    assert heard.files == (CommittedFile("gone", path, b"X = 1\n", None),)


def test_a_loaded_module_whose_file_vanished_is_purged_by_the_next_reload(
    stages: Stages,
) -> None:
    path = stages.write("saved.py", "X = 1\n")
    vanished = stages.write("vanished.py", "V = 1\n")
    importlib.import_module("saved")
    importlib.import_module("vanished")
    stages.pipeline.reload_text(path, "X = 2\n", None, batch())  # both files seen
    vanished.unlink()
    stages.events.clear()
    stages.pipeline.reload_text(path, "X = 3\n", None, batch())
    assert "vanished" not in sys.modules
    assert ("source_removed", "vanished") in stages.kinds()
    assert stages.heard[-1].purged == ("vanished",)
    assert [f.mod for f in stages.heard[-1].files] == ["saved"]


def test_a_batch_from_disk_compares_with_what_the_module_ran(stages: Stages) -> None:
    path = stages.write("m.py", "X = 1\n")
    importlib.import_module("m")
    stages.pipeline.reload_text(path, "X = 2\n", None, batch())
    path.write_text("X = 3\n")
    result = stages.pipeline.reload_from_disk([path], [], batch("watch"))
    assert sys.modules["m"].X == 3 and [p["mod"] for p in result["recompiled"]] == ["m"]
    assert stages.heard[-1].origin == "watch"
    assert stages.heard[-1].files == (CommittedFile("m", path, b"X = 2\n", b"X = 3\n"),)


def test_a_failed_batch_publishes_its_failure_and_no_listener_hears_it(stages: Stages) -> None:
    path = stages.write("m.py", "X = 1\n")
    module = importlib.import_module("m")
    with pytest.raises(ReloadError) as info:
        stages.pipeline.reload_text(path, "X = 2\nY = 1 / 0\n", None, batch())
    assert (info.value.mod, info.value.lineno) == ("m", 2)
    assert module.X == 1 and path.read_text() == "X = 2\nY = 1 / 0\n"
    assert stages.kinds() == [("source_written", "m"), ("compile_failed", "m")]
    assert stages.heard == [] and stages.pipeline.last_reload is None
    with pytest.raises(ReloadError):  # a syntax error fails before anything runs
        stages.pipeline.reload_text(path, "X = (\n", None, batch())
    assert module.X == 1


def test_a_file_with_no_importable_name_is_compiled_and_analysed_only(stages: Stages) -> None:
    result = stages.pipeline.reload_text(
        stages.root / "my dir" / "x.py", "def f():\n    pass\n", None, batch()
    )
    [payload] = result["recompiled"]
    assert payload["executed"] is False and payload["mod"] == "my dir.x"
    assert payload["warnings"][-1].endswith(
        "is not importable under a module name; saved and analysed only"
    )
    assert stages.heard == [] and stages.kinds() == [("source_written", "my dir.x")]


def test_every_reload_of_the_process_holds_one_re_entrant_lock(project: Project) -> None:
    assert project.reloader.lock is RELOAD_LOCK
    with RELOAD_LOCK:  # a listener or a callback may reload again
        assert RELOAD_LOCK.acquire(timeout=5)
        RELOAD_LOCK.release()
