"""The default reloader and the module-level functions acting on it."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import ipython_hotreload as hr
from ipython_hotreload.core import defaults


def test_module_level_functions_use_a_default_reloader_rooted_at_the_cwd(
    tmp_path: Path, clean_modules: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    hr.set_default_reloader(None)
    try:
        (tmp_path / "dmod.py").write_text("X = 1\n")
        (tmp_path / "duser.py").write_text("from dmod import X\nY = X\n")
        import importlib

        duser = importlib.import_module("duser")
        assert hr.default_reloader().roots == [tmp_path.resolve()]
        assert hr.compile_dep_edges() == [{"from": "duser", "to": "dmod", "label": "compile"}]
        hr.default_reloader().formatter = None
        result = hr.reload("dmod.py", "X = 2\n")
        assert [p["mod"] for p in result["recompiled"]] == ["dmod", "duser"] and duser.Y == 2
        hr.purge_module("duser")
        assert "duser" not in sys.modules
    finally:
        hr.set_default_reloader(None)


@pytest.fixture
def no_default() -> Iterator[None]:
    defaults.set_default_reloader(None)
    yield
    defaults.set_default_reloader(None)


def test_the_default_reloader_is_made_once_on_first_use(
    no_default: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert defaults.peek_default_reloader() is None  # peeking makes none
    made = defaults.default_reloader()
    assert defaults.default_reloader() is made is defaults.peek_default_reloader()
    assert made.roots == [tmp_path.resolve()]


def test_replacing_the_default_closes_the_one_replaced(no_default: None, tmp_path: Path) -> None:
    first = hr.HotReloader(roots=[tmp_path], formatter=None)
    defaults.set_default_reloader(first)
    watcher = first.watch()
    defaults.set_default_reloader(first)  # the same one again: left running
    assert first.watcher is watcher and watcher.alive
    second = hr.HotReloader(roots=[tmp_path], formatter=None)
    defaults.set_default_reloader(second)
    assert first.watcher is None and not watcher.alive
    assert defaults.peek_default_reloader() is second
    defaults.set_default_reloader(None)
    assert defaults.peek_default_reloader() is None


def test_the_module_level_functions_edit_and_undo_through_the_default(
    no_default: None, tmp_path: Path, clean_modules: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    sys.path.insert(0, str(tmp_path))
    (tmp_path / "dmod2.py").write_text("def f():\n    return 1\n")
    dmod2 = importlib.import_module("dmod2")
    defaults.default_reloader().formatter = None
    assert defaults.source_of("dmod2:f")["source"] == "def f():\n    return 1\n"
    defaults.reload_definition("dmod2:f", "def f():\n    return 2\n")
    assert dmod2.f() == 2 and [e["origin"] for e in defaults.history()] == ["definition"]
    defaults.undo()
    assert dmod2.f() == 1
    result = defaults.reload("dmod2.py", "def f():\n    return 3\n", format=False)
    assert result["recompiled"][0]["mod"] == "dmod2" and dmod2.f() == 3
    defaults.purge_module(dmod2)
    assert "dmod2" not in sys.modules
