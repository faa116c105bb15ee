"""Edit-to-payload latency of one edit, ours against the floor and against our peers.

The same edit (the body of one function) is applied by every contender, in interpreters
that have imported the whole synthetic project of N = 1,000 modules:

- ``floor``: write the file, ``importlib.reload`` (which compiles and writes the ``.pyc``);
- ``ours``: ``HotReloader.reload`` (write, format, compile, graph update, stale-file sweep,
  re-execute, patch in place, ``.pyc``, payload with ``functions``, events), formatter None
  and ruff, plus the formatter's own cost alone. The floor and ours take turns in one
  process, so their ratio is not at the mercy of other work on the machine;
- ``autoreload`` (its own interpreter): write the file, then the ``run_cell("pass")`` that
  ``%autoreload 2`` uses to notice and reload it, in a real ``InteractiveShell`` (the same
  shell's bare ``run_cell("pass")`` without autoreload is subtracted), taking turns with
  ours in that same interpreter;
- ``jurigged`` (its own interpreter): write the file, then ``CodeFile.refresh()`` of its
  registered ``CodeFile``.

Every iteration checks that the new code runs (outside the timed region).
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import run_all as h

N = 1000
REPEAT = 25


class _Edit(NamedTuple):
    """One of the two edits every case makes, to a module the project has loaded."""

    key: str
    name: str
    path: Path
    module: ModuleType
    source: Callable[[int], str]  # edit number -> the module's new text
    ok: Callable[[int], bool]  # edit number -> whether the running module shows that edit


def _edits(root: Path) -> list[_Edit]:
    """One function of the 20-function leaf module, one method of the 300-line module."""
    leaf, big = sys.modules["hrbench.leaf20"], sys.modules["hrbench.big300"]
    return [
        _Edit(
            "leaf",
            leaf.__name__,
            root / "hrbench" / "leaf20.py",
            leaf,
            h.leaf_source,
            lambda e: bool(leaf.f07(3) == h.leaf_expected(e)),
        ),
        _Edit(
            "big",
            big.__name__,
            root / "hrbench" / "big300.py",
            big,
            h.big_source,
            lambda e: bool(big.Shape(4).method_05() == h.big_expected(e)),
        ),
    ]


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise AssertionError(f"the edit did not take effect: {what}")


def case_paired(args: dict[str, Any]) -> dict[str, Any]:
    """The floor (write + ``importlib.reload``, which compiles and writes the ``.pyc``) and
    ours (``HotReloader.reload``, formatter None, then ruff), in turns in one process: the
    same module, the same kind of edit, the same moments of the machine's load. (The floor
    re-creates the module's functions; ours then patches those: the same work as after one
    of its own reloads.) Also: the first reload of the session, and ruff alone."""
    root = h.load_project(args)
    from ipython_hotreload.core.edit.formatting import resolve_formatter
    from ipython_hotreload.core.engine import HotReloader

    reloader = HotReloader(roots=[root], formatter=None)
    edits = _edits(root)
    leaf_path = edits[0].path
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    reloader.reload(leaf_path, h.leaf_source(0))
    out["first_ms"] = (time.perf_counter() - t0) * 1000  # the cold graph, astroid's start
    ruff = resolve_formatter("ruff")
    payloads: list[dict[str, Any]] = []
    for key, _, path, module, source, ok in edits:

        def floor(e: int, path: Path = path, module: Any = module, source: Any = source) -> None:
            path.write_text(source(e))
            importlib.reload(module)

        def ours(e: int, path: Path = path, source: Any = source) -> None:
            payloads.append(reloader.reload(path, source(e)))

        def check(name: str, e: int, ok: Any = ok) -> None:
            _check(ok(e), name)
            if name != "floor":
                _check(bool(payloads.pop()["recompiled"][0]["functions"]), f"{name} payload")

        def before(name: str, e: int) -> None:
            reloader.formatter = "ruff" if name == "ruff" else None

        got = h.interleaved(
            {"floor": floor, "none": ours, "ruff": ours},
            repeat=args["repeat"],
            before=before,
            check=check,
        )
        for name, times in got.items():
            out[f"{name}_{key}"] = times
    if ruff is not None:
        text = h.leaf_source(1)
        out["ruff_alone"] = h.time_ms(lambda i: ruff(text, leaf_path), repeat=args["repeat"])
    return out


def case_autoreload(args: dict[str, Any]) -> dict[str, Any]:
    """``%autoreload 2`` noticing and reloading the edit on the next cell, in turns with
    ours in the same shell. After each of our reloads, autoreload is told (untimed) that it
    has seen the file, as the extension's autoreload bridge does, so its next cell does not
    reload our edit a second time."""
    root = h.load_project(args)
    from ipython_hotreload.core.engine import HotReloader

    shell = _shell()
    with h.quiet_stdout():
        bare = h.time_ms(lambda i: shell.run_cell("pass"), repeat=200, warmup=20)
        shell.run_line_magic("load_ext", "autoreload")
        shell.run_line_magic("autoreload", "2")
        shell.run_cell("pass")
    autoreloader = dict.get(shell.magics_manager.registry, "AutoreloadMagics")._reloader
    reloader = HotReloader(roots=[root], formatter=None)
    out: dict[str, Any] = {"bare_cell": bare}
    for key, name, path, _, source, ok in _edits(root):
        last = [path.stat().st_mtime_ns]

        def newer(path: Path = path, last: list[int] = last) -> float:
            """Make the file's mtime later than any before (a coarse clock can repeat one),
            so autoreload, which compares mtimes, sees every edit."""
            st = path.stat()
            if st.st_mtime_ns <= last[0]:
                bumped = last[0] + 1_000_000
                os.utime(path, ns=(bumped, bumped))
                st = path.stat()
            last[0] = st.st_mtime_ns
            return st.st_mtime

        def auto(e: int, path: Path = path, source: Any = source, newer: Any = newer) -> None:
            path.write_text(source(e))
            newer()
            shell.run_cell("pass")

        def ours(e: int, path: Path = path, source: Any = source) -> None:
            reloader.reload(path, source(e))

        def check(
            who: str, e: int, ok: Any = ok, name: str = name, path: Path = path, newer: Any = newer
        ) -> None:
            _check(ok(e), who)
            if who == "ours":
                autoreloader.modules_mtimes[name] = newer()
                sources = getattr(autoreloader.deduper_reloader, "source_by_modname", None)
                if isinstance(sources, dict):
                    sources[name] = path.read_text()

        with h.quiet_stdout():
            got = h.interleaved(
                {"autoreload": auto, "ours": ours}, repeat=args["repeat"], check=check
            )
        out[key] = got["autoreload"]
        out[f"ours_{key}"] = got["ours"]
    return out


def case_jurigged(args: dict[str, Any]) -> dict[str, Any]:
    """jurigged: the edited file registered, then write + ``CodeFile.refresh()``."""
    root = h.load_project(args)
    from jurigged.register import registry

    out: dict[str, Any] = {}
    for key, name, path, _, source, check in _edits(root):
        filename = sys.modules[name].__file__
        registry.prepare(name, filename)
        codefile = registry.get(filename)
        assert codefile is not None

        def edit(i: int, path: Path = path, source: Any = source, cf: Any = codefile) -> None:
            path.write_text(source(i))
            cf.refresh()

        out[key] = h.time_ms(
            edit, repeat=args["repeat"], after=lambda i, c=check: _check(c(i), "jurigged")
        )
    return out


def _shell() -> Any:
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    config.HistoryManager.enabled = False
    return InteractiveShell.instance(config=config)


CASES = {
    "paired": case_paired,
    "autoreload": case_autoreload,
    "jurigged": case_jurigged,
}


def run() -> list[h.Row]:
    """The edit-latency rows: leaf (20 functions) and 300-line module, N = 1,000."""
    args = {**h.project(N), "repeat": REPEAT}
    got: dict[str, Any] = {}
    errors: list[h.Row] = []
    for case in ("paired", "autoreload", "jurigged"):
        try:
            got[case] = h.run_case("reload", case, args)
        except Exception as exc:
            errors.append(h.error_row(f"reload case {case}", exc))
    paired = got.get("paired", {})

    def m(case: str, key: str) -> float | None:
        v = got.get(case, {}).get(key)
        return h.median(v) if isinstance(v, list) and v else None

    def autoreload(key: str) -> float | None:
        cell = m("autoreload", key)
        return None if cell is None else cell - (m("autoreload", "bare_cell") or 0.0)

    def per_round(key: str) -> str:
        ours, floor = paired.get(f"none_{key}"), paired.get(f"floor_{key}")
        if not ours or not floor:
            return ""
        ratio = h.median([o / f for o, f in zip(ours, floor, strict=True)])
        return f"median of the per-round ratios {ratio:.2f}x (floor and ours in turns)"

    rows: list[h.Row] = []
    auto_note = (
        "ours measured in turns with it in its shell; its cell minus a bare run_cell "
        f"({m('autoreload', 'bare_cell') or 0:.3f} ms)"
    )
    for key, what in (
        ("leaf", "edit 1 function of a 20-function leaf module"),
        ("big", "edit 1 method of a 300-line module"),
    ):
        ours = m("paired", f"none_{key}")
        floor = m("paired", f"floor_{key}")
        label = what + " (formatter None)"
        floor_name = "write + importlib.reload (.pyc)"
        if key == "leaf":
            rows.append(_ratio_row(label, ours, floor, floor_name, 3.0, note=per_round(key)))
            rows.append(
                _ratio_row(
                    label,
                    m("autoreload", f"ours_{key}"),
                    autoreload(key),
                    "%autoreload 2 triggering cell",
                    1.0,
                    strict=True,
                    note=auto_note,
                )
            )
            rows.append(
                _ratio_row(
                    label, ours, m("jurigged", key), "jurigged CodeFile.refresh", 1.0, strict=True
                )
            )
        else:
            rows.append(
                _ratio_row(
                    label,
                    ours,
                    m("jurigged", key),
                    "jurigged CodeFile.refresh",
                    1.0,
                    strict=True,
                    note="ours also does dependents, payload and .pyc",
                )
            )
            rows.append(
                h.row(
                    label,
                    N,
                    ours,
                    floor,
                    compared_with=floor_name,
                    mark="report",
                    note=per_round(key),
                )
            )
            rows.append(
                h.row(
                    label,
                    N,
                    m("autoreload", f"ours_{key}"),
                    autoreload(key),
                    compared_with="%autoreload 2 triggering cell",
                    mark="report",
                    note=auto_note,
                )
            )
        ruff_alone = m("paired", "ruff_alone")
        rows.append(
            h.row(
                what + " (formatter ruff)",
                N,
                m("paired", f"ruff_{key}"),
                floor,
                compared_with=floor_name,
                mark="report",
                note=f"ruff alone on the leaf module: {ruff_alone:.2f} ms" if ruff_alone else "",
            )
        )
    first = paired.get("first_ms")
    if first is not None:
        rows.append(
            h.row(
                "first reload of a session",
                N,
                first,
                mark="report",
                note="one sample: builds the project's graph (no cache yet) and starts astroid",
            )
        )
    return rows + errors


def _ratio_row(what: str, ours: float | None, theirs: float | None, *args: Any, **kw: Any) -> h.Row:
    """:func:`run_all.ratio_row` at this module's N."""
    return h.ratio_row(what, N, ours, theirs, *args, **kw)


if __name__ == "__main__":
    h.case_main(CASES)
