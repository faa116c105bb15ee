"""Run one library's own test suite in this process, after reloading its modules or not.

Run as a script (``python suite_driver.py SPEC.json``) in the library's unpacked source
directory, never imported by pytest: the library's ``tests`` package must not meet ours. The
JSON spec names the import root, the packages, the tests directory, the edit, the mode and
the file to write the outcome to:

    {"root": ".../src", "packages": ["attr", "attrs"], "tests": ["tests"],
     "skip": ["toolz.tests"], "edits": ["attr._make:fields"], "reload": "module" | null,
     "pytest_args": [...], "out": ".../outcome.json"}

With ``reload`` set, every module of the packages is reloaded with its own text (a no-op
reload), one at a time, through ``HotReloader`` with that ``reexecute`` mode; then each
function named by ``edits`` gets one real body edit, checked live through the reference
taken before (the payload's ``mode`` is recorded: an edit in a module holding a top-level
``del`` re-executes it whole); then the library's tests run in this same process, with
``pytest.main``.
"""

from __future__ import annotations

import ast
import importlib
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

EDIT_MARK = "_hotreload_edit"


def main(spec_path: str) -> int:
    """Do what the spec says; the outcome goes to ``spec["out"]``."""
    spec = json.loads(Path(spec_path).read_text())
    here = str(Path(__file__).resolve().parent)
    # Our package is imported first, then our repository leaves sys.path: the library's own
    # `tests` package must be the only one importable.
    from ipython_hotreload.core.engine import HotReloader

    ours = str(Path(sys.modules["ipython_hotreload"].__file__ or "").resolve().parent.parent)
    sys.path[:] = [p for p in sys.path if p and str(Path(p).resolve()) not in (here, ours)]
    sys.modules.pop("tests", None)
    root = Path(spec["root"]).resolve()
    sys.path.insert(0, str(root))
    modules = _import_all(root, spec["packages"], spec.get("skip", []))
    outcome: dict[str, Any] = {"modules": len(modules), "reload_ms": [], "edits": []}
    if spec.get("reload"):
        reloader = HotReloader(
            roots=[root], formatter=None, persist_bytecode=False, reexecute=spec["reload"]
        )
        outcome["reload_errors"] = []
        for name, path in modules:
            if name in spec.get("not_reexecuted", []):
                continue
            text = path.read_text(encoding="utf-8")
            started = time.perf_counter()
            try:
                reloader.reload(path, text)
            except Exception as exc:  # reported, then the suite shows what it broke
                outcome["reload_errors"].append(f"{name}: {exc!r} from {exc.__cause__!r}")
            outcome["reload_ms"].append((time.perf_counter() - started) * 1000)
        outcome["edits"] = [_edit(reloader, target, dict(modules)) for target in spec["edits"]]
        reloader.close()
    outcome["tests"] = _run_tests(spec["tests"], spec.get("pytest_args", []))
    times = outcome["reload_ms"]
    if times:
        outcome["reload_median_ms"] = statistics.median(times)
        outcome["reload_max_ms"] = max(times)
    Path(spec["out"]).write_text(json.dumps(outcome))
    return 0


def _import_all(root: Path, packages: list[str], skip: list[str]) -> list[tuple[str, Path]]:
    """Import every module of the packages (those that import here: an optional
    dependency missing is the library's business); return them in import order."""
    found: list[tuple[str, Path]] = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join(parts)
            if any(name == s or name.startswith(s + ".") for s in skip):
                continue
            try:
                importlib.import_module(name)
            except Exception as exc:  # an optional dependency: not a module of this check
                print(f"suite_driver: {name} does not import here: {exc!r}", file=sys.stderr)
                continue
            found.append((name, path))
    order = {name: i for i, name in enumerate(sys.modules)}
    return sorted(found, key=lambda item: order.get(item[0], len(order)))


def _edit(reloader: Any, target: str, modules: dict[str, Path]) -> dict[str, Any]:
    """One real edit: a statement added at the top of a function's body. The reference
    taken before must run the new code afterwards."""
    modname, qualname = target.split(":")
    path = modules[modname]
    held = sys.modules[modname]
    for part in qualname.split("."):
        held = getattr(held, part)
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    node = _find(ast.parse(text), qualname.split("."))
    body = node.body
    first = body[1] if len(body) > 1 and _is_docstring(body[0]) else body[0]
    indent = " " * first.col_offset
    lines.insert(first.lineno - 1, f"{indent}{EDIT_MARK} = None\n")
    started = time.perf_counter()
    try:
        result = reloader.reload(path, "".join(lines))
    except Exception as exc:  # reported as the edit's outcome
        return {"target": target, "error": f"{exc!r} from {exc.__cause__!r}"}
    elapsed = (time.perf_counter() - started) * 1000
    saved = result["recompiled"][0]
    now = sys.modules[modname]
    for part in qualname.split("."):
        now = getattr(now, part)
    code = getattr(held, "__code__", None)
    return {
        "target": target,
        "ms": elapsed,
        "same_object": now is held,
        "live": code is not None and EDIT_MARK in code.co_varnames,
        "mode": saved.get("mode"),
        "full_reason": saved.get("full_reason"),
    }


def _find(tree: ast.AST, names: list[str]) -> ast.FunctionDef | ast.AsyncFunctionDef:
    scope: Any = tree
    for name in names:
        scope = next(
            n
            for n in scope.body
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and n.name == name
        )
    assert isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef)
    return scope


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


class _Outcomes:
    """Each test's outcome, by node id: failed if any phase failed."""

    def __init__(self) -> None:
        self.by_id: dict[str, str] = {}

    def pytest_runtest_logreport(self, report: Any) -> None:
        previous = self.by_id.get(report.nodeid)
        if report.failed:
            self.by_id[report.nodeid] = "failed"
        elif previous == "failed":
            return
        elif report.when == "call":
            self.by_id[report.nodeid] = "xfailed" if hasattr(report, "wasxfail") else report.outcome
        elif report.skipped:
            self.by_id[report.nodeid] = "skipped"

    def pytest_collectreport(self, report: Any) -> None:
        if report.failed:
            self.by_id[f"collect:{report.nodeid}"] = "failed"


def _run_tests(tests: list[str], args: list[str]) -> dict[str, str]:
    import pytest

    outcomes = _Outcomes()
    # Our engine imported watchfiles, and so anyio, before pytest started: pytest then
    # warns that it cannot rewrite the asserts of anyio's plugin, which suites that turn
    # every warning into an error would take for a failure of theirs.
    quiet = ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    pytest.main([*tests, "-q", "-p", "no:cacheprovider", *quiet, *args], plugins=[outcomes])
    return outcomes.by_id


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
