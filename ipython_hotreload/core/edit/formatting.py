"""Formatters behind one small interface: ``format_source(text, path) -> text``.

A formatter that fails (the code does not parse, the tool is missing, it crashes or hangs)
never loses the user's text: :func:`apply_formatter` returns the input unchanged and says why.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

__all__ = [
    "FormatFn",
    "FormatterSpec",
    "apply_formatter",
    "describe_formatter",
    "resolve_formatter",
]

log = logging.getLogger(__name__)

FormatFn = Callable[[str, Path], str]
FormatterSpec = str | Callable[[str], str] | None

#: Seconds a formatter may run before its output is given up on.
FORMAT_TIMEOUT = 10.0


@lru_cache(maxsize=1)
def _ruff_binary() -> str | None:
    try:
        from ruff.__main__ import find_ruff_bin

        return str(find_ruff_bin())
    except (ImportError, FileNotFoundError):
        pass
    candidate = Path(sys.executable).with_name("ruff")
    return str(candidate) if candidate.exists() else None


def _ruff(text: str, path: Path) -> str:
    binary = _ruff_binary()
    if binary is None:
        raise FileNotFoundError("ruff is not installed")
    proc = subprocess.run(
        [binary, "format", "--quiet", "--stdin-filename", str(path), "-"],
        input=text.encode("utf-8"),
        capture_output=True,
        timeout=FORMAT_TIMEOUT,
        cwd=path.parent if path.parent.is_dir() else None,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )
    if proc.returncode != 0:
        raise ValueError(proc.stderr.decode("utf-8", "replace").strip() or "ruff format failed")
    return proc.stdout.decode("utf-8")


def _black(text: str, path: Path) -> str:
    import black  # type: ignore[import-not-found,unused-ignore]

    try:
        mode = black.Mode(is_pyi=path.suffix == ".pyi")
        return str(black.format_str(text, mode=mode))
    except black.report.NothingChanged:
        return text


def resolve_formatter(spec: FormatterSpec) -> FormatFn | None:
    """Turn ``"ruff"``, ``"black"``, ``None`` or a ``str -> str`` callable into a format function."""
    if spec is None:
        return None
    if isinstance(spec, str):
        name = spec.strip().lower()
        if name in ("", "none", "off"):
            return None
        if name == "ruff":
            return _ruff
        if name == "black":
            return _with_time_limit(_black)
        raise ValueError(f"unknown formatter {spec!r}: use 'ruff', 'black', None or a callable")
    if callable(spec):
        user = spec
        return _with_time_limit(lambda text, _path: user(text))
    raise TypeError(
        f"formatter must be 'ruff', 'black', None or a callable, not {type(spec).__name__}"
    )


def _with_time_limit(fn: FormatFn) -> FormatFn:
    """Run an in-process formatter in a daemon thread and give up after FORMAT_TIMEOUT: a
    hung formatter must not hold every later reload (they share one lock)."""

    def run(text: str, path: Path) -> str:
        result: list[str] = []
        failure: list[BaseException] = []

        def target() -> None:
            try:
                result.append(fn(text, path))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                failure.append(exc)

        worker = threading.Thread(target=target, name="hotreload-formatter", daemon=True)
        worker.start()
        worker.join(FORMAT_TIMEOUT)
        if worker.is_alive():
            raise subprocess.TimeoutExpired("formatter", FORMAT_TIMEOUT)
        if failure:
            raise failure[0]
        return result[0]

    return run


def describe_formatter(spec: FormatterSpec) -> str | None:
    """A short JSON-friendly description of the formatter, for status displays."""
    if spec is None or isinstance(spec, str):
        return spec
    return getattr(spec, "__qualname__", type(spec).__name__)


def apply_formatter(fn: FormatFn | None, text: str, path: Path) -> tuple[str, str | None]:
    """Format ``text``; on any failure return it unchanged with the reason (never raises,
    except for ``KeyboardInterrupt``, which the caller treats as an interrupted save)."""
    if fn is None:
        return text, None
    try:
        out = fn(text, path)
    except subprocess.TimeoutExpired:
        return text, f"the formatter took longer than {FORMAT_TIMEOUT:g}s; saved unformatted"
    except Exception as exc:  # noqa: BLE001 - any formatter bug must not lose the user's text
        log.info("formatter failed on %s: %s", path, exc)
        return text, f"formatter failed ({type(exc).__name__}: {exc}); saved unformatted"
    if not isinstance(out, str):
        return text, "the formatter did not return text; saved unformatted"
    return out, None
