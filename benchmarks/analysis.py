"""Payload analysis of one module: astroid-based ``functions`` against a stdlib ``ast`` walk.

``ipython_hotreload.core.report.analysis.analyse_functions`` caches per top-level definition, so it
is measured twice on the 300-line module: cold (cache cleared before every call) and warm
after a one-function edit (every call sees a method body it has never seen, the rest is
cached). The comparison is the stdlib: ``ast.parse`` plus a walk that builds the same entries
(name, qualname, kind, lines, signature with ``ast.unparse``, first docstring line). Both
sides parse the source themselves. Also reported: astroid's cost per source line, and the
formatters' own cost on the same file (ruff in a subprocess; black warm, and its import).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import run_all as h

REPEAT = 30


def stdlib_functions(source: str) -> list[dict[str, Any]]:
    """The same entries as the payload's ``functions``, from a stdlib parse and walk."""
    out: list[dict[str, Any]] = []

    def visit(body: list[ast.stmt], prefix: str, in_class: bool) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef):
                visit(node.body, f"{prefix}{node.name}.", True)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names = [
                    d.id if isinstance(d, ast.Name) else getattr(d, "attr", "")
                    for d in node.decorator_list
                ]
                if in_class and ("setter" in names or "deleter" in names):
                    continue
                is_async = isinstance(node, ast.AsyncFunctionDef)
                kind = "async_method" if is_async else "method"
                if not in_class:
                    kind = "async_function" if is_async else "function"
                elif "property" in names:
                    kind = "property"
                elif "classmethod" in names or "staticmethod" in names:
                    kind = "classmethod" if "classmethod" in names else "staticmethod"
                signature = f"({ast.unparse(node.args)})"
                if node.returns is not None:
                    signature += f" -> {ast.unparse(node.returns)}"
                doc = ast.get_docstring(node)
                out.append(
                    {
                        "name": node.name,
                        "qualname": prefix + node.name,
                        "kind": kind,
                        "lineno": node.lineno,
                        "end_lineno": node.end_lineno,
                        "signature": signature,
                        "doc": doc.strip().splitlines()[0] if doc else None,
                    }
                )

    visit(ast.parse(source).body, "", False)
    return out


def case_analysis(args: dict[str, Any]) -> dict[str, Any]:
    """Cold, warm-after-edit, stdlib; the results must agree on names and lines."""
    from ipython_hotreload.core.report import analysis

    source = h.big_source(0)
    ours = analysis.analyse_functions(source)
    theirs = stdlib_functions(source)
    keys = ("qualname", "kind", "lineno", "end_lineno")
    if [tuple(e[k] for k in keys) for e in ours] != [tuple(e[k] for k in keys) for e in theirs]:
        raise AssertionError("astroid and stdlib analyses disagree; the comparison is unfair")
    out: dict[str, Any] = {"lines": len(source.splitlines()), "functions": len(ours)}
    out["cold"] = h.time_ms(
        lambda i: analysis.analyse_functions(source),
        repeat=args["repeat"],
        before=lambda i: analysis._clear_cache(),
    )
    analysis._clear_cache()
    analysis.analyse_functions(h.big_source(0))
    edited = [h.big_source(1000 + i) for i in range(args["repeat"] + 3)]
    out["warm_edit"] = h.time_ms(
        lambda i: analysis.analyse_functions(edited[i]), repeat=args["repeat"]
    )
    out["stdlib"] = h.time_ms(lambda i: stdlib_functions(source), repeat=args["repeat"])
    return out


def case_formatters(args: dict[str, Any]) -> dict[str, Any]:
    """ruff (subprocess per call) and black (in-process, warm; and its import) on one file."""
    from ipython_hotreload.core.edit.formatting import resolve_formatter

    source = h.big_source(0)
    path = Path(args["root"]) / "hrbench" / "big300.py"
    out: dict[str, Any] = {}
    ruff = resolve_formatter("ruff")
    assert ruff is not None
    out["ruff"] = h.time_ms(lambda i: ruff(source, path), repeat=args["repeat"])
    t0 = time.perf_counter()
    try:
        import black
    except ImportError:
        return out
    out["black_import"] = [(time.perf_counter() - t0) * 1000]
    mode = black.Mode()
    out["black"] = h.time_ms(lambda i: black.format_str(source, mode=mode), repeat=args["repeat"])
    from ipython_hotreload.core.edit.formatting import _ruff_binary

    binary = _ruff_binary()
    if binary is not None:  # the part of a ruff call that is only starting the process
        version = [binary, "--version"]
        out["ruff_start"] = h.time_ms(
            lambda i: subprocess.run(version, check=True, capture_output=True), repeat=10
        )
    return out


CASES = {"analysis": case_analysis, "formatters": case_formatters}


def run() -> list[h.Row]:
    """Cold and warm analysis vs stdlib; astroid per line; formatter costs."""
    rows: list[h.Row] = []
    args = {**h.project(100), "repeat": REPEAT}
    try:
        a = h.run_case("analysis", "analysis", args)
    except Exception as exc:
        rows.append(h.error_row("payload analysis", exc))
    else:
        stdlib = h.median(a["stdlib"])
        what = f"payload analysis of a {a['lines']}-line module ({a['functions']} functions)"
        cold, warm = h.median(a["cold"]), h.median(a["warm_edit"])
        rows.append(
            h.row(
                what + ", cold",
                "-",
                cold,
                stdlib,
                compared_with="stdlib ast walk",
                mark="report",
                note=f"astroid: {1000 * cold / a['lines']:.0f} us per line",
            )
        )
        rows.append(
            h.row(
                what + ", warm after a 1-function edit",
                "-",
                warm,
                stdlib,
                compared_with="stdlib ast walk",
                mark="report",
            )
        )
    try:
        f = h.run_case("analysis", "formatters", args)
    except Exception as exc:
        rows.append(h.error_row("formatters", exc))
    else:
        start = h.median(f["ruff_start"]) if "ruff_start" in f else None
        note = "a subprocess per call"
        if start is not None:
            note += f"; `ruff --version` alone (process start) {start:.1f} ms"
        rows.append(
            h.row(
                "formatter ruff alone, 300-line module",
                "-",
                h.median(f["ruff"]),
                mark="report",
                note=note,
            )
        )
        if "black" in f:
            rows.append(
                h.row(
                    "formatter black alone, 300-line module (warm)",
                    "-",
                    h.median(f["black"]),
                    mark="report",
                    note=f"plus {f['black_import'][0]:.0f} ms to import black once",
                )
            )
    return rows


if __name__ == "__main__":
    h.case_main(CASES)
