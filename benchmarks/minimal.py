"""Minimal re-execution (SPEC 1.5): an edit costs what changed, not what the module runs.

Four edits, in interpreters that have imported the synthetic project of N = 1,000 modules
plus the package ``hrmin`` below (written into the same root):

- ``leaf``: the body of one function of a 20-function module (``hrbench.leaf20``'s text);
- ``slow``: the same edit in a module whose top level takes 0.5 s (``DATA = slow()``, a
  ``time.sleep`` standing for loading data);
- ``ref``: the body of ``f`` in a hub with 50 compile dependents that only reference it
  (``H = hub.f``, ``class X(hub.Base)``);
- ``scale``: ``SCALE = 2`` -> another value in a hub whose 50 compile dependents read it
  at import time (``DOUBLE = hub.SCALE * 2``), beside ``H = hub.f`` and ``class X(hub.Base)``.

Each edit exists in identical copies (``*_floor``, ``*_min``, ``*_mod``, with their own
dependents), so the contenders taking turns in one process never run one another's code.
The ``floor`` copies (package ``hrminf``) live under a root of their own that the reloader
does not watch: a module that ``importlib.reload`` (or ``%autoreload``) re-imported behind
the reloader's back would otherwise be swept up by its stale-file check on each reload.

- ``floor``: write the file, then ``importlib.reload`` of it (and of its 50 dependents, in
  order, for the hubs), which compiles and writes the ``.pyc``;
- ``minimal``: ``HotReloader.reload`` (formatter None, payload with ``functions``), the
  default ``reexecute="minimal"``; ``module``: the same call with ``reexecute="module"``;
- ``autoreload`` (its own interpreter, in turns with ours): write, then the
  ``run_cell("pass")`` on which ``%autoreload 2`` (deduperreload first, when IPython has it)
  notices and reloads the edit. Its reload work alone is the write plus the calls its check
  makes for the changed module (``DeduperReloader.maybe_reload_module``, then
  ``superreload`` if that declines), timed around them: the per-cell stat of every loaded
  module is left out;
- ``jurigged`` (its own interpreter): write, then ``CodeFile.refresh()``.

Every iteration checks, outside the timed region, that the new code runs (in the
dependents too), and records the payload's ``mode`` per module, so a reload that is not
minimal shows in the table.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import run_all as h

N = 1000
REPEAT = 40
SLOW_REPEAT = 9  # the 0.5 s floor: 4.5 s of sleeping per contender that re-executes it
SLOW_SECONDS = 0.5
DEPENDENTS = 50
PACKAGE = "hrmin"
FLOOR_PACKAGE = "hrminf"  # the floor copies, under a root the reloader does not cover
COPIES = ("floor", "min", "mod")
KINDS = ("leaf", "slow", "ref", "scale")
SCALE_FROM = 2

# -- the fixtures -----------------------------------------------------------------------------


def slow_source(edit: int | None = None) -> str:
    """The leaf module's text plus a top level that takes ``SLOW_SECONDS``."""
    return h.leaf_source(edit) + (
        "\n\nimport time as _time\n\n\n"
        "def slow() -> list[int]:\n"
        '    """Stands for loading a data set."""\n'
        f"    _time.sleep({SLOW_SECONDS})\n"
        "    return list(range(1000))\n\n\n"
        "DATA = slow()\n"
    )


def ref_hub_source(edit: int | None = None) -> str:
    """A hub whose dependents bind ``f`` and subclass ``Base``; ``edit`` changes ``f``'s body."""
    factor = 1 if edit is None else edit
    pad = "" if edit is None else h._pad(edit)
    return (
        '"""A hub that 50 modules reference at import time."""\n\n\n'
        "def f(x: int) -> int:\n"
        '    """Bound by every dependent."""\n'
        f"    return x * {factor}{pad}\n\n\n"
        "class Base:\n"
        '    """Subclassed by every dependent."""\n\n'
        "    def value(self) -> int:\n"
        "        return f(1)\n"
    )


