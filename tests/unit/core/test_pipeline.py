"""One reload's stages over a Batch, and what its listeners hear."""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
import threading
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


# -- pending ------------------------------------------------------------


PRICES = """\
TAX = 0.1


def with_tax(amount):
    return round(amount * (1 + TAX), 2)
"""
BROKEN = PRICES.replace("TAX = 0.1\n", "TAX = 0.1\n1 / 0\n")
CATALOG = "ITEMS = {'tea': 3}\n\ndef price(name):\n    return ITEMS[name]\n"


@pytest.fixture
def shop(project: Project) -> Project:
    project.files({"shop/__init__.py": "", "shop/prices.py": PRICES, "shop/catalog.py": CATALOG})
    project.import_("shop.prices")
    project.import_("shop.catalog")
    return project


def fail_prices(shop: Project) -> hr.ReloadError:
    with pytest.raises(hr.ReloadError) as caught:
        shop.reload("shop/prices.py", BROKEN)
    return caught.value


def test_a_failed_edit_is_pending_and_keeps_its_text_and_the_old_code(shop: Project) -> None:
    prices = sys.modules["shop.prices"]
    err = fail_prices(shop)
    assert err.mod == "shop.prices" and err.lineno == 2
    assert shop.path("shop/prices.py").read_text() == BROKEN
    assert prices.with_tax(100) == 110.0
    [pending] = shop.reloader.status()["pending"]
    assert pending["mod"] == "shop.prices" and pending["path"] == str(shop.path("shop/prices.py"))
    assert pending["error"]["type"] == "ZeroDivisionError" and pending["error"]["lineno"] == 2
    assert isinstance(pending["at"], float)


def test_other_modules_reload_while_one_is_pending_and_the_result_names_it(shop: Project) -> None:
    fail_prices(shop)
    result = shop.reload("shop/catalog.py", CATALOG.replace("3", "4"))
    # The pending module is not pulled into the reload of an unrelated module.
    assert shop.mods(result) == ["shop.catalog"]
    assert sys.modules["shop.catalog"].price("tea") == 4
    assert result["pending"] == [
        {
            "mod": "shop.prices",
            "path": str(shop.path("shop/prices.py")),
            "lineno": 2,
            "message": "ZeroDivisionError: division by zero",
        }
    ]
    # Again and again: it never blocks.
    assert shop.mods(shop.reload("shop/catalog.py", CATALOG)) == ["shop.catalog"]


def test_a_result_leaves_pending_out_when_there_is_none(shop: Project) -> None:
    assert "pending" not in shop.reload("shop/catalog.py", CATALOG.replace("3", "5"))
    assert shop.reloader.status()["pending"] == []


def test_putting_the_text_back_ends_the_pending_state_with_an_unchanged_reload(
    shop: Project,
) -> None:
    fail_prices(shop)
    shop.events.clear()
    result = shop.reload("shop/prices.py", PRICES)
    [payload] = result["recompiled"]
    assert payload["mod"] == "shop.prices" and payload["mode"] == "unchanged"
    assert ("recompiled", "shop.prices") in shop.kinds()
    assert shop.reloader.status()["pending"] == [] and "pending" not in result


def test_a_fix_ends_the_pending_state(shop: Project) -> None:
    fail_prices(shop)
    shop.reload("shop/prices.py", PRICES.replace("0.1", "0.2"))
    assert sys.modules["shop.prices"].with_tax(100) == 120.0
    assert shop.reloader.status()["pending"] == []


def test_a_failure_again_replaces_the_pending_error(shop: Project) -> None:
    fail_prices(shop)
    with pytest.raises(hr.ReloadError):
        shop.reload("shop/prices.py", PRICES.replace("TAX = 0.1", "TAX = 0.1\nundefined_name"))
    [pending] = shop.reloader.status()["pending"]
    assert pending["error"]["type"] == "NameError"


def test_the_stale_sweep_retries_a_pending_file_once_its_text_changed_again(
    shop: Project,
) -> None:
    fail_prices(shop)
    # Fixed in another editor (no watcher): the next reload of anything picks it up.
    path = shop.path("shop/prices.py")
    path.write_text(PRICES.replace("0.1", "0.3"))
    _touch(path)  # a new stamp, whatever the clock's resolution
    result = shop.reload("shop/catalog.py", CATALOG.replace("3", "6"))
    assert set(shop.mods(result)) == {"shop.catalog", "shop.prices"}
    assert sys.modules["shop.prices"].with_tax(100) == 130.0
    assert "pending" not in result


