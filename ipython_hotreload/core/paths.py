"""Paths: which module a file is, whether a path may be written, and atomic writes."""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import stat
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from ipython_hotreload.errors import SourceWriteError, UnsafePathError

__all__ = [
    "SKIP_DIRS",
    "Stamp",
    "atomic_write",
    "check_path",
    "in_skipped_dir",
    "is_within",
    "module_name_for",
    "read_if_exists",
    "read_source",
    "stamp_of",
    "sys_path_dirs",
]


#: ``(mtime_ns, size)`` of a file, taken with the exact bytes read or written, so a later
#: edit (even one saved while a reload runs) shows as a different stamp.
Stamp = tuple[int, int]


def read_source(path: Path) -> tuple[bytes, Stamp]:
    """A file's bytes and the stamp of exactly those bytes."""
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
        return fh.read(), (st.st_mtime_ns, st.st_size)


def read_if_exists(path: Path) -> bytes | None:
    """A file's bytes, or None when it does not exist or cannot be read."""
    try:
        return path.read_bytes()
    except OSError:
        return None


def stamp_of(path: Path | str) -> Stamp | None:
    """The stamp of a file as it is now, or None when it cannot be stat-ed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


_sys_path_cache: tuple[tuple[object, ...], str, list[Path]] | None = None


def sys_path_dirs() -> list[Path]:
    """The directories on ``sys.path``, resolved ('' is the working directory); cached until
    ``sys.path`` or the working directory changes."""
    global _sys_path_cache
    key, cwd = tuple(sys.path), os.getcwd()
    cached = _sys_path_cache
    if cached is not None and cached[0] == key and cached[1] == cwd:
        return list(cached[2])
    out = _resolve_sys_path()
    _sys_path_cache = (key, cwd, out)
    return list(out)


def _resolve_sys_path() -> list[Path]:
    out: list[Path] = []
    for entry in sys.path:
        if not isinstance(entry, str):
            continue
        try:
            p = Path(entry or os.getcwd()).resolve()
        except (OSError, RuntimeError):
            continue
        if p not in out:
            out.append(p)
    return out


#: Directories that hold other people's code or caches, never project modules (hidden
#: directories, such as a ``.venv``, are skipped too).
SKIP_DIRS = frozenset({"__pycache__", "node_modules", "site-packages", "dist-packages"})


def in_skipped_dir(path: Path, base: Path) -> bool:
    """Does ``path`` lie, below ``base``, in a hidden or :data:`SKIP_DIRS` directory?"""
    try:
        parts = path.relative_to(base).parts[:-1]
    except ValueError:
        return False
    return any(p.startswith(".") or p in SKIP_DIRS for p in parts)


def is_within(path: Path, directory: Path) -> bool:
    """True when ``path`` is ``directory`` or lies below it (both already resolved)."""
    return path == directory or directory in path.parents


def _dotted(parts: Sequence[str]) -> str | None:
    if not parts:
        return None
    *pkgs, last = parts
    if not last.endswith(".py"):
        return None
    stem = last[:-3]
    names = [*pkgs] if stem == "__init__" else [*pkgs, stem]
    if not names or not all(n.isidentifier() for n in names):
        return None
    return ".".join(names)


def module_name_for(path: Path, search: Iterable[Path] | None = None) -> str | None:
    """The dotted module name of ``path`` (resolved) through ``sys.path``; the longest
    matching entry wins. ``pkg/__init__.py`` is ``pkg``. None if no entry covers it."""
    best: tuple[int, str] | None = None
    for entry in sys_path_dirs() if search is None else search:
        if not is_within(path, entry) or path == entry:
            continue
        name = _dotted(path.relative_to(entry).parts)
        depth = len(entry.parts)
        if name is not None and (best is None or depth > best[0]):
            best = (depth, name)
    return best[1] if best else None


def check_path(
    raw: str | os.PathLike[str], allowed: Iterable[Path], base: Path | None = None
) -> Path:
    """Resolve ``raw`` (relative to ``base`` or the working directory) and refuse it unless it
    is a ``.py`` file inside one of ``allowed`` (resolved directories).

    Raises :class:`UnsafePathError`; never touches the file.
    """
    if isinstance(raw, bytes):
        raise UnsafePathError(repr(raw), "paths must be text, not bytes")
    text = os.fspath(raw)
    if not isinstance(text, str):
        raise UnsafePathError(repr(raw), "paths must be text")
    if "\x00" in text:
        raise UnsafePathError(text, "the path contains a NUL byte")
    if not text.strip():
        raise UnsafePathError(text, "the path is empty")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsafePathError(text, "the path is not valid UTF-8") from None
    if not text.endswith(".py"):
        raise UnsafePathError(text, "only .py files can be hot-reloaded")
    p = Path(text)
    if not p.is_absolute():
        p = (base or Path.cwd()) / p
    try:
        resolved = p.resolve(strict=False)
    except (OSError, RuntimeError) as exc:  # symlink loops raise RuntimeError before 3.13
        raise UnsafePathError(text, f"the path cannot be resolved ({exc})") from None
    if not resolved.name.endswith(".py") or resolved.name == ".py":
        raise UnsafePathError(text, "the path resolves to a file that is not a .py module")
    try:
        st = os.stat(resolved)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePathError(text, "the path is a symlink loop") from None
        st = None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise UnsafePathError(text, "the path is a directory")
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePathError(text, "the path is not a regular file")
    elif os.path.islink(resolved):
        raise UnsafePathError(text, "the path is a dangling or looping symlink")
    for directory in allowed:
        if is_within(resolved, directory) and resolved != directory:
            return resolved
    raise UnsafePathError(
        text, "it is outside the project roots and sys.path; add its directory to the roots"
    )


_temporaries = itertools.count()


def open_temporary(path: Path) -> tuple[int, str]:
    """A new file beside ``path`` to write and then rename over it: (its descriptor, its
    name). The name is unique to this process and call, and the file is created exclusively,
    as ``tempfile.mkstemp`` would, without its random names (a third of a reload's write)."""
    while True:
        tmp = os.path.join(path.parent, f".{path.name}.{os.getpid()}.{next(_temporaries)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), tmp
        except FileExistsError:
            continue  # left by a process that had this pid before


def atomic_write(path: Path, data: bytes) -> Stamp:
    """Write ``data`` to ``path`` through a temporary file in the same directory and a rename,
    creating parent directories and keeping the old file's mode; return the (mtime_ns, size)
    of the file written. On failure the old file is untouched and :class:`SourceWriteError`
    is raised with the ``OSError`` as its cause."""
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            mode: int | None = stat.S_IMODE(os.stat(path).st_mode)
        except FileNotFoundError:
            mode = None
        if mode is not None and not os.access(path, os.W_OK) and os.geteuid() != 0:
            raise PermissionError(errno.EACCES, "the file is read-only", str(path))
        if mode is not None and os.geteuid() == 0 and not mode & 0o222:
            # root can write anything; honour the user's read-only bit all the same.
            raise PermissionError(errno.EACCES, "the file is read-only", str(path))
        fd, tmp = open_temporary(path)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if mode is not None:
                os.fchmod(fd, mode)
            else:
                umask = os.umask(0)
                os.umask(umask)
                os.fchmod(fd, 0o666 & ~umask)
            st = os.fstat(fd)  # a rename keeps the inode, and so these
        finally:
            os.close(fd)
        os.replace(tmp, path)
        tmp = None
        return (st.st_mtime_ns, st.st_size)
    except OSError as exc:
        raise SourceWriteError(str(path), _describe(exc)) from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _describe(exc: OSError) -> str:
    hints = {
        errno.ENOSPC: "the disk is full; free some space and save again",
        errno.EDQUOT: "the disk quota is exceeded; free some space and save again",
        errno.EACCES: "permission denied; check the file and its directory are writable",
        errno.EPERM: "permission denied; check the file and its directory are writable",
        errno.EROFS: "the file system is read-only",
        errno.ENOENT: "the directory disappeared while saving; save again",
    }
    reason = hints.get(exc.errno or 0, exc.strerror or str(exc))
    return f"{reason} [{errno.errorcode.get(exc.errno or 0, exc.errno)}]"