def scale_hub_source(edit: int | None = None) -> str:
    """A hub whose ``SCALE`` its dependents read at import time; ``edit`` sets ``SCALE``."""
    scale = SCALE_FROM if edit is None else scale_of(edit)
    pad = "" if edit is None else h._pad(edit)
    return (
        '"""A hub whose constant 50 modules read at import time."""\n\n'
        f"SCALE = {scale}{pad}\n"
        "TABLE = [SCALE * i for i in range(8)]\n\n\n"
        "def f(x: int) -> int:\n"
        '    """Bound by every dependent."""\n'
        "    return x * SCALE\n\n\n"
        "class Base:\n"
        '    """Subclassed by every dependent."""\n\n'
        "    def value(self) -> int:\n"
        "        return f(1)\n"
    )


def scale_of(edit: int) -> int:
    """The ``SCALE`` of edit ``edit`` (never the original 2)."""
    return SCALE_FROM + 1 + edit


def dependent_source(package: str, hub: str, k: int, *, reads_scale: bool) -> str:
    """A compile dependent of ``hub``: it binds ``hub.f`` and subclasses ``hub.Base``; with
    ``reads_scale`` it also computes ``DOUBLE`` from ``hub.SCALE`` at import time."""
    double = "DOUBLE = hub.SCALE * 2\n" if reads_scale else ""
    return (
        f'"""Dependent {k} of {hub}."""\n\n'
        f"from {package} import {hub} as hub\n\n"
        "H = hub.f\n"
        f"{double}\n\n"
        "class X(hub.Base):\n"
        f'    """Dependent {k}\'s subclass."""\n\n'
        "    def total(self) -> int:\n"
        f"        return self.value() + {k}\n\n\n"
        "def call(x: int) -> int:\n"
        f"    return H(x) + {k}\n"
    )


def _hub_name(kind: str, copy: str) -> str:
    return f"{kind}hub_{copy}"


def _package(copy: str) -> str:
    return FLOOR_PACKAGE if copy == "floor" else PACKAGE


def _dep_names(kind: str, copy: str) -> list[str]:
    return [f"{_package(copy)}.{kind}dep_{copy}_{k:02d}" for k in range(DEPENDENTS)]


def add_fixtures(root: Path, floor_root: Path) -> list[str]:
    """Write package ``hrmin`` into ``root`` and ``hrminf`` (the floor copies) into
    ``floor_root``; returns their module names in import order."""
    names = []
    for package, where in ((PACKAGE, root), (FLOOR_PACKAGE, floor_root)):
        (where / package).mkdir(parents=True, exist_ok=True)
        (where / package / "__init__.py").write_text('"""Minimal re-execution fixtures."""\n')
        names.append(package)
    for copy in COPIES:
        package = _package(copy)
        pkg = (floor_root if copy == "floor" else root) / package
        for kind, text in (("leaf", h.leaf_source()), ("slow", slow_source())):
            if kind == "slow" and copy == "mod":
                continue  # no module-mode row for it: 0.5 s a reload for nothing to learn
            (pkg / f"{kind}_{copy}.py").write_text(text)
            names.append(f"{package}.{kind}_{copy}")
        for kind, text in (("ref", ref_hub_source()), ("scale", scale_hub_source())):
            if kind == "scale" and copy == "mod":
                continue
            hub = _hub_name(kind, copy)
            (pkg / f"{hub}.py").write_text(text)
            names.append(f"{package}.{hub}")
            for k, dep in enumerate(_dep_names(kind, copy)):
                source = dependent_source(package, hub, k, reads_scale=kind == "scale")
                (pkg / f"{dep.rpartition('.')[2]}.py").write_text(source)
                names.append(dep)
    # The ref hub once more, with no dependents: what the 50 add to ours.
    (root / PACKAGE / f"{_hub_name('ref', 'alone')}.py").write_text(ref_hub_source())
    names.append(f"{PACKAGE}.{_hub_name('ref', 'alone')}")
    return names


def project() -> dict[str, Any]:
    """The N = 1,000 project (shared with the other benchmarks) plus ``hrmin``, and the
    floor copies' root."""
    args = h.project(N)
    root = Path(args["root"])
    floor_root = h._workdir() / f"minimal_floor_{N}"
    names_file = root / PACKAGE / "names.txt"
    if names_file.exists():
        names = names_file.read_text().split()
    else:
        names = add_fixtures(root, floor_root)
        names_file.write_text("\n".join(names))
    return {**args, "floor_root": str(floor_root), "modules": [*args["modules"], *names]}


