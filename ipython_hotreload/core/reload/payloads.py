"""What a reload tells the world: the ``recompiled`` payloads and the ``compile_failed``
error, in the shapes of SPEC §1.1 and §1.4."""

from __future__ import annotations

import hashlib
import os
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ipython_hotreload.core.graph.modulegraph import Step
from ipython_hotreload.core.reload.analysis import analyse_functions
from ipython_hotreload.core.reload.execution import PlanRun
from ipython_hotreload.core.reload.minimal import Outcome

__all__ = ["build_payloads", "describe_failure"]


def build_payloads(
    plan: Sequence[Step],
    run: PlanRun,
    elapsed_ms: float,
    warnings: Sequence[str],
    path_for: Callable[[str], Path | None],
    saved: str,
) -> list[dict[str, Any]]:
    """One payload per module updated: the ``saved`` one first (carrying the warnings),
    then the others in the order they ran; full for a file that was saved, bare for a module
    that followed, with the ``reason`` it ran and what ran (``mode``, ``rerun``)."""
    sources, executed = run.sources, run.executed
    out: list[dict[str, Any]] = []
    for step in plan:
        src = sources.get(step.mod)
        is_full = src is not None and src.full
        if step.mod not in executed and not (is_full and step.label is None):
            continue
        payload: dict[str, Any] = {"mod": step.mod, "source_hash": None, "functions": None}
        if is_full and src is not None:
            payload["source_hash"] = hashlib.sha256(src.data).hexdigest()
            payload["functions"] = analyse_functions(src.text, src.tree, key=str(src.path))
            payload["changes"] = run.changes.get(step.mod) or {
                "added": [],
                "changed": [],
                "removed": [],
            }
        path = src.path if src is not None else path_for(step.mod)
        payload["path"] = str(path) if path else None
        payload["elapsed_ms"] = elapsed_ms
        if step.mod in run.module_ms:
            payload["module_ms"] = run.module_ms[step.mod]
        if step.after is not None:
            payload["reason"] = {"after": step.after, "label": step.label}
        elif src is not None and not src.full:
            payload["reason"] = {"after": None, "label": "changed_on_disk"}
        _what_ran(payload, run.outcomes.get(step.mod))
        if step.mod not in executed:
            payload["executed"] = False
        if run.replaced.get(step.mod):
            payload["replaced"] = run.replaced[step.mod]
        out.append(payload)
    out.sort(key=lambda p: p["mod"] != saved)  # stable: the rest keep their execution order
    if warnings and out:
        out[0]["warnings"] = list(warnings)
    return out


def _what_ran(payload: dict[str, Any], outcome: Outcome | None) -> None:
    """The payload's ``mode``, ``rerun`` and ``full_reason`` (SPEC §1.5)."""
    if outcome is None:
        payload["mode"] = "unchanged"
        payload["rerun"] = []
        return
    payload["mode"] = outcome.mode
    payload["rerun"] = [{"lineno": a, "end_lineno": b} for a, b in outcome.rerun]
    if outcome.mode == "full":
        payload["full_reason"] = outcome.full_reason or "re-executed whole"


def describe_failure(exc: BaseException, path: Path | None) -> dict[str, Any]:
    """The ``error`` of a ``compile_failed`` event: ``{type, message, lineno, offset}``, the
    line being the failing one in ``path`` when the traceback reaches it."""
    if isinstance(exc, SyntaxError):
        return {
            "type": type(exc).__name__,
            "message": str(exc.msg),
            "lineno": exc.lineno,
            "offset": exc.offset,
        }
    message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return {
        "type": type(exc).__name__,
        "message": message,
        "lineno": _traceback_line(exc, path),
        "offset": None,
    }


def _traceback_line(exc: BaseException, path: Path | None) -> int | None:
    if path is None:
        return None
    target = str(path)
    lineno: int | None = None
    for fs in traceback.extract_tb(exc.__traceback__):
        if fs.filename == target or os.path.basename(fs.filename) == path.name:
            lineno = fs.lineno
    return lineno
