"""The default reloader and the module-level functions acting on it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import ipython_hotreload as hr


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
