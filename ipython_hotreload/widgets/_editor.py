"""The panel editor's requests: open a definition, save it, undo the last reload.

The browser sends ``{"type": "request", "id", "op", ...}`` as a widget custom message
(anywidget ``model.send``) and gets exactly one ``{"type": "reply", "id", "ok", ...}`` back
on the same widget, the shapes of the comm channel's replies (SPEC §2.1). Going through the
widget's own messages, not an execute request, keeps the notebook's execution count and
history untouched, and the reply needs no cell output to travel in.

Answering is a pure function of the request and a reloader (:func:`answer`), so the rules
are tested without a browser. The events a save causes reach the panel through the event
stream before the reply, so the panel has re-rendered by the time the reply arrives.
"""

from __future__ import annotations

import ast
import hashlib
import logging
import textwrap
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ipython_hotreload.errors import BadRequest, ConflictError, HotReloadError, ReloadError
from ipython_hotreload.widgets._state import error_of

__all__ = ["EDITOR_OPS", "Editing", "answer", "editor_line"]

log = logging.getLogger(__name__)

EDITOR_OPS = ("source", "reload_definition", "undo", "history")


class Editing(Protocol):
    """The part of a reloader the editor drives (SPEC §1.6 and §1.7)."""

    def source_of(self, target: str) -> dict[str, Any]: ...

    def reload_definition(
        self, target: str, content: str, *, format: bool = True, expected_hash: str | None = None
    ) -> Mapping[str, Any]: ...

    def history(self) -> list[dict[str, Any]]: ...

    def undo(self, steps: int = 1, *, force: bool = False) -> Mapping[str, Any]: ...


def _reply_ok(request_id: object, result: Any) -> dict[str, Any]:
    return {"type": "reply", "id": request_id, "ok": True, "result": result}


def _reply_error(request_id: object, kind: str, message: str, **data: Any) -> dict[str, Any]:
    return {
        "type": "reply",
        "id": request_id,
        "ok": False,
        "error": {"type": kind, "message": message, **data},
    }


def _text(request: dict[str, Any], key: str) -> str:
    value = request.get(key)
    if not isinstance(value, str) or (key == "target" and not value):
        raise BadRequest(None, f"the {request.get('op')!r} request needs a string {key!r}")
    return value


def editor_line(content: str, error_lineno: int | None, definition_start: int | None) -> int | None:
    """The line of the editor's text that an error points at, or None.

    A ``content`` that does not parse has its own line numbers (that is where the user
    typed), and so has one whose definition ends early (a line unindented out of its body
    is the first statement after it); an error raised while the module ran points into the
    file, where the new definition starts at ``definition_start``.
    """
    try:
        tree = ast.parse(textwrap.dedent(content))
    except SyntaxError as exc:
        return exc.lineno
    if len(tree.body) > 1:
        return tree.body[1].lineno
    if error_lineno is None or definition_start is None:
        return None
    line = error_lineno - definition_start + 1
    return line if 1 <= line <= content.count("\n") + 1 else None


def _start_on_disk(reloader: Editing, target: str) -> int | None:
    # After a failed reload the new text is on disk (SPEC 1.1), so the definition's lines
    # there are the ones the error's line number counts in.
    try:
        start = reloader.source_of(target).get("lineno")
    except HotReloadError:
        return None
    return start if isinstance(start, int) else None


def _save(reloader: Editing, request_id: object, request: dict[str, Any]) -> dict[str, Any]:
    target, content = _text(request, "target"), _text(request, "content")
    fmt = request.get("format", True)
    expected = request.get("expected_hash")
    if expected is not None and not isinstance(expected, str):
        raise BadRequest(None, f"'expected_hash' must be a string, not {type(expected).__name__}")
    try:
        result = reloader.reload_definition(
            target, content, format=bool(fmt), expected_hash=expected
        )
    except ConflictError as exc:
        # The hash of the text on disk now: "keep mine" saves over exactly that text.
        current_hash = (
            None if exc.current is None else hashlib.sha256(exc.current.encode()).hexdigest()
        )
        return _reply_error(
            request_id,
            "ConflictError",
            str(exc),
            path=exc.path,
            current=exc.current,
            current_hash=current_hash,
        )
    except HotReloadError as exc:
        lineno = exc.lineno if isinstance(exc, ReloadError) else getattr(exc, "lineno", None)
        start = _start_on_disk(reloader, target) if isinstance(exc, ReloadError) else None
        return _reply_error(
            request_id,
            type(exc).__name__,
            str(exc),
            lineno=lineno if isinstance(lineno, int) else None,
            path=getattr(exc, "path", None),
            editor_line=editor_line(content, lineno if isinstance(lineno, int) else None, start),
            cause=_cause(exc),
        )
    # The text as written (re-indented, maybe formatted), for the editor to show.
    return _reply_ok(request_id, {**result, "source": reloader.source_of(target)})


def _cause(exc: HotReloadError) -> dict[str, str] | None:
    """What failed inside a reload, said once: ``{"type": "ZeroDivisionError", "message":
    "division by zero"}`` (a :class:`ReloadError`'s own text repeats the path and type)."""
    if not isinstance(exc, ReloadError) or exc.__cause__ is None:
        return None
    error = error_of({"type": type(exc.__cause__).__name__, "message": exc.message})
    return {"type": error["type"], "message": error["message"]}


def _perform(reloader: Editing, request_id: object, request: dict[str, Any]) -> dict[str, Any]:
    op = request.get("op")
    if op == "source":
        target = _text(request, "target")
        return _reply_ok(request_id, reloader.source_of(target))
    if op == "reload_definition":
        return _save(reloader, request_id, request)
    if op == "history":
        return _reply_ok(request_id, reloader.history())
    if op == "undo":
        steps, force = request.get("steps", 1), request.get("force", False)
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise BadRequest(None, f"undo takes a positive number of steps, not {steps!r}")
        return _reply_ok(request_id, reloader.undo(steps, force=bool(force)))
    raise BadRequest(None, f"unknown editor op {op!r}; the panel knows {', '.join(EDITOR_OPS)}")


def answer(get_reloader: Callable[[], Editing], request: object) -> dict[str, Any]:
    """Exactly one reply to one editor request; never raises (a bad request is a reply)."""
    if not isinstance(request, dict):
        return _reply_error(None, "BadRequest", "an editor request is a JSON object")
    request_id = request.get("id")
    try:
        return _perform(get_reloader(), request_id, request)
    except BadRequest as exc:
        return _reply_error(request_id, "BadRequest", str(exc))
    except HotReloadError as exc:
        return _reply_error(
            request_id, type(exc).__name__, str(exc), path=getattr(exc, "path", None)
        )
    except KeyboardInterrupt:
        return _reply_error(request_id, "KeyboardInterrupt", "interrupted; nothing changed")
    except Exception as exc:
        # Not the user's mistake: keep the traceback in the log, give the panel one line.
        log.exception("the panel editor's %r request failed", request.get("op"))
        return _reply_error(request_id, type(exc).__name__, str(exc))
