"""What a panel knows about one module, and how an event changes it.

Pure functions over plain dicts (the shape that is synced to the browser), so the rules
("a failure keeps the old function list", "a bare payload means fetch", "a waiting reload
shows until the module's next event") live in one place and are shared by
:class:`FunctionsPanel`, :class:`ProjectOverview` and the process-wide record of last
reloads. No widget imports.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any, Literal, TypedDict

from ipython_hotreload.core.events import ModuleEvent

__all__ = [
    "MODULE_KINDS",
    "ModuleState",
    "ModuleStatus",
    "blank_state",
    "change_set",
    "error_of",
    "event_entry",
    "initial_state",
    "mode_label",
    "own_time_ms",
    "seeded",
    "state_after",
    "without_running_old",
]

log = logging.getLogger(__name__)

ModuleStatus = Literal["ok", "failed", "gone", "missing", "not_imported"]

# The event kinds that change a module's state (the others are the log's and the cluster's).
MODULE_KINDS = ("recompiled", "compile_failed", "source_removed", "reload_waiting")

# A function that returns the SPEC "functions" entries of a module (HotReloader.functions).
Fetch = Callable[[str], list[dict[str, Any]]]


class ModuleState(TypedDict):
    """One module as a panel shows it; every value is JSON."""

    mod: str
    path: str | None
    status: ModuleStatus
    functions: list[dict[str, Any]]
    # The last failure ({"type", "message", "lineno", "offset", "at"}), while it is pending.
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
    # A reload waiting for the running cell (SPEC 2.5): {"reason", "at"}, until the next event.
    waiting: dict[str, Any] | None
    # Functions whose previous code still runs somewhere: [{"qualname", "thread"}].
    running_old: list[dict[str, str]]
    # The module's latest event {"kind", "at", "n"}: a front end clears the banner of the
    # reload before it when this changes (one banner per reload).
    last_event: dict[str, Any] | None


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
        waiting=None,
        running_old=[],
        last_event=None,
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


def error_of(error: dict[str, Any] | None, at: float | None = None) -> dict[str, Any]:
    """A failure as the panels show it: ``{"type", "message", "lineno", "offset", "at"}``,
    the type said once (an execution error's message arrives as ``"ZeroDivisionError:
    division by zero"``, its type already in ``type``)."""
    error = dict(error or {})
    kind = error["type"] if isinstance(error.get("type"), str) else "Error"
    raw = error.get("message")
    message = str(raw) if raw is not None else ""
    if message.startswith(f"{kind}: "):
        message = message[len(kind) + 2 :]
    elif message == kind:
        message = ""
    lineno = error.get("lineno")
    offset = error.get("offset")
    return {
        **error,
        "type": kind,
        "message": message,
        "lineno": lineno if isinstance(lineno, int) else None,
        "offset": offset if isinstance(offset, int) else None,
        "at": at,
    }


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


def _running_old(payload: dict[str, Any]) -> list[dict[str, str]]:
    found = payload.get("running_old")
    if not isinstance(found, list):
        return []
    return [
        {"qualname": entry["qualname"], "thread": entry["thread"]}
        for entry in found
        if isinstance(entry, dict)
        and isinstance(entry.get("qualname"), str)
        and isinstance(entry.get("thread"), str)
    ]


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
        state["error"] = error_of({"type": type(exc).__name__, "message": str(exc)})
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


def _after_recompiled(
    state: ModuleState, new: ModuleState, event: ModuleEvent, fetch: Fetch | None
) -> None:
    payload = event.payload or {}
    functions = payload.get("functions")
    seen = {(e["qualname"], e["thread"]) for e in state["running_old"]}
    running = list(state["running_old"])
    running += [e for e in _running_old(payload) if (e["qualname"], e["thread"]) not in seen]
    new.update(
        {
            "status": "ok",
            "error": None,
            "recompiled_at": event.at,
            "recompiles": state["recompiles"] + 1,
            "source_hash": payload.get("source_hash"),
            "replaced": list(payload.get("replaced") or []),
            "note": "",
            "running_old": running,
        }
    )
    _take_update_fields(new, payload)
    if functions is not None:
        new["functions"] = list(functions)
        return
    after = (_reason(payload) or {}).get("after")
    new["note"] = (
        f"re-executed because {after}, a module it depends on, changed"
        if after
        else "re-executed because a module it depends on changed"
    )
    if fetch is None:
        return  # the record of last reloads keeps no analysis of its own
    try:
        new["functions"] = list(fetch(event.mod or state["mod"]))
    except Exception as exc:
        # The module ran fine; only the listing is stale. Keep the old one, say so.
        log.warning("could not analyse %s after its reload: %s", state["mod"], exc, exc_info=True)
        new["note"] = f"function list may be stale: {exc}"


def state_after(state: ModuleState, event: ModuleEvent, fetch: Fetch | None) -> ModuleState:
    """The state once ``event`` (about this module) has happened; ``state`` is not changed.

    ``recompiled`` with ``functions`` takes the list from the payload; a bare payload (the
    module was re-executed for a dependency) calls ``fetch`` (None: keep the list). Each
    ``recompiled`` replaces the change set, mode and reason with its own (so removed
    functions stay listed until the next reload) and ends a failure (SPEC 1.8: also an
    ``unchanged`` one). ``compile_failed`` keeps the old list and the last change set, since
    the old code keeps running. ``source_removed`` empties it. ``reload_waiting`` shows until
    the module's next event.
    """
    new = state.copy()
    if event.path:
        new["path"] = event.path
    if event.kind in MODULE_KINDS:
        count = (state["last_event"] or {}).get("n", 0)
        new["last_event"] = {"kind": event.kind, "at": event.at, "n": count + 1}
        new["waiting"] = None
    if event.kind == "recompiled":
        _after_recompiled(state, new, event, fetch)
    elif event.kind == "compile_failed":
        new.update(
            {
                "status": "failed",
                "error": error_of(event.error or {"type": "Error", "message": "failed"}, event.at),
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
                "running_old": [],
            }
        )
        _take_update_fields(new, {})
    elif event.kind == "reload_waiting":
        reason = (event.payload or {}).get("reason")
        new["waiting"] = {"reason": str(reason) if reason else "", "at": event.at}
    return new


def without_running_old(
    state: ModuleState, qualname: str | None = None, thread: str | None = None
) -> ModuleState:
    """The state with the "running the old version" marks of ``qualname`` in ``thread``
    taken off (None: any function, any thread); ``state`` is not changed."""
    new = state.copy()
    new["running_old"] = [
        entry
        for entry in state["running_old"]
        if not (
            (qualname is None or entry["qualname"] == qualname)
            and (thread is None or entry["thread"] == thread)
        )
    ]
    return new


# What a record of the module's last reload tells a panel opened later; the function list is
# the panel's own analysis, except while the last reload failed (the file holds the failed
# text then, and the old code, whose list the record kept, is what runs).
_SEEDED_KEYS = (
    "recompiled_at",
    "recompiles",
    "source_hash",
    "replaced",
    "changes",
    "mode",
    "mode_label",
    "full_reason",
    "reason",
    "own_ms",
    "waiting",
    "running_old",
    "last_event",
)


def seeded(state: ModuleState, recorded: ModuleState | None) -> ModuleState:
    """``state`` (a module's analysis now) with what ``recorded`` (the process-wide record of
    its events) knows: its last reload, a failure still pending, a waiting reload."""
    if recorded is None:
        return state
    new = state.copy()
    for key in _SEEDED_KEYS:
        new[key] = recorded[key]  # type: ignore[literal-required]
    if recorded["status"] == "failed":
        new["status"] = "failed"
        new["error"] = recorded["error"]
        new["note"] = recorded["note"]
        if recorded["functions"] or state["status"] == "missing":
            new["functions"] = list(recorded["functions"])
    elif state["status"] != "missing" and recorded["note"]:
        new["note"] = recorded["note"]  # "re-executed because ..."
    return new


def event_entry(event: ModuleEvent) -> dict[str, Any]:
    """A compact JSON line for the event log: the event without the function list.

    The log re-sends its whole list on every event, so it carries a count, not the entries.
    """
    payload = event.payload  # plain JSON, with a Payload's keys
    summary: dict[str, Any] | None = None
    if payload is not None and event.kind == "reload_waiting":
        reason = payload.get("reason")
        summary = {"reason": str(reason) if reason else ""}
    elif payload is not None:
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
            "running_old": _running_old(payload),
        }
    return {
        "kind": event.kind,
        "mod": event.mod,
        "path": event.path,
        "at": event.at,
        "error": error_of(event.error, event.at) if event.error else None,
        "summary": summary,
    }
