"""Analyse the loaded project files in another process, ahead of their first reload.

A reload's payload lists every function of the saved module; astroid analyses each
definition whose text it has not seen, about half a millisecond each, so the first reload of
a file pays for all of its definitions and later ones only for what changed. A
:class:`Prefetch` started at warm-up sends the files' paths to a child process (at a lower
priority, on another CPU when there is one) that analyses them and answers one JSON line per
file; a thread here takes each answer into the per-file cache (``analysis.seed_file``) unless
the file was analysed here meanwhile. The kernel's own thread never runs astroid for it, and
an answer about a file that changed since only misses (the cache is by definition text).

The child also reads each file's import-time readings (what a dependent is asked on every
edit of what it imports: :meth:`~..source.running.RunningSources.readings`), which the
thread hands to ``on_readings``: a first reload after a warm-up then parses none of the
dependents it must look at.

``python -m ipython_hotreload.core.report.prefetch`` is the child: ``path<TAB>package`` on
stdin, one a line.
"""

from __future__ import annotations

import ast
import json
import logging
import marshal
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ipython_hotreload.core.report.analysis import definition_entries, seed_file
from ipython_hotreload.core.source.running import digest, pack_readings
from ipython_hotreload.core.source.statements import ModuleIndex

__all__ = ["Prefetch"]

log = logging.getLogger(__name__)

_PACKAGE_PARENT = str(Path(__file__).resolve().parents[3])


class Prefetch:
    """One child process analysing ``files`` (path, package) and a thread seeding the cache
    with its answers (and ``on_readings`` with each file's readings: digest, package,
    packed readings)."""

    def __init__(
        self,
        files: Iterable[tuple[Path, str]],
        on_readings: Callable[[str, str, object], object] | None = None,
    ) -> None:
        self.seeded = 0
        self._on_readings = on_readings
        self.done = threading.Event()
        env = dict(os.environ)
        # The child imports this package from where this process did.
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (_PACKAGE_PARENT, env.get("PYTHONPATH", "")) if p
        )
        self._proc: subprocess.Popen[str] | None = subprocess.Popen(
            [sys.executable, "-m", __name__, str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
            env=env,
        )
        self._files = [(str(p), package) for p, package in files]
        self._thread = threading.Thread(target=self._run, name="hotreload-prefetch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        proc = self._proc
        try:
            if proc is None or proc.stdin is None or proc.stdout is None:
                return
            proc.stdin.write("".join(f"{p}\t{package}\n" for p, package in self._files))
            proc.stdin.close()
            for line in proc.stdout:
                self._take(line)
        except (OSError, ValueError) as exc:  # the child was stopped, or died
            log.debug("hotreload: the analysis prefetch ended early: %s", exc)
        finally:
            self.done.set()

    def _take(self, line: str) -> None:
        try:
            answer: dict[str, Any] = json.loads(line)
            entries = {
                bytes.fromhex(digest): tuple(infos) for digest, infos in answer["defs"].items()
            }
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.debug("hotreload: an unreadable prefetch answer: %s", exc)
            return
        if seed_file(answer["path"], entries):
            self.seeded += 1
        readings = answer.get("readings")
        if readings is not None and self._on_readings is not None:
            try:
                packed = marshal.loads(bytes.fromhex(readings))
            except (ValueError, EOFError, TypeError) as exc:
                log.debug("hotreload: unreadable prefetched readings: %s", exc)
                return
            self._on_readings(answer["digest"], answer["package"], packed)

    def close(self) -> None:
        """Stop the child (if it still runs) and wait for the reading thread."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._thread.join(5)


def _child() -> None:
    """The child: analyse each path read from stdin, answer one JSON line per file."""
    try:
        os.nice(10)  # behind the kernel and whatever else the user runs
    except (AttributeError, OSError):
        pass  # no nice() here (Windows), or not allowed: run at the normal priority
    parent = int(sys.argv[1]) if len(sys.argv) > 1 else None
    for line in sys.stdin:
        if parent is not None and os.getppid() != parent:
            return  # the kernel is gone (killed, restarted): nobody reads the answers
        path, _, package = line.rstrip("\n").partition("\t")
        try:
            data = Path(path).read_bytes()
            text = data.decode("utf-8")
            defs = definition_entries(text)
        except (OSError, UnicodeDecodeError, RecursionError, MemoryError):
            continue  # the reload reads and analyses it itself
        answer: dict[str, Any] = {"path": path, "defs": {d.hex(): list(e) for d, e in defs.items()}}
        try:
            index = ModuleIndex(text, ast.parse(data), package)
            readings = marshal.dumps(pack_readings(index.readings())).hex()
            answer.update(digest=digest(data), package=package, readings=readings)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            pass  # a reload that needs them reads them itself
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    _child()
