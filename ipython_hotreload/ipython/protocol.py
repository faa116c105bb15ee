"""The comm protocol, version 1: message shapes and request validation.

A frontend opens a comm to :data:`TARGET_NAME`; the kernel answers with a
:class:`HelloMessage`. Every :data:`Request` gets exactly one reply (:class:`ReplyOk` or
:class:`ReplyError`) carrying the request's ``id``; every module event is pushed to every open
comm as an :class:`EventMessage`. Shapes are ``TypedDict``\\ s told apart by their ``type``
(kernel to frontend) or ``op`` (frontend to kernel) field.

This module is pure: no kernel, comm or IPython imports, so a client can share it.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from ipython_hotreload.core.results import EDGE_LABELS
from ipython_hotreload.errors import BadRequest

__all__ = [
    "EDGE_LABELS",
    "MAX_CONTENT_BYTES",
    "MAX_PATH_CHARS",
    "OPS",
    "PROTOCOL_VERSION",
    "TARGET_NAME",
    "EdgesRequest",
    "ErrorInfo",
    "EventMessage",
    "FunctionsRequest",
    "HelloMessage",
    "HistoryRequest",
    "KernelMessage",
    "PurgeRequest",
    "ReloadDefinitionRequest",
    "ReloadRequest",
    "Reply",
    "ReplyError",
    "ReplyOk",
    "Request",
    "SourceRequest",
    "UndoRequest",
    "error_reply",
    "ok_reply",
    "parse_request",
]

PROTOCOL_VERSION = 1
TARGET_NAME = "ipython_hotreload"
#: The ops this kernel serves, as the hello lists them (a client checks it: new ops keep
#: protocol 1).
OPS = ("edges", "functions", "history", "purge", "reload", "reload_definition", "source", "undo")
# A module's source is never legitimately this large; refusing it keeps a runaway client from
# making the kernel format and compile megabytes of text.
MAX_CONTENT_BYTES = 10 * 1024 * 1024
MAX_PATH_CHARS = 4096


# -- kernel -> frontend -------------------------------------------------------------------


class HelloMessage(TypedDict):
    """Sent once, right after a comm is opened."""

    type: Literal["hello"]
    protocol: int
    ops: list[str]


class ErrorInfo(TypedDict):
    """Why a request failed. Extra keys (``mod``, ``path``, ``lineno``, ...) may follow."""

    type: str
    message: str


class ReplyOk(TypedDict):
    """The one answer to a request that succeeded."""

    type: Literal["reply"]
    id: Any
    ok: Literal[True]
    result: Any


class ReplyError(TypedDict):
    """The one answer to a request that failed, or to a message that is not a request."""

    type: Literal["reply"]
    id: Any
    ok: Literal[False]
    error: ErrorInfo


class EventMessage(TypedDict):
    """A :class:`~ipython_hotreload.ModuleEvent`, as ``ModuleEvent.to_json()``."""

    type: Literal["event"]
    event: dict[str, Any]


Reply = ReplyOk | ReplyError
KernelMessage = HelloMessage | ReplyOk | ReplyError | EventMessage


# -- frontend -> kernel -------------------------------------------------------------------


class ReloadRequest(TypedDict):
    """Write ``content`` to ``path`` (relative to the kernel's working directory) and reload."""

    id: Any
    op: Literal["reload"]
    path: str
    content: str
    format: NotRequired[bool]


class PurgeRequest(TypedDict):
    """Drop module ``mod``."""

    id: Any
    op: Literal["purge"]
    mod: str


class EdgesRequest(TypedDict):
    """The dependency edges, optionally only those with the given labels."""

    id: Any
    op: Literal["edges"]
    labels: NotRequired[list[str] | None]


class FunctionsRequest(TypedDict):
    """The functions of module ``mod``, as in a saved module's payload."""

    id: Any
    op: Literal["functions"]
    mod: str


class SourceRequest(TypedDict):
    """The current source of one definition (``hr.source_of``)."""

    id: Any
    op: Literal["source"]
    target: str


class ReloadDefinitionRequest(TypedDict):
    """Replace (or add) one definition and reload its file (``hr.reload_definition``)."""

    id: Any
    op: Literal["reload_definition"]
    target: str
    content: str
    format: NotRequired[bool]
    expected_hash: NotRequired[str]  # the source_hash the editor opened (SPEC 1.6)


class HistoryRequest(TypedDict):
    """The reloads so far, newest first (``hr.history``)."""

    id: Any
    op: Literal["history"]


class UndoRequest(TypedDict):
    """Revert the last ``steps`` reloads (``hr.undo``)."""

    id: Any
    op: Literal["undo"]
    steps: NotRequired[int]
    force: NotRequired[bool]


Request = (
    ReloadRequest
    | PurgeRequest
    | EdgesRequest
    | FunctionsRequest
    | SourceRequest
    | ReloadDefinitionRequest
    | HistoryRequest
    | UndoRequest
)


def ok_reply(request_id: Any, result: Any) -> ReplyOk:
    """The reply to a request that succeeded."""
    return {"type": "reply", "id": request_id, "ok": True, "result": result}


def error_reply(request_id: Any, error_type: str, message: str, **extra: Any) -> ReplyError:
    """The reply to a request that failed; ``extra`` keys go into ``error``."""
    error: ErrorInfo = {"type": error_type, "message": message}
    error.update(extra)  # type: ignore[typeddict-item]
    return {"type": "reply", "id": request_id, "ok": False, "error": error}


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _text(data: dict[str, Any], key: str, request_id: Any, *, limit: int) -> str:
    """``data[key]`` as a non-empty str of valid UTF-8 text, at most ``limit`` bytes."""
    if key not in data:
        raise BadRequest(request_id, f"missing field {key!r}")
    value = data[key]
    if not isinstance(value, str):
        raise BadRequest(request_id, f"field {key!r} must be a string, not {_kind(value)}")
    # len() counts characters, never more than the UTF-8 bytes: a cheap first cut.
    if len(value) > limit:
        raise BadRequest(request_id, f"field {key!r} is longer than the limit of {limit} bytes")
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError as exc:
        # JSON may carry lone surrogates ("\ud800"), which no file can hold as UTF-8.
        raise BadRequest(
            request_id, f"field {key!r} is not valid UTF-8 text (at character {exc.start})"
        ) from None
    if len(encoded) > limit:
        raise BadRequest(request_id, f"field {key!r} is longer than the limit of {limit} bytes")
    return value


def _module_name(data: dict[str, Any], request_id: Any) -> str:
    mod = _text(data, "mod", request_id, limit=MAX_PATH_CHARS)
    if not all(part.isidentifier() for part in mod.split(".")):
        raise BadRequest(request_id, f"field 'mod' must be a dotted module name, not {mod!r}")
    return mod


def _flag(data: dict[str, Any], key: str, request_id: Any) -> bool:
    value = data[key]
    if not isinstance(value, bool):
        raise BadRequest(request_id, f"field {key!r} must be true or false, not {value!r}")
    return value


def _target(data: dict[str, Any], request_id: Any) -> str:
    target = _text(data, "target", request_id, limit=MAX_PATH_CHARS)
    if not target.strip():
        raise BadRequest(request_id, "field 'target' is empty")
    return target


def parse_request(data: object) -> Request:
    """Check that ``data`` (a comm message's ``data``) is a valid request and return it as
    one; raise :class:`BadRequest` saying what is wrong otherwise."""
    if not isinstance(data, dict):
        raise BadRequest(None, f"a request must be a JSON object, not {_kind(data)}")
    request_id = data.get("id")
    if "id" not in data:
        raise BadRequest(None, "missing field 'id'")
    op = data.get("op")
    if not isinstance(op, str) or op not in OPS:
        shown = repr(op) if isinstance(op, str) else _kind(op)
        raise BadRequest(request_id, f"unknown op {shown}; known ops: {', '.join(OPS)}")
    if op == "reload":
        path = _text(data, "path", request_id, limit=MAX_PATH_CHARS)
        if not path.strip():
            raise BadRequest(request_id, "field 'path' is empty")
        content = _text(data, "content", request_id, limit=MAX_CONTENT_BYTES)
        reload: ReloadRequest = {"id": request_id, "op": "reload", "path": path, "content": content}
        if "format" in data:
            reload["format"] = _flag(data, "format", request_id)
        return reload
    if op == "source":
        return {"id": request_id, "op": "source", "target": _target(data, request_id)}
    if op == "reload_definition":
        definition: ReloadDefinitionRequest = {
            "id": request_id,
            "op": "reload_definition",
            "target": _target(data, request_id),
            "content": _text(data, "content", request_id, limit=MAX_CONTENT_BYTES),
        }
        if "format" in data:
            definition["format"] = _flag(data, "format", request_id)
        if data.get("expected_hash") is not None:
            definition["expected_hash"] = _text(data, "expected_hash", request_id, limit=128)
        return definition
    if op == "history":
        return {"id": request_id, "op": "history"}
    if op == "undo":
        undo: UndoRequest = {"id": request_id, "op": "undo"}
        if "steps" in data:
            steps = data["steps"]
            if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
                raise BadRequest(
                    request_id, f"field 'steps' must be a positive integer, not {steps!r}"
                )
            undo["steps"] = steps
        if "force" in data:
            undo["force"] = _flag(data, "force", request_id)
        return undo
    if op == "purge":
        return {"id": request_id, "op": "purge", "mod": _module_name(data, request_id)}
    if op == "functions":
        return {"id": request_id, "op": "functions", "mod": _module_name(data, request_id)}
    labels = data.get("labels")
    if labels is not None:
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise BadRequest(request_id, "field 'labels' must be a list of strings")
        unknown = sorted(set(labels) - set(EDGE_LABELS))
        if unknown:
            raise BadRequest(
                request_id, f"unknown labels {unknown}; known labels: {', '.join(EDGE_LABELS)}"
            )
    return {"id": request_id, "op": "edges", "labels": labels}
