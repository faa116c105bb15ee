"""Persist compiled modules as checked hash-based ``.pyc`` files (PEP 552).

A timestamp ``.pyc`` is stale when a file is rewritten within the same second at the same
size, which is exactly what a live editor does; a checked hash ``.pyc`` carries the source's
hash and is validated against it on import, so it can never run stale code.

The file is the PEP 552 layout, built from public parts: the magic number, the flags word
(hash-based, checked), the source hash, then the marshalled code.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import marshal
import os
from pathlib import Path
from types import CodeType

from ipython_hotreload.core.paths import open_temporary

__all__ = ["checked_hash_pyc", "remove_pyc", "write_pyc"]

log = logging.getLogger(__name__)

# PEP 552's flags word: bit 0 "hash-based", bit 1 "check the source against the hash".
_FLAGS_CHECKED_HASH = 0b11


def checked_hash_pyc(source: bytes, code: CodeType) -> bytes:
    """The bytes of a checked hash-based ``.pyc`` of ``code``, compiled from ``source``."""
    return b"".join(
        (
            importlib.util.MAGIC_NUMBER,
            _FLAGS_CHECKED_HASH.to_bytes(4, "little"),
            importlib.util.source_hash(source),
            marshal.dumps(code),
        )
    )


def write_pyc(source_path: Path, source: bytes, code: CodeType) -> str | None:
    """Write the ``.pyc`` for ``source_path``; return a warning text instead of raising."""
    try:
        target = Path(importlib.util.cache_from_source(str(source_path)))
    except (NotImplementedError, ValueError) as exc:
        return f"no bytecode cache location for {source_path}: {exc}"
    data = checked_hash_pyc(source, code)
    tmp: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = open_temporary(target)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        log.warning("hotreload: could not write %s: %s", target, exc)
        return f"bytecode not saved to {target}: {exc.strerror or exc}"
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return None


def remove_pyc(source_path: Path) -> None:
    """Delete the cached ``.pyc`` of ``source_path`` if there is one."""
    try:
        target = importlib.util.cache_from_source(str(source_path))
        os.unlink(target)
    except FileNotFoundError:
        pass
    except (OSError, NotImplementedError, ValueError) as exc:
        log.info("hotreload: could not remove the bytecode of %s: %s", source_path, exc)
