"""Run every benchmark, print one Markdown table and write it to ``benchmarks/RESULTS.md``.

    python benchmarks/run_all.py            # everything (a few minutes on 2 cores)
    python benchmarks/run_all.py reload     # only some benchmark modules, by name

Each benchmark module exposes ``run() -> list[dict]``, one dict per row of the table
(:func:`row`). Measurements that would leak state into one another (a module reloaded by
autoreload, then by us) run in fresh subprocesses through :func:`run_case`; every number is
the median of repeated ``time.perf_counter`` measurements taken after warm-ups.

This file is also the small harness the benchmark modules share: rows, medians, subprocess
cases, the synthetic projects (generated once per N per run, by ``benchmarks/_synth.py``,
plus the few modules of known shape that single measurements edit: :func:`add_fixtures`).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import importlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "RESULTS.md"

# Ours first, then the colleagues' modules; a missing one gives a "missing" row.
MODULES = (
    "percell",
    "reload",
    "minimal",
    "first_reload",
    "scaling",
    "analysis",
    "long_session",
    "graph",
    "watch",
    "live",
    "imports",
    "feed",
    "cluster",
)

Row = dict[str, Any]


# -- rows -------------------------------------------------------------------------------------


def row(
    what: str,
    n: int | str | None,
    ours: float | None,
    theirs: float | None = None,
    *,
    compared_with: str = "",
    mark: str = "",
    met: bool | None = None,
    ratio: float | None = None,
    note: str = "",
) -> Row:
    """One table row; ``ratio`` defaults to ours / theirs; ``met`` None means "report only"."""
    if ratio is None and ours is not None and theirs:
        ratio = ours / theirs
    return {
        "what": what,
        "n": n,
        "ours_ms": ours,
        "theirs_ms": theirs,
        "compared_with": compared_with,
        "ratio": ratio,
        "mark": mark,
        "met": met,
        "note": note,
    }


def ratio_row(
    what: str,
    n: int | str | None,
    ours: float | None,
    theirs: float | None,
    compared_with: str,
    limit: float,
    *,
    strict: bool = False,
    note: str = "",
) -> Row:
    """A row whose mark is ``ours <= limit x theirs`` (``strict``: ``ours < theirs``)."""
    if ours is None or theirs is None:
        return row(
            what, n, ours, theirs, compared_with=compared_with, met=False, note="not measured"
        )
    ratio = ours / theirs
    mark = "faster" if strict else f"<= {limit:g}x"
    met = ratio < limit if strict else ratio <= limit
    return row(what, n, ours, theirs, compared_with=compared_with, mark=mark, met=met, note=note)


def error_row(what: str, exc: BaseException | str) -> Row:
    """A row saying a measurement could not be taken (never hidden)."""
    text = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    return row(what, None, None, mark="", met=False, note=f"ERROR {text}"[:300])


def normalise(r: dict[str, Any]) -> Row:
    """Accept the colleagues' row spellings (``ours``/``ours_ms``, ``N``/``n``...)."""
    out = row(
        str(r.get("what", "?")),
        r.get("n", r.get("N")),
        _num(r.get("ours_ms", r.get("ours"))),
        _num(r.get("theirs_ms", r.get("theirs"))),
        compared_with=str(r.get("compared_with", r.get("vs", "")) or ""),
        mark=str(r.get("mark", "") or ""),
        met=r.get("met"),
        ratio=_num(r.get("ratio")),
        note=str(r.get("note", "") or ""),
    )
    if isinstance(out["met"], str):
        out["met"] = {"yes": True, "no": False}.get(out["met"].strip().lower())
    return out


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


# -- timing -----------------------------------------------------------------------------------


def median(xs: Sequence[float]) -> float:
    """The median (the statistic every row reports)."""
    return float(statistics.median(xs))


def time_ms(
    fn: Callable[[int], object],
    *,
    repeat: int,
    warmup: int = 3,
    before: Callable[[int], object] | None = None,
    after: Callable[[int], object] | None = None,
) -> list[float]:
    """Times ``fn(i)`` in ms, ``repeat`` times after ``warmup`` untimed calls; ``before(i)``
    and ``after(i)`` (preparation and checks) run outside the timed region."""
    out: list[float] = []
    for i in range(warmup + repeat):
        if before is not None:
            before(i)
        t0 = time.perf_counter()
        fn(i)
        t1 = time.perf_counter()
        if after is not None:
            after(i)
        if i >= warmup:
            out.append((t1 - t0) * 1000.0)
    return out


def settle() -> None:
    """Untimed, between two timed edits: finish the ``.pyc`` our last reload writes behind
    (SPEC 1.1 step 5). A reload's time is until it returns; the write it leaves runs while
    the user reads the result, and must not be charged to the next edit of a benchmark
    that makes them back to back (nor slow it down by holding the reload lock)."""
    bytecode = sys.modules.get("ipython_hotreload.core.edit.bytecode")
    if bytecode is not None:
        bytecode.flush()


