r"""What a reload tells the world: the ``recompiled`` payloads and the ``compile_failed``
error, in the shapes of SPEC §1.1 and §1.4.

:class:`Payload` is the one description of a payload's keys; every producer (the engine)
and reader (the IPython report, the panels' state) annotates with it. Payloads travel as
plain JSON dicts, so these are ``TypedDict``\ s, not classes with behaviour.
"""

from __future__ import annotations

import hashlib
import os
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, TypedDict, cast

from ipython_hotreload.core.graph.modulegraph import Step
from ipython_hotreload.core.labels import Label
from ipython_hotreload.core.reload.analysis import (
    FunctionInfo,
    analyse_functions,
    statement_units,
)
from ipython_hotreload.core.reload.execution import PlanRun
from ipython_hotreload.core.reload.minimal import Mode, Outcome

__all__ = [
    "Changes",
    "Mode",
    "Payload",
    "Reason",
    "ReloadResult",
    "Rerun",
    "WorkerFailure",
    "Workers",
    "build_payloads",
    "describe_failure",
]


class Reason(TypedDict):
    """Why a module that was not saved ran: it follows ``after`` by an edge of ``label``,
    or (``after`` None) its file changed on disk behind the reloader's back."""

    after: str | None
    label: Label | Literal["changed_on_disk"]


class Rerun(TypedDict):
    """One top-level statement that ran, by its lines."""

    lineno: int
    end_lineno: int


class Changes(TypedDict):
    """The saved module's functions, by qualname, against the text it ran before."""

    added: list[str]
    changed: list[str]
    removed: list[str]


class WorkerFailure(TypedDict):
    """A cluster worker on which a reload failed, and why."""

    worker: str
    error: dict[str, Any]


class Workers(TypedDict):
    """How a reload fared on a cluster's workers (SPEC §2.4)."""

    ok: int
    failed: list[WorkerFailure]


# The keys every payload has, in a base class rather than marked ``Required``: with
# postponed annotations Python 3.11 cannot see ``Required`` at run time, and tests and
# readers ask ``Payload.__required_keys__``.
class _PayloadKeys(TypedDict):
    mod: str
    source_hash: str | None  # sha256 hex of the bytes on disk (saved module only)
    functions: list[FunctionInfo] | None  # saved module only


class Payload(_PayloadKeys, total=False):
    """One ``recompiled`` payload. ``mod``, ``source_hash`` and ``functions`` are always
    there (the last two None in a bare payload); the rest only when they say something."""

    path: str | None
    elapsed_ms: float  # the whole reload's, the same in each payload of it
    reason: Reason  # modules that were not saved
    replaced: list[str]  # qualnames that could not be patched in place
    executed: bool  # present (False) only when the module was not re-executed
    warnings: list[str]  # on the first payload
    mode: Mode
    rerun: list[Rerun]
    full_reason: str  # when ``mode`` is "full"
    changes: Changes  # the saved module's
    workers: Workers
    module_ms: float  # this module's own share of ``elapsed_ms``


class _ResultKeys(TypedDict):
    recompiled: list[Payload]


class ReloadResult(_ResultKeys, total=False):
    """What a reload returns: the payloads, saved module first, and, with a cluster
    attached, how its workers fared."""

    workers: Workers


def build_payloads(
    plan: Sequence[Step],
    run: PlanRun,
    elapsed_ms: float,
    warnings: Sequence[str],
    path_for: Callable[[str], Path | None],
    saved: str,
) -> list[Payload]:
    """One payload per module updated: the ``saved`` one first (carrying the warnings),
    then the others in the order they ran; full for a file that was saved, bare for a module
    that followed, with the ``reason`` it ran and what ran (``mode``, ``rerun``)."""
    sources, executed = run.sources, run.executed
    out: list[Payload] = []
    for step in plan:
        src = sources.get(step.mod)
        is_full = src is not None and src.full
        if step.mod not in executed and not (is_full and step.label is None):
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
            changes = run.changes.get(step.mod) or {"added": [], "changed": [], "removed": []}
            payload["changes"] = cast(Changes, changes)
        path = src.path if src is not None else path_for(step.mod)
        payload["path"] = str(path) if path else None
        payload["elapsed_ms"] = elapsed_ms
        if step.mod in run.module_ms:
            payload["module_ms"] = run.module_ms[step.mod]
        if step.after is not None and step.label is not None:  # a changed module follows none
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


def _what_ran(payload: Payload, outcome: Outcome | None) -> None:
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
