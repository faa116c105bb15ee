"""The first ``%%hotreload`` of a kernel against the tenth, and what ``%load_ext`` costs.

In a fresh interpreter per turn, a real ``InteractiveShell`` imports the whole synthetic
project (N = 1,000 modules) and runs a cell (as the one that imports a user's project),
then ``%load_ext ipython_hotreload`` (timed), then ten
``%%hotreload`` cells, each a new body of one function of ``hrbench/leaf20.py`` (the default
formatter, ruff). The load warms the reloader up in a background thread (the graph, astroid,
ruff); the mark is on a kernel whose first cell comes once that is done, as a person's does
(the warm-up takes about as long as reading the load's output). The same with the first cell
sent at once is reported beside it: it waits for whatever the warm-up has not finished.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import run_all as h

N = 1000
TURNS = 5
RELOADS = 10
MARK = 1.5


def case_kernel(args: dict[str, Any]) -> dict[str, Any]:
    """Load the extension, optionally wait for the warm-up, then time ten reload cells."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    import ipython_hotreload as hr
    from ipython_hotreload.ipython import extension

    root = h.load_project(args)
    os.chdir(root)  # the default reloader takes the working directory as its root
    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config)
    # A user's kernel has run a cell before (the one importing the project): IPython compiles
    # its tokenizer's patterns on the first cell it transforms, ~9 ms that are not ours.
    shell.run_cell("pass", store_history=False)
    t0 = time.perf_counter()
    with h.quiet_stdout():
        shell.run_line_magic("load_ext", "ipython_hotreload")
    load_ms = (time.perf_counter() - t0) * 1000
    loaded = extension.loaded(shell)
    assert loaded is not None
    warm_ms = prefetch_ms = None
    if args["wait"]:
        loaded.warmed_up.wait(120)
        warm_ms = (time.perf_counter() - t0) * 1000
        hr.default_reloader().wait_for_prefetch(300)
        prefetch_ms = (time.perf_counter() - t0) * 1000
    reloads = []
    for edit in range(1, RELOADS + 1):
        cell = f"%%hotreload hrbench/leaf20.py --quiet\n{h.leaf_source(edit)}"
        t1 = time.perf_counter()
        with h.quiet_stdout():
            result = shell.run_cell(cell, store_history=False)
        reloads.append((time.perf_counter() - t1) * 1000)
        if not result.success:
            raise RuntimeError(f"reload {edit} failed: {result.error_in_exec!r}")
    leaf = sys.modules["hrbench.leaf20"]
    if leaf.f07(3) != h.leaf_expected(RELOADS):
        raise RuntimeError("the last reload's code is not running")
    return {"load_ms": load_ms, "warm_ms": warm_ms, "prefetch_ms": prefetch_ms, "reloads": reloads}


CASES = {"kernel": case_kernel}


def run() -> list[h.Row]:
    """The first/tenth rows (after the warm-up: marked; at once: reported) and the load."""
    proj = h.project(N)
    rows: list[h.Row] = []
    turns: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
    for _ in range(TURNS):
        for wait in (True, False):  # interleaved: drift in the machine falls on both
            try:
                turns[wait].append(h.run_case("first_reload", "kernel", {**proj, "wait": wait}))
            except Exception as exc:
                rows.append(h.error_row(f"first reload (wait={wait}, N={N})", exc))
    for wait, label in ((True, "after the warm-up"), (False, "sent right after %load_ext")):
        got = turns[wait]
        if not got:
            continue
        first = h.median([t["reloads"][0] for t in got])
        tenth = h.median([t["reloads"][-1] for t in got])
        note = f"median of {len(got)} fresh shells; reloads 2-10 median " + (
            f"{h.median([x for t in got for x in t['reloads'][1:]]):.1f} ms"
        )
        if wait:
            warm = h.median([t["warm_ms"] for t in got])
            prefetch = h.median([t["prefetch_ms"] for t in got])
            note += (
                f"; the warm-up finished {warm:.0f} ms after %load_ext began, the analysis "
                f"prefetch (a child process) {prefetch:.0f} ms"
            )
        rows.append(
            h.row(
                f"first %%hotreload after %load_ext ({label})",
                N,
                first,
                tenth,
                compared_with="the tenth reload",
                mark=f"<= {MARK}x" if wait else "",
                met=first / tenth <= MARK if wait else None,
                note=note,
            )
        )
    loads = [t["load_ms"] for got in turns.values() for t in got]
    if loads:
        rows.append(
            h.row(
                "%load_ext ipython_hotreload",
                N,
                h.median(loads),
                note=f"median of {len(loads)} fresh shells with the project imported; "
                "the warm-up runs after it returns, in a thread",
            )
        )
    return rows


if __name__ == "__main__":
    h.case_main(CASES)
