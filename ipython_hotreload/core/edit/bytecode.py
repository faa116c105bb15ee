"""Persist compiled modules as checked hash-based ``.pyc`` files (PEP 552), written behind.

A timestamp ``.pyc`` is stale when a file is rewritten within the same second at the same
size, which is exactly what a live editor does; a checked hash ``.pyc`` carries the source's
hash and is validated against it on import, so it can never run stale code.

The file is the PEP 552 layout, built from public parts: the magic number, the flags word
(hash-based, checked), the source hash, then the marshalled code.

SPEC §1.1 step 5 lets the ``.pyc`` (and the whole-module compile it needs) be written after
a reload returns: the process has one :class:`BytecodeWriter`, a daemon thread. A later
reload of the same file supersedes a job still waiting; :func:`flush` finishes the jobs of
some files (before a purge or an undo touches them) or all of them (at interpreter exit);
and a job writes nothing unless the file on disk holds exactly the bytes it was given,
checked just before writing (a later change makes a checked-hash ``.pyc`` that imports
reject, never a stale one).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import logging
import marshal
import os
import threading
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from types import CodeType

from ipython_hotreload.core.paths import open_temporary, read_if_exists

__all__ = ["BytecodeWriter", "checked_hash_pyc", "flush", "remove_pyc", "write_pyc", "writer"]

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


@dataclass(frozen=True)
class _Job:
    data: bytes  # the source bytes the .pyc is for
    filename: str  # the file name its code carries
    flags: int  # its future flags
    code: CodeType | None  # the whole module's code, if the reload compiled it
    after: AbstractContextManager[object] | None  # held while writing (the reload lock)


class BytecodeWriter:
    """The process's background writer of ``.pyc`` files (see the module docstring)."""

    def __init__(self) -> None:
        self._jobs: dict[Path, _Job] = {}  # waiting, oldest first
        self._writing: Path | None = None
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self.written = 0  # jobs that wrote a file (for tests and benchmarks)

    def submit(
        self,
        path: Path,
        data: bytes,
        filename: str,
        flags: int,
        code: CodeType | None,
        *,
        after: AbstractContextManager[object] | None = None,
    ) -> None:
        """Write ``path``'s ``.pyc`` for ``data`` soon (superseding a job still waiting),
        holding ``after`` meanwhile: the reload lock, so the compile and the write wait for
        the reload that asked for them to return instead of taking its time."""
        with self._cond:
            self._jobs.pop(path, None)
            self._jobs[path] = _Job(data, filename, flags, code, after)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="hotreload-bytecode", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def flush(self, paths: Iterable[Path] | None = None, timeout: float | None = 30.0) -> bool:
        """Finish the jobs of ``paths`` (None: all): the waiting ones here, in this thread
        (which may hold the reload lock a job waits for), then wait for the one being
        written, if it is one of them; False on timeout."""
        wanted = None if paths is None else set(paths)
        with self._cond:
            mine = [p for p in self._jobs if wanted is None or p in wanted]
            jobs = [(p, self._jobs.pop(p)) for p in mine]
        for path, job in jobs:
            try:
                with job.after or contextlib.nullcontext():
                    self._write(path, job)
            except BaseException:  # a .pyc is only a cache: a Ctrl-C loses this one
                log.exception("hotreload: writing the bytecode of %s failed", path)
        with self._cond:
            return self._cond.wait_for(
                lambda: (
                    self._writing is None or (wanted is not None and self._writing not in wanted)
                ),
                timeout,
            )

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._jobs))
                gate = next(iter(self._jobs.values())).after
            # The gate (the reload lock) first, then a job: a flush by the thread holding
            # the gate finds every job still waiting, and writes them itself.
            with gate or contextlib.nullcontext():
                with self._cond:
                    if not self._jobs:
                        continue
                    path = next(iter(self._jobs))
                    job = self._jobs.pop(path)
                    self._writing = path
                try:
                    self._write(path, job)
                except BaseException:  # a Ctrl-C or a broken file must not stop the writer
                    log.exception("hotreload: writing the bytecode of %s failed", path)
                finally:
                    with self._cond:
                        self._writing = None
                        self._cond.notify_all()

    def _write(self, path: Path, job: _Job) -> None:
        if read_if_exists(path) != job.data:
            return  # the file changed since: its own reload writes its bytecode
        code = job.code
        if code is None:
            try:
                code = compile(job.data, job.filename, "exec", flags=job.flags, dont_inherit=True)
            except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
                log.info("hotreload: no bytecode saved for %s: %s", path, exc)
                return
        warning = write_pyc(path, job.data, code)  # (which logs a write that failed)
        if warning is None:
            self.written += 1
        else:
            log.info("hotreload: %s", warning)


_writer: BytecodeWriter | None = None
_writer_lock = threading.Lock()


def writer() -> BytecodeWriter:
    """The process's one background writer (made on first use; flushed at exit)."""
    global _writer
    with _writer_lock:
        if _writer is None:
            _writer = BytecodeWriter()
            atexit.register(_writer.flush)
        return _writer


def flush(paths: Iterable[Path] | None = None, timeout: float | None = 30.0) -> bool:
    """Finish the pending ``.pyc`` writes of ``paths`` (None: all); False on timeout."""
    current = _writer
    return True if current is None else current.flush(paths, timeout)
