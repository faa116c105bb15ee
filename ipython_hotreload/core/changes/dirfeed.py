"""Exact change notifications for a set of directories (Linux inotify, through ``ctypes``).

The kernel queues an inotify event inside the writer's own system call, so every change that
completed before :meth:`DirectoryFeed.changed` reads the queue is in what it returns. That lets
the loaded-module bookkeeping stat only the files something happened to, instead of every
loaded file before every reload. Whatever the feed cannot vouch for, it says so and the caller
stats as before:

* off Linux, or without a usable libc/inotify, :meth:`DirectoryFeed.create` gives ``None``;
* a directory whose watch cannot be added (the per-user watch limit, say) or that lies on a
  file system whose changes may come from elsewhere (NFS, SMB, FUSE, 9p, virtiofs, overlay)
  is not watched: writes there from another machine or a VM host reach no local inotify;
* a directory deleted, renamed, unmounted, or with a renamed or deleted ancestor, stops being
  watched (every ancestor up to ``/`` is watched for that), and is reported as changed;
* a queue overflow drops every watch and :meth:`DirectoryFeed.changed` returns ``None``.

No threads: the queue is drained when asked.

**Why not watchfiles**, which the file watcher uses and which wraps the same inotify:
its notifier is read by a thread of its own and asked through ``watch(..., step_ms)``,
which sleeps at least one step. Measured (``benchmarks/feed.py``, 50 directories, 2-core
EPYC): one question with nothing changed costs about 0.004 ms here against 1.1 ms there,
paid before every reload; and a write completed just before the question was missing from
watchfiles' answer in 1 to 13 of 200 trials (still in transit through its thread), where
this feed missed none. A miss would let a stale module keep running, so the stale check
keeps this binding; the watcher, which debounces anyway, keeps watchfiles.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct
import sys
import weakref

__all__ = ["DirectoryFeed"]

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_UNMOUNT = 0x00002000
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_MASK_ADD = 0x20000000
IN_ISDIR = 0x40000000

# A directory holding watched files: anything that can change a child's bytes or identity.
_FILES_MASK = (
    IN_MODIFY
    | IN_ATTRIB
    | IN_CLOSE_WRITE
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
    | IN_MOVE_SELF
)
# An ancestor only needs to say when one of its entries goes away or is replaced.
_ANCESTOR_MASK = IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF
# Masks only ever grow: a directory that is both an ancestor and holds files keeps both.
_FLAGS = IN_ONLYDIR | IN_DONT_FOLLOW | IN_MASK_ADD
_GONE = IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT
_ENTRY = IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE | IN_CREATE

# statfs f_type of file systems whose every change goes through this kernel's VFS.
_LOCAL_FS = frozenset(
    {
        0xEF53,  # ext2/3/4
        0x58465342,  # xfs
        0x9123683E,  # btrfs
        0x01021994,  # tmpfs
        0xF2F52010,  # f2fs
        0x2FC12FC1,  # zfs
        0x858458F6,  # ramfs
    }
)
# Above the watched directories a renamed ancestor is all that matters; an overlay root (a
# container's /) is renamed only from inside.
_ANCESTOR_FS = _LOCAL_FS | {0x794C7630}  # overlayfs

_HEADER = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len; then the name


class _Libc:
    """The few libc entry points the feed calls."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self.init1 = libc.inotify_init1
        self.init1.argtypes = [ctypes.c_int]
        self.init1.restype = ctypes.c_int
        self.add_watch = libc.inotify_add_watch
        self.add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        self.add_watch.restype = ctypes.c_int
        self.rm_watch = libc.inotify_rm_watch
        self.rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
        self.rm_watch.restype = ctypes.c_int
        self.statfs = libc.statfs
        self.statfs.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
        self.statfs.restype = ctypes.c_int

    def fs_type(self, path: bytes) -> int | None:
        """``f_type`` of the file system holding ``path`` (``None`` if statfs fails)."""
        # struct statfs starts with f_type (a long on the 64-bit ABIs); 512 bytes covers the
        # whole struct everywhere. A misread value is simply not in the allow-lists.
        buf = ctypes.create_string_buffer(512)
        if self.statfs(path, buf) != 0:
            return None
        return ctypes.c_ulong.from_buffer(buf).value & 0xFFFFFFFF


