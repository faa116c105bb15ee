"""What the graph's tests share: a throw-away project root on ``sys.path`` and its files."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ipython_hotreload.core.graph.modulegraph import ModuleGraph


def write(root: Path, files: dict[str, str]) -> None:
    """Write each file of ``files`` (relative path -> dedented text) under ``root``."""
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text), encoding="utf-8")


def graph(root: Path, files: dict[str, str]) -> ModuleGraph:
    """The graph, with no cache, of package ``pkg`` holding ``files``."""
    write(root, {"pkg/__init__.py": "", **files})
    return ModuleGraph([root], use_cache=False)


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    r = tmp_path / "proj"
    r.mkdir()
    monkeypatch.syspath_prepend(str(r))
    return r
