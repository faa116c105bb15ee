"""The files of a project, for the module graph: finding them under the roots, naming them
as modules, reading and scanning them, and the on-disk cache of their import records.

Nothing here knows about edges: a :class:`FileEntry` holds what one file says (its import
records, or why it could not be read), which depends on that file alone, so it can be cached
per file, keyed by path, ``mtime_ns`` and size.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import logging
import marshal
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from ipython_hotreload.core.graph.importscan import ImportRecord, records_of
from ipython_hotreload.core.graph.treescan import (
    SCAN_ERRORS,
    RawRecord,
    error_text,
    read_bytes,
    scan_file,
    scan_records,
)
from ipython_hotreload.core.paths import SKIP_DIRS

__all__ = [
    "FileEntry",
    "Namer",
    "cache_file",
    "default_cache_dir",
    "discover",
    "load_cache",
    "read_bytes",
    "save_cache",
]

log = logging.getLogger(__name__)

# Bump when the records or the cache layout change, so old caches are ignored.
_CACHE_VERSION = 1
_CACHE_FILES_KEPT = 32

#: path -> (module name, mtime_ns, size), as found by :func:`discover`.
Found = dict[str, tuple[str, int, int]]


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/ipython_hotreload`` or ``~/.cache/ipython_hotreload``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ipython_hotreload"


class FileEntry:
    """What is known about one file: its stat when scanned, its import records, the error
    that kept its current text from being scanned, and the module it is."""

    __slots__ = ("error", "is_package", "module", "mtime_ns", "records", "size")

    def __init__(
        self, mtime_ns: int, size: int, records: list[ImportRecord], error: str | None
    ) -> None:
        self.mtime_ns = mtime_ns
        self.size = size
        self.records = records
        self.error = error
        self.module: str | None = None
        self.is_package = False

    def scan(self, path: str, source: bytes | str | None, tree: ast.Module | None = None) -> bool:
        """Parse (unless ``tree`` is given) and scan the file: ``source`` (bytes, or text),
        else its bytes on disk; on failure keep the old records and set :attr:`error`.
        Returns whether the records changed."""
        if tree is None:
            return self.take(*scan_file(path, source, self.size))
        if isinstance(source, str):
            source = source.encode("utf-8", "surrogatepass")
        elif source is None:
            try:
                source = read_bytes(path, self.size)
            except OSError:
                source = None  # then every function body is walked for imports
        try:
            return self.take(scan_records(tree, source), None)
        except SCAN_ERRORS as exc:
            return self.take(None, error_text(exc))

    def take(self, records: list[RawRecord] | None, error: str | None) -> bool:
        """Keep what a scan found: its records, else (``records`` None) the ``error`` and the
        old records. Returns whether the records changed."""
        self.error = error if records is None else None
        if records is None:
            return False
        new = records_of(records)
        if new == self.records:
            return False
        self.records = new
        return True


class Namer:
    """Module names for every file of a directory at once, equal to
    :func:`~ipython_hotreload.core.paths.module_name_for` (sys.path first, then the roots)
    but without per-file path maths."""

    def __init__(self, search: Sequence[Path], roots: Sequence[Path]) -> None:
        self._groups = [
            sorted({str(p) for p in group}, key=len, reverse=True) for group in (search, roots)
        ]
        self._bases: dict[str, list[list[tuple[str, ...]]]] = {}

    def _dir_bases(self, d: str) -> list[list[tuple[str, ...]]]:
        bases = self._bases.get(d)
        if bases is None:
            bases = []
            for group in self._groups:
                found: list[tuple[str, ...]] = []
                for entry in group:  # deepest first: the longest entry wins
                    prefix = entry if entry.endswith(os.sep) else entry + os.sep
                    if d == entry:
                        found.append(())
                    elif d.startswith(prefix):
                        rel = tuple(d[len(prefix) :].split(os.sep))
                        if all(p.isidentifier() for p in rel):
                            found.append(rel)
                bases.append(found)
            self._bases[d] = bases
        return bases

    def name(self, directory: str, stem: str) -> str | None:
        """The module name of ``directory/stem.py``."""
        if stem != "__init__" and not stem.isidentifier():
            return None
        for found in self._dir_bases(directory):
            for rel in found:
                parts = rel if stem == "__init__" else (*rel, stem)
                if parts:
                    return ".".join(parts)
        return None


def discover(roots: Iterable[str], namer: Namer) -> Found:
    """The Python files under ``roots`` that have a module name, skipping hidden, cache,
    vendor and virtual-environment directories."""
    seen: Found = {}
    for root in roots:
        stack = [root]
        while stack:
            directory = stack.pop()
            try:
                with os.scandir(directory) as it:
                    entries = list(it)
            except OSError:
                continue
            if directory != root and any(e.name == "pyvenv.cfg" for e in entries):
                continue  # a virtual environment: other people's code
            for e in entries:
                name = e.name
                if name[0] == ".":
                    continue
                try:
                    if e.is_dir(follow_symlinks=False):
                        if name not in SKIP_DIRS:
                            stack.append(e.path)
                    elif name.endswith(".py") and e.path not in seen and e.is_file():
                        module = namer.name(directory, name[:-3])
                        if module is not None:
                            st = e.stat()
                            seen[e.path] = (module, st.st_mtime_ns, st.st_size)
                except OSError:
                    continue
    return seen


# -- the on-disk cache -------------------------------------------------------------------------

E = TypeVar("E", bound=FileEntry)


def cache_file(cache_dir: Path | None, roots: Iterable[Path]) -> Path:
    """The cache file of one set of roots (in ``cache_dir``, else the default one)."""
    key = "\0".join(sorted(str(r) for r in roots)).encode()
    name = f"graph-{hashlib.blake2b(key, digest_size=8).hexdigest()}.marshal"
    return (cache_dir or default_cache_dir()) / name


def _stamp() -> tuple[int, int, int]:
    return (_CACHE_VERSION, *sys.version_info[:2])


def load_cache(
    path: Path, make: Callable[[int, int, list[ImportRecord], str | None], E]
) -> dict[str, E]:
    """The entries saved in ``path`` (made by ``make``), or none when it is missing, from
    another version, or unreadable (then logged)."""
    try:
        data = marshal.loads(path.read_bytes())
        if data[0] != _stamp():
            return {}
        return {
            key: make(mtime_ns, size, [ImportRecord(*r) for r in records], error)
            for key, (mtime_ns, size, records, error) in data[1].items()
        }
    except FileNotFoundError:
        return {}
    except (OSError, EOFError, ValueError, TypeError, IndexError, KeyError) as exc:
        log.warning("ignoring the unreadable graph cache %s: %s", path, exc)
        return {}


def save_cache(path: Path, files: Mapping[str, FileEntry]) -> bool:
    """Write the entries to ``path`` atomically and prune old cache files beside it; returns
    whether it was written (a failure is logged)."""
    data = {
        k: (f.mtime_ns, f.size, [tuple(r) for r in f.records], f.error) for k, f in files.items()
    }
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".graph-", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(marshal.dumps((_stamp(), data)))
        os.replace(tmp, path)
        tmp = None
        _prune_cache_dir(path.parent)
        return True
    except OSError as exc:
        log.warning("could not save the graph cache %s: %s", path, exc)
        return False
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _prune_cache_dir(directory: Path, keep: int = _CACHE_FILES_KEPT) -> None:
    """One cache file per root set adds up (every temporary project makes one): keep the
    ``keep`` most recently written."""
    caches = list(directory.glob("graph-*.marshal"))
    if len(caches) <= keep:
        return
    dated: list[tuple[int, Path]] = []
    for c in caches:
        with contextlib.suppress(OSError):
            dated.append((c.stat().st_mtime_ns, c))
    for _, old in sorted(dated, reverse=True)[keep:]:
        with contextlib.suppress(OSError):
            old.unlink()
