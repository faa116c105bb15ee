"""What a cell shows: the one-line summary of a reload and the short form of its errors.

A failed ``%%hotreload`` cell must fail (so "Run all" and nbclient stop there) without a
forty-line traceback through the reloader. IPython asks a raised exception for
``_render_traceback_()`` before formatting a traceback itself; :func:`short_traceback` gives the
error one that returns a few lines: ``file:line``, the offending line, a caret, the message.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ipython_hotreload.errors import HotReloadError, ReloadError, UnsafePathError

__all__ = ["describe_mode", "error_lines", "short_traceback", "summary_line", "undo_line"]

_MAX_NAMED = 5


def display_path(path: str | os.PathLike[str]) -> str:
    """``path`` relative to the working directory when it lies below it."""
    p = Path(path)
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        try:
            return str(p.resolve().relative_to(Path.cwd().resolve()))
        except (ValueError, OSError):
            return str(p)


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def describe_mode(payload: Mapping[str, Any]) -> str | None:
    """What ran in a module, in the panel's words (SPEC §1.5's ``mode``): ``patched``
    (with the functions it changed), ``partial: 2 statements``, ``full: <reason>``,
    ``unchanged``; None when the payload has no mode."""
    mode = payload.get("mode")
    if mode == "patched":
        changes = payload.get("changes")
        changed = changes.get("changed") if isinstance(changes, dict) else None
        if isinstance(changed, list) and changed:
            return f"patched: {_names(changed)}"
        return "patched"
    if mode == "partial":
        rerun = payload.get("rerun")
        count = len(rerun) if isinstance(rerun, list) else 0
        return f"partial: {_plural(count, 'statement')}"
    if mode == "full":
        reason = payload.get("full_reason")
        return f"full: {reason}" if reason else "full"
    if mode == "unchanged":
        return "unchanged"
    return None


def _names(names: list[str]) -> str:
    return ", ".join(names[:_MAX_NAMED]) + (", ..." if len(names) > _MAX_NAMED else "")


def summary_line(
    path: Path, result: Mapping[str, Any], elapsed_ms: float, *, formatted_lines: int = 0
) -> str:
    """One line: the saved module and what ran in it, then each dependent that ran and what
    ran in it (the panel's words), what was replaced, the reload's time (the payloads'
    ``elapsed_ms``: writing, formatting, reloading and analysing; ``elapsed_ms`` here only
    when they carry none), the modules still holding a failed edit, whether the formatter
    changed the text beyond blank lines (the cell keeps it as typed, so its line numbers and
    the file's may differ), and any warning."""
    recompiled: list[Mapping[str, Any]] = list(result.get("recompiled", []))
    saved = next((p for p in recompiled if p.get("functions") is not None), None)
    others = [p for p in recompiled if p is not saved and p.get("executed", True)]
    if saved is not None and saved.get("executed", True):
        head = f"reloaded {saved['mod']}"
        mode = describe_mode(saved)
        if mode:
            head += f" ({mode})"
    else:
        # Written and analysed only: __main__, a module on the call stack, a path that is no
        # importable module name. The engine's warnings say which.
        head = f"saved {display_path(path)} (not re-executed)"
    if others:
        shown = [f"{p['mod']} ({describe_mode(p) or 'updated'})" for p in others[:_MAX_NAMED]]
        more = f", and {len(others) - _MAX_NAMED} more" if len(others) > _MAX_NAMED else ""
        head += f"; then {', '.join(shown)}{more}"
    replaced = [q for p in recompiled for q in p.get("replaced") or ()]
    if replaced:
        head += f"; replaced (not patched in place): {_names(replaced)}"
    took = next((p["elapsed_ms"] for p in recompiled if "elapsed_ms" in p), elapsed_ms)
    notes = [_pending(p) for p in result.get("pending") or ()]
    if formatted_lines:
        notes.append(
            f"the formatter changed {_plural(formatted_lines, 'line')} in the file "
            "(the cell keeps your text: line numbers may differ)"
        )
    notes += [w for p in recompiled for w in p.get("warnings") or ()]
    tail = f"; {'; '.join(notes)}" if notes else ""
    return f"hotreload: {head} in {took:.1f} ms{tail}"


def _pending(entry: Mapping[str, Any]) -> str:
    """``shop.prices still has a failed edit (line 2)`` (SPEC §1.8)."""
    where = f"line {entry['lineno']}" if entry.get("lineno") else entry.get("message", "")
    return f"{entry['mod']} still has a failed edit ({where})"


def undo_line(result: Mapping[str, Any], elapsed_ms: float) -> str:
    """One line for ``%hotreload undo``: which entries were undone and what was reloaded."""
    undone = [str(i) for i in result.get("undone", [])]
    head = f"undid {'entries' if len(undone) > 1 else 'entry'} {', '.join(undone)}"
    recompiled: list[dict[str, Any]] = list(result.get("recompiled", []))
    if recompiled:
        mods = ", ".join(p["mod"] for p in recompiled[:_MAX_NAMED])
        more = ", ..." if len(recompiled) > _MAX_NAMED else ""
        head += f": reloaded {mods}{more}"
    else:
        head += ": the files it created were removed"
    return f"hotreload: {head} in {elapsed_ms:.1f} ms (%hotreload undo again redoes it)"


def _caret(line: str, start: int | None, end: int | None) -> str:
    """A caret line under ``line``; columns are 0-based, ``end`` exclusive. Without a usable
    column the carets underline the whole statement."""
    if start is None or not 0 <= start <= len(line):
        start, end = len(line) - len(line.lstrip()), len(line.rstrip())
    if end is None or end > len(line):
        end = start + 1
    # Keep tabs so the caret lines up under tab-indented code.
    pad = "".join(ch if ch == "\t" else " " for ch in line[:start])
    return pad + "^" * max(1, end - start)


def _source_line(path: str | None, lineno: int | None) -> str | None:
    if not path or not lineno:
        return None
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return lines[lineno - 1] if 0 < lineno <= len(lines) else None


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def _location(err: ReloadError) -> tuple[int | None, str | None, int | None, int | None, str]:
    """(lineno, offending line, caret start, caret end, message) of a reload failure."""
    cause = err.__cause__
    if isinstance(cause, SyntaxError):
        lineno = cause.lineno or err.lineno
        text = cause.text.rstrip("\n") if cause.text else _source_line(err.path, lineno)
        start = cause.offset - 1 if cause.offset else None
        end = cause.end_offset - 1 if cause.end_offset and cause.end_lineno == lineno else None
        return lineno, text, start, end, f"{type(cause).__name__}: {cause.msg}"
    message = f"{type(cause).__name__}: {cause}" if cause is not None else err.message
    lineno, text, start, end = err.lineno, None, None, None
    if cause is not None and err.path:
        # The innermost frame in the failing file points at the statement that raised.
        frames = [
            f
            for f in traceback.extract_tb(cause.__traceback__)
            if f.filename and _same_file(f.filename, err.path)
        ]
        if frames:
            frame = frames[-1]
            lineno = frame.lineno or lineno
            if frame.lineno == frame.end_lineno:
                start, end = frame.colno, frame.end_colno
    text = _source_line(err.path, lineno)
    return lineno, text, start, end, message


def error_lines(err: HotReloadError) -> list[str]:
    """The few lines a failed reload shows instead of a traceback."""
    if isinstance(err, UnsafePathError) and "outside" in err.reason:
        # The core does not know the kernel's configuration; say how to allow the place.
        return [
            f"{type(err).__name__}: {err} (in a notebook: "
            '%config HotReload.roots = ["/path/to/project", ...])'
        ]
    if not isinstance(err, ReloadError):
        return [f"{type(err).__name__}: {err}"]
    lineno, text, start, end, message = _location(err)
    where = display_path(err.path) if err.path else (err.mod or "<unknown module>")
    if lineno:
        where = f"{where}:{lineno}"
    lines = [f"{where}: {message}"]
    if text is not None:
        lines.append(f"    {text}")
        lines.append(f"    {_caret(text, start, end)}")
    # All or nothing: whichever module failed, no module was changed.
    lines.append(
        f"{type(err).__name__}: nothing was reloaded; the old code keeps running "
        "and the new text is saved."
    )
    return lines


def short_traceback(err: HotReloadError) -> HotReloadError:
    """Give ``err`` a ``_render_traceback_`` so IPython shows :func:`error_lines` instead of a
    full traceback; returns ``err`` for ``raise short_traceback(err)``."""
    lines = error_lines(err)
    setattr(err, "_render_traceback_", lambda: list(lines))
    return err
