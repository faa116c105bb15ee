"""Scanning many files at once, in this process and in worker processes: the same results
whoever scans a file, and every file scanned when a worker cannot start, dies, answers from
another interpreter or stalls."""

from __future__ import annotations

import os
import stat
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

import ipython_hotreload as hr
from ipython_hotreload.core.graph import scanpool, treescan
from ipython_hotreload.core.graph.modulegraph import ModuleGraph
from ipython_hotreload.core.graph.scanpool import (
    available_workers,
    chunks,
    cpu_quota,
    python,
    scan_files,
)
from ipython_hotreload.core.graph.treescan import scan_file


def leaf(k: int) -> str:
    """A module of about 1.5 KB that imports earlier ones in the three ways there are."""
    a, b, c = (k * 7) % max(k, 1), (k * 3) % max(k, 1), (k * 5) % max(k, 1)
    return (
        f'"""Module {k}."""\n'
        f"from pkg.m{a} import VALUE as v{a}\n"
        f"from pkg import m{b}\n"
        f"import pkg.m{c}\n\n"
        f"VALUE = {k} + v{a}\n\n"
        "def use():\n"
        f"    import pkg.m{c} as late\n"
        f"    return m{b}.VALUE, late.VALUE\n\n"
        "class Thing:\n"
        '    """' + "A thing with a long docstring. " * 20 + '"""\n\n'
        "    def method(self, x=VALUE):\n"
        "        return x * 2\n"
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """500 modules (about 750 KB, past the size that starts workers) and the hard cases: a
    syntax error, bytes that are not UTF-8, CRLF line ends, a BOM, an empty file."""
    root = tmp_path_factory.mktemp("scanpool")
    pkg = root / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for k in range(500):
        (pkg / f"m{k}.py").write_text(leaf(k))
    (pkg / "broken.py").write_text("import pkg.m1\ndef f(:\n    pass\n")
    (pkg / "latin.py").write_bytes(b"import pkg.m2\nNAME = '\xe9'\n")
    (pkg / "crlf.py").write_bytes(b"import pkg.m3\r\ndef f():\r\n    import pkg.m4\r\n")
    (pkg / "bom.py").write_bytes(b"\xef\xbb\xbfimport pkg.m5\nX = pkg.m5.VALUE\n")
    (pkg / "empty.py").write_text("")
    return root


@pytest.fixture(autouse=True)
def no_worker_left() -> Iterator[None]:
    """Every test ends with no worker process left, running or unreaped."""
    before = {c.pid for c in psutil.Process().children()}
    yield
    left = [c for c in psutil.Process().children() if c.pid not in before]
    assert not left, left


def files_of(root: Path) -> tuple[list[str], list[int]]:
    paths = sorted(str(p) for p in root.rglob("*.py"))
    return paths, [os.stat(p).st_size for p in paths]


def test_chunks_hold_a_few_dozen_files_or_about_64_kb() -> None:
    assert chunks([1000] * 70) == [(0, 32), (32, 64), (64, 70)]
    # the byte budget closes a chunk once reached, by a file of any size
    assert chunks([40_000, 40_000, 10, 200_000, 1, 70_000]) == [(0, 2), (2, 4), (4, 6)]
    assert chunks([]) == []


def test_workers_give_the_results_of_one_process(project: Path) -> None:
    paths, sizes = files_of(project)
    alone = scan_files(paths, sizes, workers=0)
    assert alone.workers == alone.worker_files == 0
    shared = scan_files(paths, sizes, workers=2)
    assert shared.results == alone.results
    # Who took how many chunks depends on the machine's load (this process scans too, unless
    # the workers were quicker to every chunk): only that a worker took part is certain.
    assert shared.workers >= 1 and 0 < shared.worker_files <= len(paths)
    # and both are what one file at a time gives
    assert alone.results == [scan_file(p, None) for p in paths]
    errors = {Path(p).name: e for p, (r, e) in zip(paths, alone.results, strict=True) if e}
    assert set(errors) == {"broken.py", "latin.py"}
    assert errors["broken.py"].startswith("SyntaxError: ")


def test_a_file_gone_or_grown_since_its_stat(project: Path, tmp_path: Path) -> None:
    paths, sizes = files_of(project)
    grown = tmp_path / "grown.py"
    grown.write_text("import pkg.m1\n" + "X = pkg.m1.VALUE\n" * 50)
    paths += [str(tmp_path / "gone.py"), str(grown)]
    sizes += [10, 5]  # what an earlier stat said
    report = scan_files(paths, sizes, workers=2)
    assert report.results == scan_files(paths, sizes, workers=0).results
    gone, grown_result = report.results[-2:]
    assert gone[0] is None and gone[1] is not None and gone[1].startswith("FileNotFoundError")
    assert grown_result == scan_file(str(grown), None)


def test_small_scans_start_no_worker(project: Path) -> None:
    paths, sizes = files_of(project)
    few = scan_files(paths[:40], sizes[:40])  # about 60 KB: under MIN_BYTES
    assert sum(sizes[:40]) < scanpool.MIN_BYTES and few.workers == 0
    assert few.results == scan_files(paths[:40], sizes[:40], workers=0).results


def test_cgroup_cpu_quotas_are_read() -> None:
    assert cpu_quota("200000 100000\n") == 2
    assert cpu_quota("150000 100000") == 2  # 1.5 CPUs: round up
    assert cpu_quota("50000 100000") == 1
    assert cpu_quota("max 100000") is None
    assert cpu_quota("") is None and cpu_quota("1 0") is None


def test_workers_start_only_in_a_python_running_this_scanner(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths, sizes = files_of(project)
    assert python() == sys.executable
    # an application that embeds Python names itself in sys.executable: never start it,
    # even when asked for workers
    monkeypatch.setattr(sys, "executable", "/opt/blender/blender")
    assert python() is None and available_workers() == 0
    assert scan_files(paths, sizes, workers=2).workers == 0
    monkeypatch.undo()
    # treescan.py on disk is no longer what this process imported (an upgrade, an edit)
    monkeypatch.setattr(treescan, "_LOADED_FROM", (0, 0))
    assert python() is None and available_workers() == 0
    assert scan_files(paths, sizes, workers=2).workers == 0


def fake_python(tmp_path: Path, script: str) -> str:
    """An executable named like a Python that is not a scan worker."""
    path = tmp_path / "python3"
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


@pytest.mark.parametrize(
    "script",
    [
        "exit 3",  # dies at once
        # answers from another interpreter: a hello of version 0, then reads on
        "printf '\\005\\000\\000\\000\\351\\000\\000\\000\\000'; cat > /dev/null",
        "exec sleep 60",  # stalls
    ],
    ids=["dies", "other-interpreter", "stalls"],
)
def test_a_failing_worker_leaves_its_files_to_this_process(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str
) -> None:
    paths, sizes = files_of(project)
    expected = scan_files(paths, sizes, workers=0).results
    monkeypatch.setattr(sys, "executable", fake_python(tmp_path, script))
    monkeypatch.setattr(scanpool, "STALL_SECONDS", 0.5)
    report = scan_files(paths, sizes, workers=1)
    assert report.results == expected
    assert report.workers == report.worker_files == 0


FAKE_WORKER = """
import importlib.util, marshal, os, sys
spec = importlib.util.spec_from_file_location("treescan", sys.argv[-1])
treescan = importlib.util.module_from_spec(spec)
spec.loader.exec_module(treescan)
out, read = sys.stdout.buffer, lambda: marshal.loads(treescan.read_message(sys.stdin.buffer))
out.write(treescan.frame(marshal.dumps((sys.hexversion, treescan.PROTOCOL))))
files = [(os.fsdecode(path), size) for path, size in read()]
for _ in range({answers}):
    start, end = read()
    request = files[start:end]
    out.write(treescan.frame(marshal.dumps({answer})))
    out.flush()
sys.exit(1)
"""


@pytest.mark.parametrize(
    ("answers", "answer", "kept"),
    [
        (3, "treescan.scan_chunk(request)", True),  # dies with more requests waiting
        (1000, "treescan.scan_chunk(request)[:-1]", False),  # one file short, every time
        (1000, "'nonsense'", False),
        (1000, "[0] * len(request)", False),  # the right length, not results
    ],
    ids=["dies-midway", "short-answers", "nonsense", "not-results"],
)
def test_a_worker_answering_badly_leaves_the_rest_to_this_process(
    project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    answers: int,
    answer: str,
    kept: bool,
) -> None:
    paths, sizes = files_of(project)
    expected = scan_files(paths, sizes, workers=0).results
    worker = tmp_path / "fake_worker.py"
    worker.write_text(FAKE_WORKER.format(answers=answers, answer=answer))
    script = f'exec "{sys.executable}" "{worker}" "$@"'
    monkeypatch.setattr(sys, "executable", fake_python(tmp_path, script))
    report = scan_files(paths, sizes, workers=1)
    assert report.results == expected
    if kept:  # what it answered before it died counts
        assert report.workers == 1 and 0 < report.worker_files <= 3 * scanpool.CHUNK_FILES
    else:
        assert report.worker_files == 0


def test_an_interpreter_that_cannot_start(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths, sizes = files_of(project)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "missing" / "python3"))
    report = scan_files(paths, sizes, workers=2)
    assert report.results == scan_files(paths, sizes, workers=0).results
    assert report.workers == 0


def test_a_graph_built_with_workers_equals_one_built_without(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(project))
    alone = ModuleGraph([project], use_cache=False, workers=0)
    shared = ModuleGraph([project], use_cache=False, workers=2)
    assert shared.edges() == alone.edges() and len(alone.edges()) > 500
    assert shared.parse_errors() == alone.parse_errors() and len(alone.parse_errors()) == 2
    assert shared.files_scanned == alone.files_scanned
    assert shared.files_by_workers > 0 and alone.files_by_workers == 0
    by_default = ModuleGraph([project], use_cache=False)
    assert by_default.edges() == alone.edges()
    # the default starts workers where there are spare CPUs (as here and in CI: 2 cores)
    assert (by_default.files_by_workers > 0) == (available_workers() > 0)


@pytest.mark.parametrize("workers", [0, 1])
def test_a_reloader_passes_graph_workers_on(
    project: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    monkeypatch.syspath_prepend(str(project))
    reloader = hr.HotReloader(
        roots=[project], formatter=None, graph_cache=False, graph_workers=workers
    )
    edges = reloader.compile_dep_edges()
    assert edges == [e.to_json() for e in ModuleGraph([project], use_cache=False).edges()]
    assert (reloader.graph.files_by_workers > 0) == (workers > 0)


def test_big_answers_and_long_paths_do_not_block_the_pipes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of files with paths of 2,400 characters and 150 imports each: far more than a
    pipe holds, both ways; the worker still answers (a deadlock would stall it, and it
    would be dropped)."""
    deep = tmp_path.joinpath(*["d" * 200] * 12)
    deep.mkdir(parents=True)
    for k in range(320):
        (deep / f"m{k}.py").write_text("".join(f"import pkg.m{i}\n" for i in range(150)))
    paths, sizes = files_of(tmp_path)
    monkeypatch.setattr(scanpool, "STALL_SECONDS", 5.0)
    report = scan_files(paths, sizes, workers=1)
    assert report.results == scan_files(paths, sizes, workers=0).results
    assert report.worker_files > 0


def test_warnings_filters_decide_the_same_whoever_scans(tmp_path: Path) -> None:
    """A parse that warns (an invalid escape) is a syntax error where warnings are errors,
    in this process; workers leave such files to it."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    for k in range(400):
        escape = "\\d" if k % 3 == 0 else "d"
        (pkg / f"m{k}.py").write_text(f"import pkg.m1\nPATTERN = '{escape}' + 'x' * {k}\n" * 40)
    paths, sizes = files_of(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        strict = scan_files(paths, sizes, workers=0).results
        assert scan_files(paths, sizes, workers=2).results == strict
    assert sum(error is not None for _, error in strict) == 134
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lenient = scan_files(paths, sizes, workers=0).results
        assert scan_files(paths, sizes, workers=2).results == lenient
    assert all(error is None for _, error in lenient)


def test_text_given_to_a_graph_is_scanned_like_its_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text("")
    user = tmp_path / "pkg" / "user.py"
    user.write_text("")
    graph = ModuleGraph([tmp_path], use_cache=False, workers=0)
    assert graph.edges() == []
    graph.update_file(user, "from pkg.a import f\nX = f()  # ü\n")
    assert [(e.from_, e.to, e.label) for e in graph.edges(refresh=False)] == [
        ("pkg.user", "pkg.a", "compile")
    ]