def load(args: dict[str, Any]) -> Path:
    """In a case subprocess: both roots on ``sys.path``, every module imported (a case
    run by hand with ``--n`` writes the fixtures here)."""
    if "floor_root" not in args:
        floor_root = Path(args["root"]).parent / f"minimal_floor_{args['n']}"
        names = add_fixtures(Path(args["root"]), floor_root)
        args.update(floor_root=str(floor_root), modules=[*args["modules"], *names])
    args.setdefault("slow_repeat", SLOW_REPEAT)
    sys.path.insert(0, args["floor_root"])
    root = h.load_project(args)
    # Flush the files just written (the project, its .pyc files): until they are written
    # back, creating a file is slow (RESULTS.md, "Figures behind the code"), and ours creates
    # two per reload (the source's and the .pyc's temporary files) where the floor creates one.
    if hasattr(os, "sync"):
        os.sync()
    return root


# -- one edit, in one copy ----------------------------------------------------------------------


class Edit:
    """One kind of edit applied to one copy: its files, its new text, its check."""

    def __init__(self, args: dict[str, Any], kind: str, copy: str) -> None:
        self.kind, self.copy = kind, copy
        package = _package(copy)
        pkg = Path(args["floor_root"] if copy == "floor" else args["root"]) / package
        if kind in ("leaf", "slow"):
            self.name = f"{package}.{kind}_{copy}"
            self.deps: list[str] = []
        else:
            self.name = f"{package}.{_hub_name(kind, copy)}"
            self.deps = [] if copy == "alone" else _dep_names(kind, copy)
        self.path = pkg / f"{self.name.rpartition('.')[2]}.py"
        self.source: Callable[[int], str] = {
            "leaf": h.leaf_source,
            "slow": slow_source,
            "ref": ref_hub_source,
            "scale": scale_hub_source,
        }[kind]
        self.module: ModuleType = sys.modules[self.name]
        self.modules = [self.module, *(sys.modules[d] for d in self.deps)]
        self.data_id = id(getattr(self.module, "DATA", None))

    def write(self, edit: int) -> None:
        self.path.write_text(self.source(edit))

    def drop_pyc(self) -> None:
        """Remove the edited module's ``.pyc`` (untimed, before an ``importlib.reload``): one
        written for an earlier edit of the same size in the same second would pass for this
        edit's. The reload then compiles and writes it as it would after a stale check."""
        Path(importlib.util.cache_from_source(str(self.path))).unlink(missing_ok=True)

    def stale(self, edit: int) -> list[str]:
        """What does not show edit ``edit`` yet, beyond the edited statement itself: the
        hub's ``TABLE`` (computed from ``SCALE``), dependents (empty when all is current)."""
        out: list[str] = []
        if self.kind == "scale" and self.module.TABLE[1] != scale_of(edit):
            out.append("TABLE")
        if self.kind == "ref":
            bad = sum(sys.modules[d].call(3) != 3 * edit + k for k, d in enumerate(self.deps))
        elif self.kind == "scale":
            want = 2 * scale_of(edit)
            bad = sum(want != sys.modules[d].DOUBLE for d in self.deps)
        else:
            bad = 0
        if bad:
            out.append(f"{bad} of {len(self.deps)} dependents")
        return out

    def ok(self, edit: int, *, everything: bool = True) -> bool:
        """Whether the edited statement shows edit ``edit`` (and, with ``everything``, all
        that follows from it: :meth:`stale` is empty)."""
        m = self.module
        if self.kind in ("leaf", "slow"):
            good = m.f07(3) == h.leaf_expected(edit)
        elif self.kind == "ref":
            good = m.f(3) == 3 * edit
        else:
            s = scale_of(edit)
            good = s == m.SCALE and 3 * s == m.f(3)
        return bool(good and (not everything or not self.stale(edit)))

    def floor(self, edit: int) -> None:
        """Write, then ``importlib.reload`` of the module and its dependents, in order."""
        self.write(edit)
        for module in self.modules:
            importlib.reload(module)


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise AssertionError(f"the edit did not take effect: {what}")


