"""What a reload tells the world: the ``recompiled`` payloads and the ``compile_failed``
error, built from what the plan did (their shapes: :mod:`..results`)."""

from __future__ import annotations

import hashlib
import os
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from ipython_hotreload.core.apply.minimal import Outcome
from ipython_hotreload.core.apply.planrun import ModuleReport
from ipython_hotreload.core.report.analysis import (
    analyse_functions,
    statement_units,
)
from ipython_hotreload.core.report.oldcode import OldFrame
from ipython_hotreload.core.results import Changes, Failure, Payload

__all__ = ["build_payloads", "describe_failure", "json_copy"]


def build_payloads(
    reports: Sequence[ModuleReport],
    elapsed_ms: float,
    warnings: Sequence[str],
    saved: str,
    running_old: Sequence[OldFrame] | None = None,
) -> list[Payload]:
    """One payload per module updated: the ``saved`` one first (carrying the warnings),
    then the others in the order they ran; full for a file that was saved, bare for a module
    that followed, with the ``reason`` it ran and what ran (``mode``, ``rerun``), and the
    functions of its patched while a thread ran their old code (``running_old``)."""
    out: list[Payload] = []
    for report in reports:
        step, src = report.step, report.source
        is_full = src is not None and src.full
        if not report.executed and not (is_full and step.label is None):
            continue
        payload: Payload = {"mod": step.mod, "source_hash": None, "functions": None}
        if is_full and src is not None:
            payload["source_hash"] = hashlib.sha256(src.data).hexdigest()
            units = None
            if src.index is not None:  # a spliced parse: the index knows the lines
                units = statement_units(src.index.statements)
            payload["functions"] = analyse_functions(
                src.text, src.tree, key=str(src.path), units=units
            )
            changes = report.changes or {"added": [], "changed": [], "removed": []}
            payload["changes"] = cast(Changes, changes)
        payload["path"] = str(src.path) if src is not None else report.path
        payload["elapsed_ms"] = elapsed_ms
        if report.ms is not None:
            payload["module_ms"] = report.ms
        if step.after is not None and step.label is not None:  # a changed module follows none
            payload["reason"] = {"after": step.after, "label": step.label}
        elif src is not None and not src.full:
            payload["reason"] = {"after": None, "label": "changed_on_disk"}
        _what_ran(payload, report.outcome)
        if not report.executed:
            payload["executed"] = False
        if report.replaced:
            payload["replaced"] = report.replaced
        running = [f for f in running_old or () if f.mod == step.mod]
        if running:
            payload["running_old"] = [{"qualname": f.qualname, "thread": f.thread} for f in running]
        out.append(payload)
    out.sort(key=lambda p: p["mod"] != saved)  # stable: the rest keep their execution order
    if warnings and out:
        out[0]["warnings"] = [*warnings, *out[0].get("warnings", [])]
    return out


def _what_ran(payload: Payload, outcome: Outcome | None) -> None:
    """The payload's ``mode``, ``rerun`` and ``full_reason`` (SPEC §1.5)."""
    if outcome is None:
        payload["mode"] = "unchanged"
        payload["rerun"] = []
        return
    payload["mode"] = outcome.mode
    payload["rerun"] = [{"lineno": a, "end_lineno": b} for a, b in outcome.rerun]
    if outcome.warnings:
        payload["warnings"] = [*payload.get("warnings", []), *outcome.warnings]
    if outcome.mode == "full":
        payload["full_reason"] = outcome.full_reason or "re-executed whole"


def describe_failure(exc: BaseException, path: Path | None) -> Failure:
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


def json_copy(value: Any) -> Any:
    """A copy of JSON-shaped data (dicts, lists, scalars): several times cheaper than
    ``copy.deepcopy``, which a reload would otherwise pay per payload."""
    if isinstance(value, dict):
        return {k: json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_copy(v) for v in value]
    return value
