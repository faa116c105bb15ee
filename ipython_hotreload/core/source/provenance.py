"""Is a module's file still the text it was imported from?

A statement-level update compares the new source with the source the module runs, so that
source must be known exactly (SPEC §1.5). For a module this process imported before the
reloader ran it, the file vouches for itself when:

* it is older than the process (it cannot have changed after the import); or
* its stamp (mtime, size) is the one it had when the import system read it: an audit hook
  (:func:`record_imports`, installed once) notes the stamp of every source file the import
  system opens (or whose cached bytecode it opens) from then on.

Otherwise the module is re-executed whole.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from typing import Any

__all__ = ["PROCESS_STARTED_NS", "import_stamp", "record_imports"]

Stamp = tuple[int, int]

_IMPORT_STAMPS: dict[str, Stamp] = {}  # source file (absolute) -> its stamp when imported
_installed = False
_install_lock = threading.Lock()


def record_imports() -> None:
    """Start noting the stamp of every source file the import system reads (idempotent; an
    audit hook cannot be removed, so it stays for the life of the process)."""
    global _installed
    with _install_lock:
        if not _installed:
            sys.addaudithook(_on_audit)
            _installed = True


def import_stamp(path: str) -> Stamp | None:
    """The stamp ``path`` had when the import system last read it, if noted."""
    return _IMPORT_STAMPS.get(os.path.abspath(path))


#: Times the hook met something it could not read (it must never make an ``open`` fail, so
#: it counts instead of raising or logging: logging could itself open a file).
hook_errors = 0


def _on_audit(event: str, args: tuple[Any, ...]) -> None:
    if event != "open":
        return
    global hook_errors
    try:
        _note_open(args)
    except Exception:  # noqa: BLE001 - an audit hook that raises fails the user's open()
        hook_errors += 1


def _note_open(args: tuple[Any, ...]) -> None:
    path = args[0]
    if not isinstance(path, str):
        return
    if path.endswith(".py"):
        source = path
    elif path.endswith(".pyc") and "__pycache__" in path:
        try:
            source = importlib.util.source_from_cache(path)
        except ValueError:
            return
    else:
        return
    if not _opened_by_import_system():
        return  # another reader's look says nothing about what was imported
    try:
        st = os.stat(source)
    except OSError:
        return
    _IMPORT_STAMPS[os.path.abspath(source)] = (st.st_mtime_ns, st.st_size)


def _opened_by_import_system() -> bool:
    try:
        frame = sys._getframe(3)  # past this function, _note_open and the hook
    except ValueError:  # an open() from C with no Python caller
        return False
    for _ in range(3):
        if frame is None:
            return False
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def _process_started_ns() -> int:
    """When this process started, from /proc (Linux); 0 where that cannot be read, so no
    file is taken as older than the process."""
    try:
        with open("/proc/self/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        ticks = int(fields[19])  # starttime: field 22 of the whole line
        with open("/proc/stat", "rb") as fh:
            boot = next(int(line.split()[1]) for line in fh if line.startswith(b"btime"))
        hz = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return 0
    # One second of margin: btime is in whole seconds.
    return int((boot + ticks / hz - 1) * 1_000_000_000)


#: Files last modified before this instant were imported as they are now.
PROCESS_STARTED_NS = _process_started_ns()