def _modes(result: dict[str, Any]) -> str:
    """The payloads' modes, as ``mode x count`` (the saved module's first), with rerun lines."""
    recompiled = result["recompiled"]
    first = recompiled[0]
    rerun = ",".join(f"{r['lineno']}" for r in first.get("rerun") or [])
    text = f"{first.get('mode')}" + (f" (lines {rerun})" if rerun else "")
    if first.get("full_reason"):
        text += f" [{first['full_reason']}]"
    others: dict[str, int] = {}
    for p in recompiled[1:]:
        key = str(p.get("mode"))
        lines = ",".join(f"{r['lineno']}" for r in p.get("rerun") or [])
        if lines:
            key += f" (lines {lines})"
        if p.get("full_reason"):
            key += f" [{p['full_reason']}]"
        others[key] = others.get(key, 0) + 1
    if others:
        text += "; dependents: " + ", ".join(f"{k} x{v}" for k, v in others.items())
    return text


def _tally(seen: dict[str, int], text: str) -> None:
    seen[text] = seen.get(text, 0) + 1


def _required(edit: Edit) -> Callable[[int], None]:
    """What SPEC 1.1 makes every reload do beside the update itself, and nothing else: write
    the text atomically (steps 1-2), compile the whole module (3) and save its ``.pyc`` (5),
    with the engine's own functions, on a scratch file beside the floor's copy."""
    from ipython_hotreload.core.edit.bytecode import write_pyc
    from ipython_hotreload.core.paths import atomic_write

    scratch = edit.path.with_name(f"{edit.path.stem}_required.py")

    def apply(e: int) -> None:
        data = edit.source(e).encode()
        atomic_write(scratch, data)
        write_pyc(scratch, data, compile(data, str(scratch), "exec", dont_inherit=True))

    return apply


def _repeat(kind: str, args: dict[str, Any]) -> tuple[int, int]:
    return (args["slow_repeat"], 1) if kind == "slow" else (args["repeat"], 3)


# -- cases ------------------------------------------------------------------------------------


def case_ours(args: dict[str, Any]) -> dict[str, Any]:
    """Per kind: the floor, ours (minimal) and, for ``leaf`` and ``ref``, ours with
    ``reexecute="module"``, in turns in one process, each on its own copy."""
    from ipython_hotreload.core.engine import HotReloader

    root = load(args)
    reloader = HotReloader(roots=[root], formatter=None)
    reloader.reload(root / "hrbench" / "leaf20.py", h.leaf_source(0))  # graph, astroid warm
    out: dict[str, Any] = {"loaded": len(reloader.loaded.project_modules())}
    for kind in args.get("kinds", KINDS):
        out[kind] = _ours_kind(reloader, args, kind)
    return out


def _ours_kind(reloader: Any, args: dict[str, Any], kind: str) -> dict[str, Any]:
    edits = {"floor": Edit(args, kind, "floor"), "minimal": Edit(args, kind, "min")}
    if kind in ("leaf", "ref"):
        edits["module"] = Edit(args, kind, "mod")
    if kind == "ref":
        edits["alone"] = Edit(args, kind, "alone")
    repeat, warmup = _repeat(kind, args)
    modes: dict[str, dict[str, int]] = {name: {} for name in edits if name != "floor"}
    results: list[dict[str, Any]] = []

    def ours(name: str) -> Callable[[int], None]:
        edit = edits[name]
        mode = "module" if name == "module" else "minimal"

        def apply(e: int) -> None:
            results.append(reloader.reload(edit.path, edit.source(e), reexecute=mode))

        return apply

    contenders: dict[str, Callable[[int], object]] = {"floor": edits["floor"].floor}
    contenders.update({name: ours(name) for name in edits if name != "floor"})
    if kind in ("leaf", "ref"):
        contenders["required"] = _required(edits["floor"])

    def before(name: str, e: int) -> None:
        if name == "floor":
            edits[name].drop_pyc()

    def check(name: str, e: int) -> None:
        if name == "required":
            return
        edit = edits[name]
        _check(edit.ok(e), f"{kind} {name}")
        if name == "floor":
            return
        result = results.pop()
        _check(bool(result["recompiled"][0]["functions"]), f"{kind} {name} payload")
        if e < len(edits) * warmup:  # a warm-up
            edit.data_id = id(getattr(edit.module, "DATA", None))
            return
        _tally(modes[name], _modes(result))
        if kind == "slow" and id(edit.module.DATA) != edit.data_id:
            _tally(modes[name], "DATA re-created")

    got = h.interleaved(contenders, repeat=repeat, warmup=warmup, before=before, check=check)
    return {**got, "modes": modes}


