"""Edit-to-payload latency of one edit, ours against the floor and against our peers.

The same edit (the body of one function) is applied by every contender, each in a fresh
interpreter that has imported the whole synthetic project of N = 1,000 modules:

- ``floor``: write the file, ``importlib.reload`` (which compiles and writes the ``.pyc``);
- ``ours``: ``HotReloader.reload`` (write, format, compile, graph update, stale-file sweep,
  re-execute, patch in place, ``.pyc``, payload with ``functions``, events), formatter None
  and ruff, plus the formatter's own cost alone;
- ``autoreload``: write the file, then the ``run_cell("pass")`` that ``%autoreload 2`` uses
  to notice and reload it, in a real ``InteractiveShell`` (the same shell's bare
  ``run_cell("pass")`` without autoreload is subtracted);
- ``jurigged``: write the file, then ``CodeFile.refresh()`` of its registered ``CodeFile``.

Every iteration checks that the new code runs (outside the timed region).
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import run_all as h

N = 1000
REPEAT = 25


def _paths(root: Path) -> tuple[Path, Path]:
    return root / "hrbench" / "leaf20.py", root / "hrbench" / "big300.py"


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise AssertionError(f"the edit did not take effect: {what}")


def case_floor(args: dict[str, Any]) -> dict[str, Any]:
    """write + ``importlib.reload`` (compiles, writes the ``.pyc``) of the edited module."""
    root = h.load_project(args)
    leaf_path, big_path = _paths(root)
    leaf = sys.modules["hrbench.leaf20"]
    big = sys.modules["hrbench.big300"]
    out: dict[str, Any] = {}
    for key, path, module, source, check in (
        ("leaf", leaf_path, leaf, h.leaf_source, lambda e: leaf.f07(3) == h.leaf_expected(e)),
        (
            "big",
            big_path,
            big,
            h.big_source,
            lambda e: big.Shape(4).method_05() == h.big_expected(e),
        ),
    ):

        def edit(i: int, path: Path = path, module: Any = module, source: Any = source) -> None:
            path.write_text(source(i))
            importlib.reload(module)

        out[key] = h.time_ms(
            edit, repeat=args["repeat"], after=lambda i, c=check: _check(c(i), "floor")
        )
    return out


def case_ours(args: dict[str, Any]) -> dict[str, Any]:
    """``HotReloader.reload`` with the given formatter; also the formatter alone."""
    root = h.load_project(args)
    from ipython_hotreload.core.engine import HotReloader
    from ipython_hotreload.core.formatting import resolve_formatter

    formatter = args["formatter"]
    reloader = HotReloader(roots=[root], formatter=formatter)
    leaf_path, big_path = _paths(root)
    leaf = sys.modules["hrbench.leaf20"]
    big = sys.modules["hrbench.big300"]
    f07 = leaf.f07  # identity must survive: in-place patching
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    reloader.reload(leaf_path, h.leaf_source(0))
    out["first_ms"] = (time.perf_counter() - t0) * 1000  # includes the cold graph
    for key, path, source, check in (
        ("leaf", leaf_path, h.leaf_source, lambda e: f07(3) == h.leaf_expected(e)),
        ("big", big_path, h.big_source, lambda e: big.Shape(4).method_05() == h.big_expected(e)),
    ):
        results: list[dict[str, Any]] = []

        def edit(
            i: int, path: Path = path, source: Any = source, sink: list[Any] = results
        ) -> None:
            sink.append(reloader.reload(path, source(i)))

        def after(i: int, check: Any = check, sink: list[Any] = results) -> None:
            payload = sink.pop()["recompiled"][0]
            _check(check(i) and bool(payload["functions"]), f"ours {formatter}")

        out[key] = h.time_ms(edit, repeat=args["repeat"], after=after)
    fmt = resolve_formatter(formatter)
    if fmt is not None:
        text = h.leaf_source(1)
        out["format_alone"] = h.time_ms(lambda i: fmt(text, leaf_path), repeat=args["repeat"])
    return out


def case_autoreload(args: dict[str, Any]) -> dict[str, Any]:
    """``%autoreload 2`` noticing and reloading the edit on the next cell."""
    root = h.load_project(args)
    shell = _shell()
    leaf_path, big_path = _paths(root)
    leaf = sys.modules["hrbench.leaf20"]
    big = sys.modules["hrbench.big300"]
    with h.quiet_stdout():
        bare = h.time_ms(lambda i: shell.run_cell("pass"), repeat=200, warmup=20)
        shell.run_line_magic("load_ext", "autoreload")
        shell.run_line_magic("autoreload", "2")
        shell.run_cell("pass")
    out: dict[str, Any] = {"bare_cell": bare}
    for key, path, source, check in (
        ("leaf", leaf_path, h.leaf_source, lambda e: leaf.f07(3) == h.leaf_expected(e)),
        ("big", big_path, h.big_source, lambda e: big.Shape(4).method_05() == h.big_expected(e)),
    ):
        last_mtime = [path.stat().st_mtime_ns]

        def edit(
            i: int, path: Path = path, source: Any = source, last: list[int] = last_mtime
        ) -> None:
            path.write_text(source(i))
            st = path.stat()
            if st.st_mtime_ns <= last[0]:  # a coarse clock: make the change visible
                bumped = last[0] + 1_000_000
                import os

                os.utime(path, ns=(bumped, bumped))
                st = path.stat()
            last[0] = st.st_mtime_ns
            shell.run_cell("pass")

        with h.quiet_stdout():
            out[key] = h.time_ms(
                edit, repeat=args["repeat"], after=lambda i, c=check: _check(c(i), "autoreload")
            )
    return out


def case_jurigged(args: dict[str, Any]) -> dict[str, Any]:
    """jurigged: the edited file registered, then write + ``CodeFile.refresh()``."""
    root = h.load_project(args)
    from jurigged.register import registry

    leaf_path, big_path = _paths(root)
    leaf = sys.modules["hrbench.leaf20"]
    big = sys.modules["hrbench.big300"]
    out: dict[str, Any] = {}
    for key, name, path, source, check in (
        (
            "leaf",
            "hrbench.leaf20",
            leaf_path,
            h.leaf_source,
            lambda e: leaf.f07(3) == h.leaf_expected(e),
        ),
        (
            "big",
            "hrbench.big300",
            big_path,
            h.big_source,
            lambda e: big.Shape(4).method_05() == h.big_expected(e),
        ),
    ):
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
    "floor": case_floor,
    "ours": case_ours,
    "autoreload": case_autoreload,
    "jurigged": case_jurigged,
}


def run() -> list[h.Row]:
    """The edit-latency rows: leaf (20 functions) and 300-line module, N = 1,000."""
    proj = h.project(N)
    args = {**proj, "repeat": REPEAT}
    got: dict[str, Any] = {}
    errors: list[h.Row] = []
    for name, case, extra in (
        ("floor", "floor", {}),
        ("ours_none", "ours", {"formatter": None}),
        ("ours_ruff", "ours", {"formatter": "ruff"}),
        ("autoreload", "autoreload", {}),
        ("jurigged", "jurigged", {}),
    ):
        try:
            got[name] = h.run_case("reload", case, {**args, **extra})
        except Exception as exc:
            errors.append(h.error_row(f"reload case {name}", exc))
    med = {
        k: {kk: h.median(vv) for kk, vv in v.items() if isinstance(vv, list)}
        for k, v in got.items()
    }

    def m(who: str, key: str) -> float | None:
        return med.get(who, {}).get(key)

    rows: list[h.Row] = []
    leaf = "edit 1 function of a 20-function leaf module"
    ours = m("ours_none", "leaf")
    floor = m("floor", "leaf")
    rows.append(
        _ratio_row(leaf + " (formatter None)", ours, floor, "write + importlib.reload (.pyc)", 3.0)
    )
    if "autoreload" in med:
        auto = m("autoreload", "leaf")
        bare = m("autoreload", "bare_cell") or 0.0
        theirs = auto - bare if auto is not None else None
        rows.append(
            _ratio_row(
                leaf + " (formatter None)",
                ours,
                theirs,
                "%autoreload 2 triggering cell",
                1.0,
                note=f"cell minus a bare run_cell ({bare:.3f} ms)",
                strict=True,
            )
        )
    rows.append(
        _ratio_row(
            leaf + " (formatter None)",
            ours,
            m("jurigged", "leaf"),
            "jurigged CodeFile.refresh",
            1.0,
            strict=True,
        )
    )
    ruff_total = m("ours_ruff", "leaf")
    ruff_alone = m("ours_ruff", "format_alone")
    rows.append(
        h.row(
            leaf + " (formatter ruff)",
            N,
            ruff_total,
            floor,
            compared_with="write + importlib.reload (.pyc)",
            mark="report",
            note=f"ruff alone: {ruff_alone:.2f} ms" if ruff_alone else "",
        )
    )
    big = "edit 1 method of a 300-line module (formatter None)"
    rows.append(
        _ratio_row(
            big,
            m("ours_none", "big"),
            m("jurigged", "big"),
            "jurigged CodeFile.refresh",
            1.0,
            strict=True,
            note="ours also does dependents, payload and .pyc",
        )
    )
    rows.append(
        h.row(
            big,
            N,
            m("ours_none", "big"),
            m("floor", "big"),
            compared_with="write + importlib.reload (.pyc)",
            mark="report",
        )
    )
    if "autoreload" in med:
        auto = m("autoreload", "big")
        bare = m("autoreload", "bare_cell") or 0.0
        rows.append(
            h.row(
                big,
                N,
                m("ours_none", "big"),
                auto - bare if auto is not None else None,
                compared_with="%autoreload 2 triggering cell",
                mark="report",
            )
        )
    first = got.get("ours_none", {}).get("first_ms")
    if first is not None:
        rows.append(
            h.row(
                "first reload of a session (cold graph of the project)",
                N,
                first,
                mark="report",
                note="one sample: graph built from an on-disk cache or from scratch",
            )
        )
    return rows + errors


def _ratio_row(
    what: str,
    ours: float | None,
    theirs: float | None,
    compared_with: str,
    limit: float,
    *,
    strict: bool = False,
    note: str = "",
) -> h.Row:
    """A row whose mark is ``ours <= limit x theirs`` (``strict``: ``ours < theirs``)."""
    if ours is None or theirs is None:
        return h.row(
            what, N, ours, theirs, compared_with=compared_with, met=False, note="not measured"
        )
    ratio = ours / theirs
    mark = "faster" if strict else f"<= {limit:g}x"
    met = ratio < limit if strict else ratio <= limit
    return h.row(what, N, ours, theirs, compared_with=compared_with, mark=mark, met=met, note=note)


if __name__ == "__main__":
    h.case_main(CASES)
