"""``%unload_ext`` then ``%load_ext`` in another directory starts afresh there (SPEC 2), also
when the module-level API made the default reloader earlier in the process."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

import ipython_hotreload as hr
from ipython_hotreload.ipython import extension


def test_a_default_made_by_the_module_api_is_replaced_after_unload_and_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_modules: None
) -> None:
    ip = InteractiveShell.instance()
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    (second / "shop_a.py").write_text("import shop_b\n\nX = shop_b.Y\n", encoding="utf-8")
    (second / "shop_b.py").write_text("Y = 1\n", encoding="utf-8")
    hr.set_default_reloader(None)
    try:
        monkeypatch.chdir(first)
        assert hr.compile_dep_edges() == []  # the module API makes the default reloader here
        ip.run_line_magic("load_ext", "ipython_hotreload")
        ip.run_line_magic("unload_ext", "ipython_hotreload")
        monkeypatch.chdir(second)
        sys.path.insert(0, str(second))
        ip.run_line_magic("load_ext", "ipython_hotreload")
        assert hr.default_reloader().roots == [second.resolve()]
        assert hr.compile_dep_edges() == [{"from": "shop_a", "to": "shop_b", "label": "compile"}]
    finally:
        ip.run_line_magic("unload_ext", "ipython_hotreload")
        extension.unload(ip)
        hr.set_default_reloader(None)


def test_a_reloader_set_by_hand_outlives_the_extension(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_modules: None
) -> None:
    ip = InteractiveShell.instance()
    mine = hr.HotReloader(roots=[tmp_path], formatter=None)
    hr.set_default_reloader(mine)
    try:
        monkeypatch.chdir(tmp_path)
        ip.run_line_magic("load_ext", "ipython_hotreload")
        ip.run_line_magic("unload_ext", "ipython_hotreload")
        assert hr.default_reloader() is mine
    finally:
        extension.unload(ip)
        hr.set_default_reloader(None)