def case_autoreload(args: dict[str, Any]) -> dict[str, Any]:
    """``%autoreload 2`` (on the ``floor`` copies) and ours (on the ``min`` copies), in
    turns in one shell; autoreload's reload work timed apart from its per-cell check."""
    from ipython_hotreload.core.engine import HotReloader

    root = load(args)
    import IPython

    shell = _shell()
    with h.quiet_stdout():
        bare = h.time_ms(lambda i: shell.run_cell("pass"), repeat=100, warmup=10)
        shell.run_line_magic("load_ext", "autoreload")
        shell.run_line_magic("autoreload", "2")
        shell.run_cell("pass")
        idle = h.time_ms(lambda i: shell.run_cell("pass"), repeat=30, warmup=3)
    autoreloader = dict.get(shell.magics_manager.registry, "AutoreloadMagics")._reloader
    deduper = getattr(autoreloader, "deduper_reloader", None)
    timer = _AutoreloadTimer(deduper)
    reloader = HotReloader(roots=[root], formatter=None)
    reloader.reload(root / "hrbench" / "leaf20.py", h.leaf_source(0))
    out: dict[str, Any] = {
        "bare_cell": bare,
        "idle_cell": idle,
        "ipython": IPython.__version__,
        "deduper": deduper is not None and bool(getattr(deduper, "enabled", False)),
    }
    for kind in args.get("kinds", KINDS):
        out[kind] = _autoreload_kind(shell, autoreloader, timer, reloader, args, kind)
    return out