def _close_fd(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


class DirectoryFeed:
    """Which files in a set of watched directories were touched since the last look."""

    def __init__(self, libc: _Libc, fd: int) -> None:
        self._libc = libc
        self._fd = fd
        self._pid = os.getpid()
        self._wds: dict[int, str] = {}  # watch descriptor -> directory
        self._dirs: dict[str, int] = {}  # directory (and every ancestor) -> watch descriptor
        self._holding: dict[str, int] = {}  # directories watched for their files -> st_dev
        self._lost: set[str] = set()  # directories dropped outside changed()
        self._refused: set[str] = set()  # not watchable here: not retried on every check
        self._finalizer = weakref.finalize(self, _close_fd, fd)

    @classmethod
    def create(cls) -> DirectoryFeed | None:
        """A new feed, or ``None`` where inotify is not available."""
        if not sys.platform.startswith("linux"):
            return None
        try:
            libc = _Libc()
        except (OSError, AttributeError):
            return None
        fd = libc.init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            return None
        return cls(libc, fd)

    @property
    def usable(self) -> bool:
        """Open, and owned by this process (a forked child must not drain its parent's queue)."""
        return self._finalizer.alive and os.getpid() == self._pid

    def watching(self, directory: str) -> bool:
        """Whether changes to the files of ``directory`` are being reported."""
        return directory in self._holding

    def device(self, directory: str) -> int | None:
        """``st_dev`` of a watched directory (a file on another device is not covered)."""
        return self._holding.get(directory)

    def watch(self, directory: str) -> bool:
        """Report changes to the files of ``directory`` (absolute, symlink-free) from now on;
        ``False`` when that cannot be done exactly."""
        if directory in self._holding:
            return True
        if directory in self._refused or not self.usable or not os.path.isabs(directory):
            return False
        chain = [directory]
        while (parent := os.path.dirname(chain[-1])) != chain[-1]:
            chain.append(parent)
        # Top down: once a parent is watched, a rename of the child between our resolving its
        # path and adding its watch is an event on the parent.
        for path in reversed(chain):
            holding = path == directory
            if path in self._dirs and not holding:
                continue
            if not self._add(path, _FILES_MASK if holding else _ANCESTOR_MASK, holding):
                self._refused.add(directory)  # its files are stat-ed instead
                return False
        try:
            self._holding[directory] = os.stat(directory).st_dev
        except OSError:
            self._lose(directory)
            return False
        return True

    def changed(self) -> set[str] | None:
        """Full paths touched since the last call (a lost directory is reported by its own
        path); ``None`` after a queue overflow, when anything may have changed."""
        if not self.usable:
            return None
        out, self._lost = self._lost, set()
        overflow = False
        while True:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                break
            except InterruptedError:
                continue
            if not data:
                break
            pos = 0
            while pos < len(data):
                wd, mask, _cookie, size = _HEADER.unpack_from(data, pos)
                pos += _HEADER.size
                name = data[pos : pos + size].split(b"\0", 1)[0]
                pos += size
                if mask & IN_Q_OVERFLOW:
                    overflow = True
                    continue
                directory = self._wds.get(wd)
                if directory is None:
                    continue  # a watch already dropped; its files are stat-ed again
                if mask & _GONE:
                    self._lose(directory, out)
                    continue
                path = os.path.join(directory, os.fsdecode(name)) if name else directory
                out.add(path)
                if mask & IN_ISDIR and mask & _ENTRY and path in self._dirs:
                    # A watched directory (or an ancestor of some) was renamed away, deleted
                    # or replaced: its watches now follow inodes no longer at those paths.
                    self._lose(path, out)
        if overflow:
            # Lost events may have included a directory's removal: start every watch afresh.
            for wd in list(self._wds):
                self._libc.rm_watch(self._fd, wd)
            self._wds.clear()
            self._dirs.clear()
            self._holding.clear()
            return None
        return out

    def close(self) -> None:
        """Stop watching and release the inotify descriptor."""
        self._wds.clear()
        self._dirs.clear()
        self._holding.clear()
        if os.getpid() == self._pid:
            self._finalizer()
        else:
            self._finalizer.detach()  # the parent's descriptor: its copy here is left alone

    def _add(self, path: str, mask: int, holding: bool) -> bool:
        fs = self._libc.fs_type(os.fsencode(path))
        if fs not in (_LOCAL_FS if holding else _ANCESTOR_FS):
            return False
        wd = self._libc.add_watch(self._fd, os.fsencode(path), mask | _FLAGS)
        if wd < 0:
            return False
        known = self._wds.get(wd)
        if known is not None and known != path:
            # The same directory under two paths (a bind mount): events could not be told
            # apart, so neither path is trusted.
            self._lose(known)
            return False
        self._wds[wd] = path
        self._dirs[path] = wd
        return True

    def _lose(self, directory: str, out: set[str] | None = None) -> None:
        """Stop watching ``directory`` and everything under it; report each as changed."""
        prefix = directory.rstrip("/") + "/"
        gone = [d for d in self._dirs if d == directory or d.startswith(prefix)]
        for d in gone:
            wd = self._dirs.pop(d)
            self._wds.pop(wd, None)
            self._holding.pop(d, None)
            self._libc.rm_watch(self._fd, wd)  # fails harmlessly if the kernel dropped it
            (self._lost if out is None else out).add(d)
