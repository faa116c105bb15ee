"""What a panel knows about one module, and how an event changes it.

Pure functions over plain dicts (the shape that is synced to the browser), so the rules
("a failure keeps the old function list", "a bare payload means fetch") live in one place
and are shared by :class:`FunctionsPanel` and :class:`ProjectOverview`. No widget imports.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal, TypedDict

from ipython_hotreload.core.events import ModuleEvent
from ipython_hotreload.core.paths import in_skipped_dir, is_within

__all__ = [
    "ModuleState",
    "ModuleStatus",
    "blank_state",
    "change_set",
    "event_entry",
    "initial_state",
    "mode_label",
    "own_time_ms",
    "project_modules",
    "state_after",
]

log = logging.getLogger(__name__)

ModuleStatus = Literal["ok", "failed", "gone", "missing", "not_imported"]

# A function that returns the SPEC "functions" entries of a module (HotReloader.functions).

Fetch = Callable[[str], list[dict[str, Any]]]


class ModuleState(TypedDict):
    """One module as a panel shows it; every value is JSON."""

    mod: str
    path: str | None
    status: ModuleStatus
    functions: list[dict[str, Any]]
    error: dict[str, Any] | None
    recompiled_at: float | None
    recompiles: int
    source_hash: str | None
    replaced: list[str]
    note: str
    # The last reload's change set (SPEC 1.5), kept until the next reload of this module.
    changes: dict[str, list[str]] | None
    mode: str | None
    mode_label: str | None
    full_reason: str | None
    # Why the module ran when it followed another one: {"after", "label"} (or None).
    reason: dict[str, Any] | None
    own_ms: float | None


def _error_dict(exc: BaseException) -> dict[str, Any]:
    return {
        "type": type(exc).__name__,
        "message": str(exc),
        "lineno": getattr(exc, "lineno", None),
        "offset": None,
    }


def _module_path(mod: str) -> str | None:
    module = sys.modules.get(mod)
    file = getattr(module, "__file__", None)
    return file if isinstance(file, str) else None


def blank_state(mod: str, path: str | None) -> ModuleState:
    """A module with nothing known about it yet."""
    return ModuleState(
        mod=mod,
        path=path,
        status="ok",
        functions=[],
        error=None,
        recompiled_at=None,
        recompiles=0,
        source_hash=None,
        replaced=[],
        note="",
        changes=None,
        mode=None,
        mode_label=None,
        full_reason=None,
        reason=None,
        own_ms=None,
    )


def _names(value: object) -> list[str]:
    if not isinstance(value, (list, tuple)):
        return []
    return [name for name in value if isinstance(name, str)]


def change_set(payload: dict[str, Any]) -> dict[str, list[str]] | None:
    """The payload's ``changes`` as ``{added, changed, removed}`` lists of qualnames, or None
    when the payload has none (a dependent's, or an engine that does not compute them)."""
    changes = payload.get("changes")
    if not isinstance(changes, dict):
        return None
    return {key: _names(changes.get(key)) for key in ("added", "changed", "removed")}


def mode_label(payload: dict[str, Any]) -> str | None:
    """How the module was updated, as the panel says it: ``patched``, ``partial: 2
    statements``, ``full`` or ``unchanged``; None when the payload does not say."""
    mode = payload.get("mode")
    if not isinstance(mode, str) or not mode:
        return None
    if mode == "partial":
        rerun = payload.get("rerun")
        count = len(rerun) if isinstance(rerun, list) else 0
        return f"partial: {count} statement{'' if count == 1 else 's'}"
    return mode


def own_time_ms(payload: dict[str, Any]) -> float | None:
    """The time this module's update took: ``module_ms`` when the payload has it, else the
    batch's ``elapsed_ms`` (all an engine without per-module timings can say)."""
    for key in ("module_ms", "elapsed_ms"):
        value = payload.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


def _reason(payload: dict[str, Any]) -> dict[str, Any] | None:
    reason = payload.get("reason")
    if not isinstance(reason, dict):
        return None
    after = reason.get("after")
    label = reason.get("label")
    return {
        "after": after if isinstance(after, str) else None,
        "label": label if isinstance(label, str) else None,
    }


def _take_update_fields(state: ModuleState, payload: dict[str, Any]) -> None:
    """Set what a ``recompiled`` payload says about how the module was updated and why."""
    mode, full_reason = payload.get("mode"), payload.get("full_reason")
    state["changes"] = change_set(payload)
    state["mode"] = mode if isinstance(mode, str) else None
    state["mode_label"] = mode_label(payload)
    state["full_reason"] = full_reason if isinstance(full_reason, str) else None
    state["reason"] = _reason(payload)
    state["own_ms"] = own_time_ms(payload)


def initial_state(mod: str, fetch: Fetch) -> ModuleState:
    """The state of ``mod`` before any event: its analysis now, or ``missing`` with the reason."""
    state = blank_state(mod, _module_path(mod))
    try:
        state["functions"] = list(fetch(mod))
    except Exception as exc:
        # A panel may be opened before the module exists; say why instead of failing.
        log.info("no analysis for %s yet: %s", mod, exc, exc_info=True)
        state["status"] = "missing"
        state["error"] = _error_dict(exc)
        state["note"] = (
            f"no module named {mod!r} in the project or on sys.path: check the spelling "
            "(or create it with %%hotreload)"
        )
        return state
    if mod not in sys.modules:
        # Its file exists and was analysed, but no code runs from it yet.
        state["status"] = "not_imported"
        state["note"] = "not imported yet: its functions are read from the file"
    return state


def state_after(state: ModuleState, event: ModuleEvent, fetch: Fetch) -> ModuleState:
    """The state once ``event`` (about this module) has happened; ``state`` is not changed.

    ``recompiled`` with ``functions`` takes the list from the payload; a bare payload (the
    module was re-executed for a dependency) calls ``fetch``. Each ``recompiled`` replaces
    the change set, mode and reason with its own (so removed functions stay listed until
    the next reload). ``compile_failed`` keeps the old list and the last change set, since
    the old code keeps running. ``source_removed`` empties it.
    """
    new = state.copy()
    if event.path:
        new["path"] = event.path
    if event.kind == "recompiled":
        payload = event.payload or {}
        functions = payload.get("functions")
        new.update(
            {
                "status": "ok",
                "error": None,
                "recompiled_at": event.at,
                "recompiles": state["recompiles"] + 1,
                "source_hash": payload.get("source_hash"),
                "replaced": list(payload.get("replaced") or []),
                "note": "",
            }
        )
        _take_update_fields(new, payload)
        if functions is not None:
            new["functions"] = list(functions)
        else:
            after = (_reason(payload) or {}).get("after")
            new["note"] = (
                f"re-executed because {after}, a module it depends on, changed"
                if after
                else "re-executed because a module it depends on changed"
            )
            try:
                new["functions"] = list(fetch(event.mod or state["mod"]))
            except Exception as exc:
                # The module ran fine; only the listing is stale. Keep the old one, say so.
                log.warning(
                    "could not analyse %s after its reload: %s", state["mod"], exc, exc_info=True
                )
                new["note"] = f"function list may be stale: {exc}"
    elif event.kind == "compile_failed":
        new.update(
            {
                "status": "failed",
                "error": dict(event.error)
                if event.error
                else {"type": "Error", "message": "failed"},
                "note": "the previous code keeps running",
            }
        )
    elif event.kind == "source_removed":
        new.update(
            {
                "status": "gone",
                "functions": [],
                "error": None,
                "source_hash": None,
                "replaced": [],
                "note": "the module was removed",
            }
        )
        _take_update_fields(new, {})
    return new


def event_entry(event: ModuleEvent) -> dict[str, Any]:
    """A compact JSON line for the event log: the event without the function list.

    The log re-sends its whole list on every event, so it carries a count, not the entries.
    """
    payload = event.payload  # plain JSON, with a Payload's keys
    summary: dict[str, Any] | None = None
    if payload is not None:
        reason = _reason(payload) or {}
        functions = payload.get("functions")
        summary = {
            "functions": None if functions is None else len(functions),
            "source_hash": payload.get("source_hash"),
            "replaced": list(payload.get("replaced") or []),
            "elapsed_ms": payload.get("elapsed_ms"),
            "own_ms": own_time_ms(payload),
            "after": reason.get("after"),
            "label": reason.get("label"),
            "mode_label": mode_label(payload),
        }
    return {
        "kind": event.kind,
        "mod": event.mod,
        "path": event.path,
        "at": event.at,
        "error": dict(event.error) if event.error else None,
        "summary": summary,
    }


def project_modules(roots: Iterable[Path]) -> list[str]:
    """Names of the loaded modules whose file lies under one of ``roots``, sorted."""
    resolved = [Path(r).resolve() for r in roots]
    names: list[str] = []
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if name == "__main__" or not isinstance(file, str) or not file.endswith(".py"):
            continue
        try:
            path = Path(file).resolve()
        except (OSError, RuntimeError):
            continue
        for root in resolved:
            # A root that holds a virtualenv (a home directory, say) must not list the
            # installed packages as the project.
            if is_within(path, root) and not in_skipped_dir(path, root):
                names.append(name)
                break
    return sorted(names)


# -- the cluster (SPEC 2.4): one entry per worker, from worker_recompiled / worker_failed ----

WORKER_KINDS = ("worker_recompiled", "worker_failed")


def cluster_after(cluster: dict[str, Any], event: ModuleEvent) -> dict[str, Any]:
    """The cluster as the project panel shows it once ``event`` happened (a new dict):
    ``{"workers": {address: {"state", "error", "at"}}, "current": n, "failed": m}``."""
    source = event.payload if event.kind == "worker_recompiled" else event.error
    worker = (source or {}).get("worker")
    if event.kind not in WORKER_KINDS or not isinstance(worker, str):
        return cluster
    workers = dict(cluster.get("workers") or {})
    if event.kind == "worker_recompiled":
        workers[worker] = {"state": "current", "error": None, "at": event.at}
    else:
        workers[worker] = {"state": "failed", "error": dict(event.error or {}), "at": event.at}
    states = [w["state"] for w in workers.values()]
    return {
        "workers": workers,
        "current": states.count("current"),
        "failed": states.count("failed"),
    }
