"""Failed edits left on disk (SPEC §1.8): a failed reload leaves its modules pending, which
never blocks another reload; a fix, the text put back or a purge ends it. And the pending
edits on their own, over what a reloader knows its modules run."""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import types
from pathlib import Path

import pytest

import ipython_hotreload as hr
from ipython_hotreload.core.changes.loaded import LoadedModules
from ipython_hotreload.core.changes.pending import PendingEdit, PendingEdits
from ipython_hotreload.core.source.running import RunningSources
from ipython_hotreload.core.source.texts import Source
from tests.conftest import Project

# -- through the reloader --------------------------------------------------------------------


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


# -- the pending edits on their own ----------------------------------------------------------

ERROR = {"type": "ZeroDivisionError", "message": "ZeroDivisionError: division by zero"}


def test_a_pending_edit_is_json_and_its_brief_names_where_the_batch_failed() -> None:
    own = PendingEdit("a", Path("a.py"), {**ERROR, "lineno": 2}, 12.5, (1, 2), "a")
    assert own.to_json() == {
        "mod": "a",
        "path": "a.py",
        "error": {**ERROR, "lineno": 2},
        "at": 12.5,
    }
    assert own.brief() == {
        "mod": "a",
        "path": "a.py",
        "lineno": 2,
        "message": "ZeroDivisionError: division by zero",
    }
    followed = PendingEdit("a", Path("a.py"), {**ERROR, "lineno": 7}, 12.5, None, "b")
    assert followed.brief()["lineno"] is None  # line 7 is in b's file, not a's
    assert followed.brief()["message"] == "b: ZeroDivisionError: division by zero"


def test_a_failure_leaves_pending_the_loaded_modules_whose_files_hold_other_text(
    tmp_path: Path, clean_modules: None
) -> None:
    running = RunningSources()
    loaded = LoadedModules([tmp_path], feed_factory=None)
    hashes: dict[Path, str] = {}
    edits = PendingEdits(running, loaded, hashes)

    def source(mod: str, data: bytes, loaded_now: bool = True) -> Source:
        if loaded_now:
            sys.modules[mod] = types.ModuleType(mod)
        path = tmp_path / f"{mod}.py"
        hashes[path] = hashlib.sha256(b"what was there").hexdigest()
        return Source(mod, path, data, full=True, stamp=(1, len(data)))

    back = source("_hr_back", b"X = 1\n")  # the text it runs, put back
    running.ran("_hr_back", b"X = 1\n")
    edited = source("_hr_edited", b"X = 2\n")
    ours = source("_hr_ours", b"Y = 3\n")
    hashes[ours.path] = hashlib.sha256(b"Y = 3\n").hexdigest()  # the reloader wrote it
    never = source("_hr_never", b"Z = 4\n", loaded_now=False)
    edits.failed([back, edited, ours, never], "_hr_edited", ERROR)

    assert list(edits) == ["_hr_edited", "_hr_ours"] and len(edits) == 2
    pending = edits["_hr_edited"]
    assert (pending.mod, pending.path, pending.stamp) == ("_hr_edited", edited.path, (1, 6))
    assert pending.error == ERROR and pending.failed_in == "_hr_edited"
    assert edits["_hr_ours"].failed_in == "_hr_edited"
    # A text no one wrote is forgotten, so the watcher reloads whatever comes next there.
    assert edited.path not in hashes and ours.path in hashes
    assert running.text("_hr_back") == b"X = 1\n" and back.path in hashes

    edits.failed([edited], "_hr_edited", {**ERROR, "message": "again"})
    assert edits["_hr_edited"].error["message"] == "again" and list(edits) == [
        "_hr_edited",
        "_hr_ours",
    ]
    edits.resolved("_hr_edited")
    edits.resolved("_hr_nothing")  # never pending: nothing to do
    assert edits.keys() - {"_hr_ours"} == set() and "_hr_edited" not in edits
    running.ran("_hr_ours", b"Y = 3\n")
    edits.failed([ours], "_hr_ours", ERROR)  # its own text again: it is as it was
    assert dict(edits) == {}
    loaded.close()


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
