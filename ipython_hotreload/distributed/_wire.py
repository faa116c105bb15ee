"""What travels from the kernel to the workers: one batch per reload, and the catch-up log.

A file is named by the directory it is imported from in the kernel (an index into
``bases``, the kernel's ``sys.path`` entries that hold shipped files) and its path relative
to it, so a worker that does not share the kernel's file system can lay the same tree out
under its own directory and import it under the same module name. Everything here is plain
data (the message crosses the scheduler pickled); :func:`checked_batch` is what a worker runs
before it trusts any of it.
"""

from __future__ import annotations

import hashlib
from pathlib import PurePosixPath
from typing import Literal, TypedDict

from ipython_hotreload.errors import HotReloadError, UnsafePathError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "METADATA_KEY",
    "PLUGIN_NAME",
    "Batch",
    "FileEntry",
    "Filesystem",
    "batch_bytes",
    "checked_batch",
    "digest",
]

#: The worker plugin's name on the scheduler (one attachment per cluster).
PLUGIN_NAME = "ipython_hotreload"
#: Where the catch-up log lives in the scheduler's metadata store.
METADATA_KEY = "ipython_hotreload"
#: The largest batch (sum of the files' bytes) the kernel ships and a worker accepts.
DEFAULT_MAX_BYTES = 16 * 1024 * 1024

#: "auto": a worker writes nothing where it already sees the kernel's new bytes, and uses its
#: own directory elsewhere; "shared" / "private" force one of the two.
Filesystem = Literal["auto", "shared", "private"]


class FileEntry(TypedDict):
    """One file's new text (``data`` None: deleted), and the batch that last changed it."""

    key: str
    base: int
    rel: str
    mod: str
    data: bytes | None
    sha256: str | None
    seq: int


class Batch(TypedDict):
    """A committed reload of the kernel (or, with ``catch_up``, the whole log since attaching)."""

    token: str
    seq: int
    files: list[FileEntry]
    purged: list[str]
    bases: list[str]
    roots: list[str]
    reexecute: str
    filesystem: Filesystem
    max_bytes: int
    drain: float
    catch_up: bool
    origin: tuple[str, int]  # (host, pid) of the kernel


def digest(data: bytes) -> str:
    """The sha256 hex of ``data`` (what the kernel's payloads call ``source_hash``)."""
    return hashlib.sha256(data).hexdigest()


def batch_bytes(files: list[FileEntry]) -> int:
    """How many bytes of source text a batch carries."""
    return sum(len(f["data"] or b"") for f in files)


def _checked_rel(rel: object) -> str:
    if not isinstance(rel, str) or not rel or "\x00" in rel or "\\" in rel:
        raise UnsafePathError(repr(rel), "a shipped path must be a relative POSIX path")
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts or pure.suffix != ".py":
        raise UnsafePathError(rel, "a shipped path must be a relative .py path with no '..'")
    return rel


def checked_batch(raw: object, max_bytes: int) -> Batch:
    """``raw`` as a :class:`Batch`, or :class:`HotReloadError` saying what is wrong with it.
    Paths are only checked for shape here; where they land is checked on the worker."""
    if not isinstance(raw, dict):
        raise HotReloadError(f"a hot-reload batch must be a dict, not {type(raw).__name__}")
    try:
        # The scheduler's metadata store keeps msgpack, which gives lists back as tuples.
        files = [dict(f) for f in raw["files"]] if isinstance(raw["files"], list | tuple) else None
        bases = list(raw["bases"]) if isinstance(raw["bases"], list | tuple) else None
        purged = list(raw["purged"]) if isinstance(raw["purged"], list | tuple) else None
        if files is None or bases is None or purged is None:
            raise TypeError("files, bases and purged must be lists")
        for entry in files:
            _checked_rel(entry["rel"])
            data = entry["data"]
            if data is not None and not isinstance(data, bytes):
                raise TypeError(f"the text of {entry['rel']} must be bytes")
            if data is not None and digest(data) != entry["sha256"]:
                raise TypeError(f"the text of {entry['rel']} does not match its hash")
            if not isinstance(entry["base"], int) or not 0 <= entry["base"] < len(bases):
                raise TypeError(f"{entry['rel']} names no shipped directory")
            if not isinstance(entry["seq"], int) or not isinstance(entry["mod"], str):
                raise TypeError(f"{entry['rel']} has no batch number or module name")
        if not all(isinstance(b, str) for b in bases):
            raise TypeError("bases must be strings")
        if not isinstance(raw["seq"], int) or not all(isinstance(p, str) for p in purged):
            raise TypeError("seq must be an int and purged a list of module names")
    except UnsafePathError:
        raise
    except (KeyError, TypeError) as exc:
        raise HotReloadError(f"malformed hot-reload batch: {exc}") from None
    size = sum(len(f["data"] or b"") for f in files)
    if size > max_bytes:
        raise HotReloadError(
            f"the batch carries {size} bytes, more than this worker accepts ({max_bytes})"
        )
    return {**raw, "files": files, "bases": bases, "purged": purged}  # type: ignore[typeddict-item]