class _AutoreloadTimer:
    """Times the calls ``%autoreload``'s check makes for a changed module: deduperreload's
    ``maybe_reload_module`` and the ``superreload`` it falls back to."""

    def __init__(self, deduper: Any) -> None:
        from IPython.extensions import autoreload as ar

        self.work: list[float] = []  # seconds spent in them since the last clear()
        self.used: dict[str, int] = {}
        original_super = ar.superreload

        def timed_super(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original_super(*a, **k)
            finally:
                self.work.append(time.perf_counter() - t0)
                _tally(self.used, "superreload")

        ar.superreload = timed_super
        if deduper is not None:
            original_dedupe = deduper.maybe_reload_module

            def timed_dedupe(module: ModuleType) -> bool:
                t0 = time.perf_counter()
                try:
                    done = bool(original_dedupe(module))
                finally:
                    self.work.append(time.perf_counter() - t0)
                _tally(self.used, "deduperreload" if done else "deduperreload declined")
                return done

            deduper.maybe_reload_module = timed_dedupe


def _autoreload_kind(
    shell: Any,
    autoreloader: Any,
    timer: _AutoreloadTimer,
    reloader: Any,
    args: dict[str, Any],
    kind: str,
) -> dict[str, Any]:
    theirs, mine = Edit(args, kind, "floor"), Edit(args, kind, "min")
    deduper = getattr(autoreloader, "deduper_reloader", None)
    last = {e.name: e.path.stat().st_mtime_ns for e in (theirs, mine)}
    repeat, warmup = _repeat(kind, args)
    cell_work: list[float] = []
    stale: list[str] = []
    timer.used.clear()

    def newer(edit: Edit) -> float:
        """Make the file's mtime later than any before (a coarse clock can repeat one), so
        autoreload, which compares mtimes, sees every edit."""
        st = edit.path.stat()
        if st.st_mtime_ns <= last[edit.name]:
            bumped = last[edit.name] + 1_000_000
            os.utime(edit.path, ns=(bumped, bumped))
            st = edit.path.stat()
        last[edit.name] = st.st_mtime_ns
        return st.st_mtime

    def auto(e: int) -> None:
        t0 = time.perf_counter()
        theirs.write(e)
        timer.work.append(time.perf_counter() - t0)  # the write counts, as in ours
        newer(theirs)
        shell.run_cell("pass")

    def ours(e: int) -> None:
        reloader.reload(mine.path, mine.source(e))

    def before(who: str, e: int) -> None:
        timer.work.clear()
        if who == "autoreload":
            theirs.drop_pyc()  # for its superreload fallback (importlib.reload)

    def check(who: str, e: int) -> None:
        if who == "ours":
            _check(mine.ok(e), f"{kind} ours")
            # Tell autoreload it has seen our write, as the extension's bridge does.
            autoreloader.modules_mtimes[mine.name] = newer(mine)
            sources = getattr(deduper, "source_by_modname", None)
            if isinstance(sources, dict):
                sources[mine.name] = mine.path.read_text()
            return
        _check(theirs.ok(e, everything=False), f"{kind} autoreload")
        cell_work.append(sum(timer.work) * 1000.0)
        stale.extend(theirs.stale(e))

    with h.quiet_stdout():
        got = h.interleaved(
            {"autoreload": auto, "ours": ours},
            repeat=repeat,
            warmup=warmup,
            before=before,
            check=check,
        )
    return {
        "cell": got["autoreload"],
        "ours": got["ours"],
        "work": cell_work[warmup:],
        "stale": sorted(set(stale)),
        "used": dict(timer.used),
    }


def case_jurigged(args: dict[str, Any]) -> dict[str, Any]:
    """jurigged: each edited file registered, then write + ``CodeFile.refresh()``."""
    load(args)
    from jurigged.register import registry

    out: dict[str, Any] = {}
    for kind in args.get("kinds", KINDS):
        out[kind] = _jurigged_kind(registry, args, kind)
    return out


def _jurigged_kind(registry: Any, args: dict[str, Any], kind: str) -> dict[str, Any]:
    edit = Edit(args, kind, "min")
    filename = edit.module.__file__
    registry.prepare(edit.name, filename)
    codefile = registry.get(filename)
    assert codefile is not None
    stale: list[str] = []

    def apply(e: int) -> None:
        edit.write(e)
        codefile.refresh()

    def after(e: int) -> None:
        _check(edit.ok(e, everything=False), f"{kind} jurigged")
        stale.extend(edit.stale(e))

    repeat, warmup = _repeat(kind, args)
    times = h.time_ms(apply, repeat=repeat, warmup=warmup, after=after)
    data_kept = kind != "slow" or id(edit.module.DATA) == edit.data_id
    return {"times": times, "stale": sorted(set(stale)), "data_kept": data_kept}


def _shell() -> Any:
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    config.HistoryManager.enabled = False
    return InteractiveShell.instance(config=config)


CASES = {"ours": case_ours, "autoreload": case_autoreload, "jurigged": case_jurigged}

# -- the rows ---------------------------------------------------------------------------------

_WHAT = {
    "leaf": "minimal: edit 1 function body of a 20-function module",
    "slow": f"minimal: the same edit, module whose top level takes {SLOW_SECONDS:g} s",
    "ref": f"minimal: edit f's body in a hub whose {DEPENDENTS} compile dependents only "
    "reference it",
    "scale": f"minimal: SCALE = 2 -> n in a hub whose {DEPENDENTS} compile dependents read it "
    "at import time",
}
_FLOOR = {
    "leaf": "write + importlib.reload (.pyc)",
    "slow": "write + importlib.reload (.pyc)",
    "ref": f"write + importlib.reload x{DEPENDENTS + 1} in order (.pyc)",
    "scale": f"write + importlib.reload x{DEPENDENTS + 1} in order (.pyc)",
}
# Against the floor; the hub whose dependents only reference it is judged against the same
# edit of the same hub with no dependents (``ref_alone``: a dependent that reads nothing that
# changed costs next to nothing), its floor ratio reported.
_MARK: dict[str, float | None] = {"leaf": 1.0, "slow": 0.02, "ref": None, "scale": 1.0}
REF_ALONE_MARK = 1.1


def run() -> list[h.Row]:
    """The minimal-re-execution rows: the four edits against their floors and the peers."""
    args = {**project(), "repeat": REPEAT, "slow_repeat": SLOW_REPEAT}
    got: dict[str, Any] = {}
    errors: list[h.Row] = []
    for case in CASES:
        try:
            got[case] = h.run_case("minimal", case, args)
        except Exception as exc:
            errors.append(h.error_row(f"minimal case {case}", exc))
    ours_case, auto, jur = got.get("ours", {}), got.get("autoreload", {}), got.get("jurigged", {})
    loaded = ours_case.get("loaded")

    def med(values: Any) -> float | None:
        return h.median(values) if isinstance(values, list) and values else None

    def modes(kind: str, name: str) -> str:
        seen = ours_case.get(kind, {}).get("modes", {}).get(name, {})
        return "; ".join(f"{k} ({v}/{sum(seen.values())})" for k, v in seen.items())

    def per_round(kind: str, name: str) -> str:
        ours, floor = ours_case.get(kind, {}).get(name), ours_case.get(kind, {}).get("floor")
        if not ours or not floor:
            return ""
        ratio = h.median([o / f for o, f in zip(ours, floor, strict=True)])
        return f"per-round ratio {ratio:.3f}x"

    if auto.get("ipython"):
        dedupe = "deduperreload on" if auto.get("deduper") else "deduperreload not available"
        auto_name = f"%autoreload 2 (IPython {auto['ipython']}, {dedupe}): reload work"
    else:
        auto_name = "%autoreload 2: reload work"
    rows: list[h.Row] = []
    for kind in KINDS:
        what = _WHAT[kind]
        o = med(ours_case.get(kind, {}).get("minimal"))
        f = med(ours_case.get(kind, {}).get("floor"))
        limit = _MARK[kind]
        note = f"{loaded} project modules loaded; mode: {modes(kind, 'minimal')}; "
        note += per_round(kind, "minimal")
        if limit is not None:
            rows.append(_ratio_row(what, o, f, _FLOOR[kind], limit, note=note))
        else:
            rows.append(h.row(what, N, o, f, compared_with=_FLOOR[kind], mark="report", note=note))
        if kind == "ref":
            alone = med(ours_case.get(kind, {}).get("alone"))
            per_dep = None if o is None or alone is None else (o - alone) / DEPENDENTS
            rows.append(
                _ratio_row(
                    f"minimal: the same edit with its {DEPENDENTS} dependents loaded vs none",
                    o,
                    alone,
                    "ours, the same hub with no dependents",
                    REF_ALONE_MARK,
                    note=f"mode alone: {modes(kind, 'alone')}"
                    + ("" if per_dep is None else f"; {per_dep:.3f} ms per dependent"),
                )
            )
        if kind in ("leaf", "ref"):
            req = med(ours_case.get(kind, {}).get("required"))
            budget = "" if f is None or limit is None else f"the mark leaves {limit * f:.2f} ms; "
            rows.append(
                h.row(
                    "the same edit's atomic write, whole compile and .pyc alone (SPEC 1.1)",
                    N,
                    req,
                    f,
                    compared_with=_FLOOR[kind],
                    mark="report",
                    note=budget + "the engine's own functions, on a scratch copy",
                )
            )
            m = med(ours_case.get(kind, {}).get("module"))
            rows.append(
                h.row(
                    what.replace("minimal:", 'reexecute="module":'),
                    N,
                    m,
                    f,
                    compared_with=_FLOOR[kind],
                    mark="report",
                    note=f"mode: {modes(kind, 'module')}; {per_round(kind, 'module')}",
                )
            )
        # %autoreload 2: ours measured in turns with it in its shell.
        a = auto.get(kind, {})
        work, cell = med(a.get("work")), med(a.get("cell"))
        bare = med(auto.get("bare_cell")) or 0.0
        idle = med(auto.get("idle_cell"))
        note = f"write + its reload calls, ours in turns in its shell; calls: {a.get('used', {})}"
        if cell is not None:
            note += f"; its whole triggering cell minus a bare run_cell {cell - bare:.2f} ms"
        if idle is not None:
            note += f" (a cell with nothing changed: {idle - bare:.2f} ms)"
        if a.get("stale"):
            note += f"; leaves stale: {', '.join(a['stale'])}"
        rows.append(
            _ratio_row(what, med(a.get("ours")), work, auto_name, 1.0, strict=True, note=note)
        )
        j = jur.get(kind, {})
        note = "its own interpreter; ours from the first row"
        if j.get("stale"):
            note += f"; leaves stale: {', '.join(j['stale'])}"
        if j and not j.get("data_kept", True):
            note += "; re-created DATA"
        rows.append(
            _ratio_row(
                what,
                o,
                med(j.get("times")),
                "jurigged 0.6 CodeFile.refresh",
                1.0,
                strict=True,
                note=note,
            )
        )
    return rows + errors


def _ratio_row(what: str, ours: float | None, theirs: float | None, *args: Any, **kw: Any) -> h.Row:
    """:func:`run_all.ratio_row` at this module's N."""
    return h.ratio_row(what, N, ours, theirs, *args, **kw)


if __name__ == "__main__":
    h.case_main(CASES)