def interleaved(
    contenders: dict[str, Callable[[int], object]],
    *,
    repeat: int,
    warmup: int = 3,
    before: Callable[[str, int], object] | None = None,
    check: Callable[[str, int], object] | None = None,
) -> dict[str, list[float]]:
    """Times several contenders doing the same kind of edit in one process, in turns (the
    order rotating every round), so a change in the machine's load falls on all of them
    alike. Edit numbers are consecutive across contenders, so each write differs from the
    one before it; ``before(name, edit)`` and ``check(name, edit)`` run untimed around each."""
    names = list(contenders)
    out: dict[str, list[float]] = {name: [] for name in names}
    for i in range(warmup + repeat):
        shift = i % len(names)
        for k, name in enumerate(names[shift:] + names[:shift]):
            edit = len(names) * i + k
            if before is not None:
                before(name, edit)
            t0 = time.perf_counter()
            contenders[name](edit)
            t1 = time.perf_counter()
            settle()
            if check is not None:
                check(name, edit)
            if i >= warmup:
                out[name].append((t1 - t0) * 1000.0)
    return out


# -- subprocess cases -------------------------------------------------------------------------


def child_env() -> dict[str, str]:
    """The environment of a case subprocess: the repo importable, and a private graph cache
    so runs never touch the user's ``~/.cache``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("XDG_CACHE_HOME", str(_workdir() / "cache"))
    env["HR_BENCH_WORKDIR"] = str(_workdir())
    env["PYTHONHASHSEED"] = "0"
    return env


def run_case(module: str, case: str, args: dict[str, Any], *, timeout: float = 240.0) -> Any:
    """Run ``benchmarks/<module>.py --case <case>`` in a fresh interpreter and return the JSON
    it prints on its last stdout line; raises RuntimeError with the child's stderr on failure."""
    cmd = [sys.executable, "-m", f"benchmarks.{module}", "--case", case, "--args", json.dumps(args)]
    proc = subprocess.run(
        cmd, cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=timeout
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{") or ln.startswith("[")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-6:]
        raise RuntimeError(f"{module} {case} exited {proc.returncode}: " + " | ".join(tail))
    return json.loads(lines[-1])


def case_main(cases: dict[str, Callable[[dict[str, Any]], Any]]) -> None:
    """The ``__main__`` of a benchmark module: ``--case NAME --args JSON`` runs one case in
    this (fresh) process and prints its JSON result; no arguments runs ``run()``'s table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--case", choices=sorted(cases))
    parser.add_argument("--args", default="{}", help="the case's JSON arguments")
    parser.add_argument(
        "--n", type=int, help="generate a project of N modules for the case (by hand)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="run the case under cProfile; report on stderr"
    )
    ns = parser.parse_args()
    if ns.case:
        args = json.loads(ns.args)
        if ns.n:
            args = {"repeat": 20, "formatter": None, **project(ns.n), **args}
        try:
            if ns.profile:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                result = profiler.runcall(cases[ns.case], args)
                stats = pstats.Stats(profiler, stream=sys.stderr)
                stats.sort_stats("cumulative").print_stats(40)
                stats.sort_stats("tottime").print_stats(25)
            else:
                result = cases[ns.case](args)
        finally:
            cleanup()
        sys.stdout.write("\n" + json.dumps(result) + "\n")
        return
    main_module = sys.modules["__main__"]
    try:
        rows = [normalise(r) for r in main_module.run()]  # type: ignore[attr-defined]
    finally:
        cleanup()
    print(markdown(rows, machine()))


# -- synthetic projects -----------------------------------------------------------------------

_WORKDIR: Path | None = None
_PROJECTS: dict[int, tuple[Path, list[str]]] = {}

LEAF_FUNCTIONS = 20
HUB_DEPENDENTS = 50
BIG_LINES = 300


def _workdir() -> Path:
    global _WORKDIR
    if _WORKDIR is None:
        given = os.environ.get("HR_BENCH_WORKDIR")
        _WORKDIR = Path(given) if given else Path(tempfile.mkdtemp(prefix="hr-bench-"))
    return _WORKDIR


def cleanup() -> None:
    """Remove the generated projects (called once at the end of a run)."""
    global _WORKDIR
    if _WORKDIR is not None and "HR_BENCH_WORKDIR" not in os.environ:
        shutil.rmtree(_WORKDIR, ignore_errors=True)
        _WORKDIR = None
        _PROJECTS.clear()


def project(n: int) -> dict[str, Any]:
    """The synthetic project of ``n`` modules (made once per run) plus the fixtures, as the
    JSON arguments a case needs: ``{"root", "modules", "n"}``."""
    if n not in _PROJECTS:
        synth = importlib.import_module("benchmarks._synth")
        root = _workdir() / f"n{n}"
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        modules = list(synth.make_project(root, n, seed=0))
        modules += add_fixtures(root)
        _PROJECTS[n] = (root, modules)
    root, modules = _PROJECTS[n]
    return {"root": str(root), "modules": modules, "n": n}


def _pad(edit: int) -> str:
    """A comment whose length makes the file's size differ from the original's and from
    the edits 1, 2 and 3 before it: a timestamp ``.pyc`` (valid while the mtime second and
    the size match) written by the floor must never pass for the next edit's."""
    return "  # " + "x" * (edit % 5 + 1)


def leaf_source(edit: int | None = None) -> str:
    """``hrbench/leaf20.py``: 20 small documented functions, no project imports; ``edit``
    changes the body of ``f07`` (see :func:`_pad` for its size)."""
    parts = ['"""A leaf module of 20 functions."""\n\nfrom __future__ import annotations\n']
    for k in range(LEAF_FUNCTIONS):
        body, tail = f"x + {k}", ""
        if k == 7 and edit is not None:  # a new constant: the code keeps its shape
            body, tail = f"x + {edit}", _pad(edit)
        parts.append(
            f"\n\ndef f{k:02d}(x: int, y: int = {k}) -> int:\n"
            f'    """Function number {k}."""\n'
            f"    z = x * y\n"
            f"    return {body} if z >= 0 else z{tail}\n"
        )
    return "".join(parts)


def leaf_expected(edit: int | None, x: int = 3) -> int:
    """What ``f07(x)`` returns after ``leaf_source(edit)`` runs."""
    return x + (7 if edit is None else edit)


def big_source(edit: int | None = None) -> str:
    """``hrbench/big300.py``: a 300-line module (a class with methods, functions, constants,
    an import of a sibling); ``edit`` changes the body of ``Shape.method_05`` and pads the
    module back to exactly 300 lines."""
    out = [
        '"""A 300-line module."""',
        "",
        "from __future__ import annotations",
        "",
        "import math",
        "",
        "from hrbench.leaf20 import f01",
        "",
        "SCALE = 3",
        "",
        "",
        "class Shape:",
        '    """A shape with many methods."""',
        "",
        "    def __init__(self, size: float) -> None:",
        "        self.size = size",
    ]
    for k in range(12):
        body = f"self.size * {k}"
        if k == 5 and edit is not None:
            body = f"self.size * {edit}{_pad(edit)}"
        out += [
            "",
            f"    def method_{k:02d}(self, factor: float = 1.0) -> float:",
            f'        """Method {k}."""',
            "        value = math.sqrt(abs(self.size)) * factor",
            "        if value > 100:",
            "            value = 100.0",
            f"        return value + {body}",
        ]
    k = 0
    helper = [
        "",
        "",
        "def helper_{k:03d}(a: int, b: int = 2) -> int:",
        '    """Helper {k}."""',
        "    total = 0",
        "    for i in range(a):",
        "        total += i * b",
        "    return total + f01(SCALE)",
    ]
    while len(out) + len(helper) <= BIG_LINES - 3:
        out += [line.format(k=k) for line in helper]
        k += 1
    out += ["", ""]
    while len(out) < BIG_LINES - 1:
        out.append("# padding")
    out.append(f"LAST = {k}")
    return "\n".join(out) + "\n"


def big_expected(edit: int | None) -> float:
    """What ``Shape(4).method_05()`` returns after ``big_source(edit)`` runs."""
    return 2.0 + 4 * (5 if edit is None else edit)


def hub_source(edit: int | None = None) -> str:
    """``hrbench/hub50.py``: a constant and a function that 50 modules use at import time."""
    base = 1 if edit is None else edit
    pad = "" if edit is None else _pad(edit)
    return (
        '"""A module with 50 compile dependents."""\n\n'
        f"BASE = {base}{pad}\n\n\n"
        "def scale(x: int) -> int:\n"
        '    """Used by the dependents at import time."""\n'
        "    return x * BASE\n"
    )


def dependent_source(k: int) -> str:
    """``hrbench/dep_NN.py``: uses ``hub50`` at import time (a compile edge)."""
    return (
        f'"""Dependent {k} of hub50."""\n\n'
        "from hrbench.hub50 import BASE, scale\n\n"
        f"VALUE = BASE + {k}\n"
        f"SCALED = scale({k})\n\n\n"
        "def get() -> int:\n"
        '    """The value computed at import time."""\n'
        "    return VALUE\n"
    )


def add_fixtures(root: Path) -> list[str]:
    """Write the ``hrbench`` package into ``root``; returns its module names in import order."""
    pkg = root / "hrbench"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text('"""Benchmark fixtures."""\n')
    (pkg / "leaf20.py").write_text(leaf_source())
    (pkg / "big300.py").write_text(big_source())
    (pkg / "hub50.py").write_text(hub_source())
    names = ["hrbench", "hrbench.leaf20", "hrbench.big300", "hrbench.hub50"]
    for k in range(HUB_DEPENDENTS):
        (pkg / f"dep_{k:02d}.py").write_text(dependent_source(k))
        names.append(f"hrbench.dep_{k:02d}")
    return names


def load_project(args: dict[str, Any]) -> Path:
    """In a case subprocess: put the project on ``sys.path`` and import all its modules,
    writing ``.pyc`` files (the environment may forbid it) so later processes start fast."""
    sys.dont_write_bytecode = False
    root = Path(args["root"])
    sys.path.insert(0, str(root))
    for name in args["modules"]:
        importlib.import_module(name)
    return root


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Silence prints (IPython's, the magics') while measuring; results go on stdout after."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        yield


# -- the table --------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    """CPU model, cores, Python, date: printed above the table."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "date": _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "load": "/".join(f"{x:.1f}" for x in os.getloadavg()),
    }


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def markdown(rows: Sequence[Row], info: dict[str, str], *, elapsed_s: float | None = None) -> str:
    """The table, as Markdown, under a line describing the machine."""
    head = (
        f"Machine: {info['cpu']}, {info['cores']} cores, Python {info['python']} "
        f"({info['platform']}), {info['date']}."
    )
    if elapsed_s is not None:
        head += f" Whole run: {elapsed_s:.0f} s."
    if "load_start" in info:
        # Other work on the machine moves every number: say how busy it was.
        head += f" Load average (1/5/15 min) at start {info['load_start']}, at end {info['load']}."
    lines = [
        head,
        "",
        "| what | N | ours (median ms) | compared with | theirs (median ms) | ratio | mark | met | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        met = {True: "yes", False: "**no**", None: "-"}[r["met"]]
        cells = [
            r["what"],
            "-" if r["n"] is None else str(r["n"]),
            _fmt(r["ours_ms"]),
            r["compared_with"] or "-",
            _fmt(r["theirs_ms"]),
            ratio,
            r["mark"] or "-",
            met,
            r["note"] or "",
        ]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def collect(names: Sequence[str]) -> list[Row]:
    """Run the named benchmark modules, tolerating missing or failing ones (a row says so)."""
    rows: list[Row] = []
    for name in names:
        t0 = time.perf_counter()
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except ModuleNotFoundError as exc:
            if exc.name not in (f"benchmarks.{name}", "benchmarks"):
                raise
            rows.append(row(f"benchmarks/{name}.py", None, None, note="missing: not written yet"))
            continue
        try:
            got = [normalise(r) for r in module.run()]
        except Exception as exc:
            traceback.print_exc()
            got = [error_row(f"benchmarks/{name}.py", exc)]
        rows.extend(got)
        print(f"[{name}: {len(got)} rows in {time.perf_counter() - t0:.1f} s]", file=sys.stderr)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks, print the table, write RESULTS.md (only for a full run)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help=f"benchmark modules to run (default: {MODULES})")
    parser.add_argument("--no-write", action="store_true", help="do not write RESULTS.md")
    ns = parser.parse_args(argv)
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    started = time.perf_counter()
    load_start = machine()["load"]
    try:
        rows = collect(ns.only or MODULES)
    finally:
        cleanup()
    info = {**machine(), "load_start": load_start}
    table = markdown(rows, info, elapsed_s=time.perf_counter() - started)
    print(table)
    if not ns.only and not ns.no_write:
        write_results(table)
    return 0


def write_results(table: str, *, block: str = "table", heading: str = "") -> None:
    """Replace a generated block of RESULTS.md (the main table, or another benchmark's
    section), keeping the hand-written analysis around it. A block not there yet is added:
    the main table at the top, any other at the end under ``heading``."""
    begin, end = f"<!-- {block}:begin -->", f"<!-- {block}:end -->"
    old = RESULTS.read_text() if RESULTS.exists() else ""
    text = f"{begin}\n{table}\n{end}"
    if begin in old and end in old:
        new = old[: old.index(begin)] + text + old[old.index(end) + len(end) :]
    elif block != "table":
        new = f"{old.rstrip()}\n\n{heading}\n\n{text}\n"
    else:
        new = (
            f"# Benchmark results\n\nGenerated by `python benchmarks/run_all.py`.\n\n{text}\n{old}"
        )
    RESULTS.write_text(new)


if __name__ == "__main__":
    # Run the importable copy, so the benchmark modules (which import ``benchmarks.run_all``)
    # share its state (the generated projects) instead of a second copy's.
    sys.path.insert(0, str(REPO))
    from benchmarks import run_all as _harness

    sys.exit(_harness.main())