def test_a_dependent_of_a_pending_module_runs_the_text_the_module_runs(project: Project) -> None:
    project.files(
        {
            "base.py": "N = 1\n",
            "mid.py": "import base\nM = base.N * 10\n\ndef f():\n    return 1\n",
            "top.py": "import mid\nT = mid.M + 1\n",
        }
    )
    project.import_("base")
    mid = project.import_("mid")
    top = project.import_("top")
    with pytest.raises(hr.ReloadError):
        project.reload("mid.py", "import base\nM = base.N * 10\nraise RuntimeError('typo')\n")
    # base changes: mid must follow it, with the text it runs (not the failed one on disk).
    result = project.reload("base.py", "N = 2\n")
    assert mid.M == 20 and top.T == 21 and mid.f() == 1
    assert {"base", "mid", "top"} <= set(project.mods(result))
    assert [p["mod"] for p in result["pending"]] == ["mid"]
    assert "raise RuntimeError" in project.path("mid.py").read_text()


def test_a_dependent_re_executed_whole_while_pending_runs_the_text_it_runs(
    project: Project,
) -> None:
    project.files({"cfg.py": "X = 1\n", "use.py": "from cfg import X\nY = X + 1\n"})
    project.import_("cfg")
    use = project.import_("use")
    with pytest.raises(hr.ReloadError):
        project.reload("use.py", "from cfg import X\nY = X + 1\nboom()\n")
    result = project.reload("cfg.py", "X = 5\n", reexecute="module")
    assert use.Y == 6 and "use" in project.mods(result)
    assert "boom()" in project.path("use.py").read_text()  # still there, still pending
    assert [p["mod"] for p in result["pending"]] == ["use"]


def test_a_pending_module_whose_file_is_deleted_is_purged(shop: Project) -> None:
    fail_prices(shop)
    shop.path("shop/prices.py").unlink()
    shop.reload("shop/catalog.py", CATALOG)
    assert "shop.prices" not in sys.modules
    assert shop.reloader.status()["pending"] == []
    assert ("source_removed", "shop.prices") in shop.kinds()


def test_a_failure_in_a_dependent_leaves_the_saved_module_pending_naming_it(
    project: Project,
) -> None:
    project.files({"lib.py": "def f():\n    return 1\n", "app.py": "from lib import f\nV = f()\n"})
    project.import_("lib")
    project.import_("app")
    with pytest.raises(hr.ReloadError) as caught:
        project.reload("lib.py", "def g():\n    return 1\n")  # app imports f: gone
    assert caught.value.mod == "app"
    [pending] = project.reloader.status()["pending"]
    assert pending["mod"] == "lib"
    project.files({"other.py": "Z = 1\n"})
    project.import_("other")
    result = project.reload("other.py", "Z = 2\n")
    [brief] = result["pending"]
    assert brief["mod"] == "lib" and brief["lineno"] is None
    assert brief["message"].startswith("app: ImportError")


def test_the_watcher_clears_a_typo_put_back_in_another_editor(shop: Project) -> None:
    reloader = shop.reloader
    # Saved once through the reloader: the watcher knows its text as one of our own writes.
    shop.reload("shop/prices.py", PRICES)
    events: list[hr.ModuleEvent] = []
    sub = hr.subscribe(events.append, kinds=["recompiled", "compile_failed"])
    reloader.watch([shop.root], debounce_ms=20)
    try:
        path = shop.path("shop/prices.py")
        path.write_text(BROKEN)
        assert _wait_for(lambda: any(e.kind == "compile_failed" for e in events))
        assert [p["mod"] for p in reloader.status()["pending"]] == ["shop.prices"]
        path.write_text(PRICES)  # the typo put back: the text the module runs
        assert _wait_for(lambda: any(e.kind == "recompiled" for e in events))
        [event] = [e for e in events if e.kind == "recompiled"]
        assert event.mod == "shop.prices" and event.payload is not None
        assert event.payload["mode"] == "unchanged"
        assert reloader.status()["pending"] == []
    finally:
        sub.close()
        reloader.stop_watching()


def _wait_for(check: object, timeout: float = 20.0) -> bool:
    """Poll ``check()`` until it is true or ``timeout`` seconds pass."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        threading.Event().wait(0.02)
    return False


def _touch(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
