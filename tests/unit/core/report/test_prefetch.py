"""Analysing project files in a child process ahead of their first reload: its answers seed
the per-file cache, never over an analysis made here, and closing stops the child."""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from ipython_hotreload.core.report import analysis
from ipython_hotreload.core.report.prefetch import Prefetch
from ipython_hotreload.core.source.running import digest, pack_readings
from ipython_hotreload.core.source.statements import ModuleIndex

ONE = "def f(x=1):\n    '''Doc.'''\n    return x\n\n\nclass C:\n    def m(self):\n        pass\n"
TWO = "async def g():\n    pass\n"


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    analysis._clear_cache()
    before = {c.pid for c in psutil.Process().children()}
    yield
    analysis._clear_cache()
    left = [c for c in psutil.Process().children() if c.pid not in before and c.is_running()]
    assert not [c for c in left if c.status() != psutil.STATUS_ZOMBIE], left


def test_the_child_analyses_each_readable_file_as_this_process_would(tmp_path: Path) -> None:
    one, two = tmp_path / "one.py", tmp_path / "two.py"
    one.write_text(ONE)
    two.write_text(TWO)
    (tmp_path / "latin.py").write_bytes(b"X = '\xe9'\n")  # not UTF-8: left to the reload
    paths = [one, tmp_path / "missing.py", tmp_path / "latin.py", two]
    prefetch = Prefetch([(p, "") for p in paths])
    try:
        assert prefetch.done.wait(60)
    finally:
        prefetch.close()
    assert prefetch.seeded == 2
    seeded = {key: dict(entries) for key, entries in analysis._by_key.items()}
    assert seeded == {
        str(one): analysis.definition_entries(ONE),
        str(two): analysis.definition_entries(TWO),
    }
    assert len(seeded[str(one)]) == 2  # f and C, by the digest of their text
    functions = analysis.analyse_functions(ONE, key=str(one))
    assert [(e["qualname"], e["lineno"]) for e in functions] == [("f", 1), ("C.m", 7)]


def test_the_child_reads_each_files_readings_for_the_reloads_dependents(tmp_path: Path) -> None:
    text = "from . import sibling\nfrom .consts import SIZE\nclass M(Base):\n    n = SIZE\n"
    mod = tmp_path / "mod.py"
    mod.write_text(text)
    got: list[tuple[str, str, object]] = []
    prefetch = Prefetch([(mod, "pkg.sub")], lambda *a: got.append(a))
    try:
        assert prefetch.done.wait(60)
    finally:
        prefetch.close()
    here = ModuleIndex(text, ast.parse(text), "pkg.sub").readings()
    assert got == [(digest(text.encode()), "pkg.sub", pack_readings(here))]
    assert ("pkg.sub.consts", "SIZE", "SIZE") in here.from_imports  # read in its package


def test_an_answer_about_a_file_analysed_here_is_dropped(tmp_path: Path) -> None:
    one = tmp_path / "one.py"
    one.write_text(ONE)
    analysis.analyse_functions("def here():\n    pass\n", key=str(one))
    here = dict(analysis._by_key[str(one)])
    prefetch = Prefetch([(one, "")])
    try:
        assert prefetch.done.wait(60)
    finally:
        prefetch.close()
    assert prefetch.seeded == 0 and analysis._by_key[str(one)] == here


def test_closing_stops_the_child_and_the_reading_thread(tmp_path: Path) -> None:
    fifo = tmp_path / "blocks.py"
    os.mkfifo(fifo)  # reading it blocks the child until someone writes: it never answers
    one = tmp_path / "one.py"
    one.write_text(ONE)
    prefetch = Prefetch([(fifo, ""), (one, "")])
    assert not prefetch.done.wait(0.5)  # still waiting on the child (it cannot be done yet)
    prefetch.close()
    assert prefetch.done.is_set() and prefetch.seeded == 0
    prefetch.close()  # twice is fine
