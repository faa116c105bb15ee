"""Analyse the loaded project files in another process, ahead of their first reload.

A reload's payload lists every function of the saved module; astroid analyses each
definition whose text it has not seen, about half a millisecond each, so the first reload of
a file pays for all of its definitions and later ones only for what changed. A
:class:`Prefetch` started at warm-up sends the files' paths to a child process (at a lower
priority, on another CPU when there is one) that analyses them and answers one JSON line per
file; a thread here takes each answer into the per-file cache (``analysis.seed_file``) unless
the file was analysed here meanwhile. The kernel's own thread never runs astroid for it, and
an answer about a file that changed since only misses (the cache is by definition text).

``python -m ipython_hotreload.core.report.prefetch`` is the child: paths on stdin, one a line.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ipython_hotreload.core.report.analysis import definition_entries, seed_file

__all__ = ["Prefetch"]

log = logging.getLogger(__name__)

_PACKAGE_PARENT = str(Path(__file__).resolve().parents[3])


class Prefetch:
    """One child process analysing ``paths`` and a thread seeding the cache with its answers."""

    def __init__(self, paths: Iterable[Path]) -> None:
        self.seeded = 0
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
        self._paths = [str(p) for p in paths]
        self._thread = threading.Thread(target=self._run, name="hotreload-prefetch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        proc = self._proc
        try:
            if proc is None or proc.stdin is None or proc.stdout is None:
                return
            proc.stdin.write("".join(f"{p}\n" for p in self._paths))
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
        path = line.rstrip("\n")
        try:
            text = Path(path).read_bytes().decode("utf-8")
            defs = definition_entries(text)
        except (OSError, UnicodeDecodeError, RecursionError, MemoryError):
            continue  # the reload reads and analyses it itself
        answer = {"path": path, "defs": {d.hex(): list(e) for d, e in defs.items()}}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    _child()
