"""The errors of ipython_hotreload, one hierarchy.

::

    HotReloadError                 base of everything this package raises
    ├── UnsafePathError            the path is refused; nothing was written
    ├── SourceWriteError           the file could not be written; __cause__ is the OSError
    ├── ConflictError              a definition changed on disk since the editor read it
    ├── BadRequest                 a frontend's request (comm channel, panel) is malformed
    └── ReloadError                compile or execution failed; everything was rolled back

Inside a reload, :class:`ModuleFailed` carries which module failed from the stage where it
happened to the one that reports it (it never reaches a caller).

Every error carries the data a user (or a frontend) needs to act on it and pickles cleanly.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BadRequest",
    "ConflictError",
    "HotReloadError",
    "ReloadError",
    "SourceWriteError",
    "UnsafePathError",
]


class HotReloadError(Exception):
    """Base class of every error raised by ipython_hotreload."""


class UnsafePathError(HotReloadError, ValueError):
    """The path was refused (not ``.py``, a directory, a NUL byte, outside the allowed places).

    Raised before anything is written or broadcast.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"refusing {path!r}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.reason))


class SourceWriteError(HotReloadError, OSError):
    """The source file could not be written (disk full, permissions, ...).

    Raised before anything changes; ``__cause__`` is the underlying :class:`OSError`.
    """

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"could not write {path}: {message}")

    def __str__(self) -> str:
        return f"could not write {self.path}: {self.message}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.message))


class ConflictError(HotReloadError):
    """A definition's text on disk is not the one the editor read (``expected_hash``): another
    editor, the watcher or an undo changed it since. Nothing was written.

    ``current`` is the definition's text on disk now (None: it is gone), so the editor can
    show it beside the user's text and let them take either.
    """

    def __init__(self, target: str, path: str | None, current: str | None) -> None:
        self.target = target
        self.path = path
        self.current = current
        super().__init__(target, path, current)

    def __str__(self) -> str:
        where = f" in {self.path}" if self.path else ""
        if self.current is None:
            return f"{self.target} is gone{where} since you opened it; nothing was written"
        return (
            f"{self.target} changed{where} since you opened it (another editor, the watcher "
            "or an undo); nothing was written: keep your text or take the one on disk"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.target, self.path, self.current))


class BadRequest(HotReloadError):
    """A frontend's request (a comm message, a panel's request) that cannot even be tried: a
    missing or mistyped field, an unknown op. It never leaves the channel: it becomes an
    error reply, with ``id`` None when the request had none."""

    def __init__(self, request_id: Any, message: str) -> None:
        self.request_id = request_id
        self.message = message
        super().__init__(request_id, message)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.request_id, self.message))


class ReloadError(HotReloadError):
    """Compiling or executing a module failed; every module was put back as it was.

    ``mod`` and ``path`` name the module that failed (not necessarily the one saved),
    ``lineno`` is the failing line in that file when known, ``__cause__`` the original error.
    The new source stays on disk. ``not_restored`` names what the rollback could not put
    back (empty when everything was: then, and only then, the old code kept running).
    """

    def __init__(
        self,
        mod: str | None,
        path: str | None,
        lineno: int | None,
        message: str,
        not_restored: tuple[str, ...] = (),
    ) -> None:
        self.mod = mod
        self.path = path
        self.lineno = lineno
        self.message = message
        self.not_restored = tuple(not_restored)
        super().__init__(mod, path, lineno, message)

    def __str__(self) -> str:
        where = self.path or self.mod or "<unknown>"
        if self.lineno is not None:
            where = f"{where}:{self.lineno}"
        if self.not_restored:
            shown = "; ".join(self.not_restored[:5])
            more = f" and {len(self.not_restored) - 5} more" if len(self.not_restored) > 5 else ""
            return (
                f"{where}: {self.message} (the rollback could not restore: {shown}{more}; "
                "those objects may hold the new code: restart the kernel to be sure)"
            )
        return f"{where}: {self.message} (old code kept running)"

    def __reduce__(self) -> tuple[Any, ...]:
        args = (self.mod, self.path, self.lineno, self.message, self.not_restored)
        return (type(self), args)


class ModuleFailed(HotReloadError):
    """Inside a reload: module ``mod`` (file ``path``) failed to compile or to run; the
    original exception is ``__cause__``. The pipeline reports it as :class:`ReloadError`."""

    def __init__(self, mod: str, path: str | None) -> None:
        self.mod = mod
        self.path = path
        super().__init__(mod, path)

    def __str__(self) -> str:
        return f"{self.mod} failed: {self.__cause__!r}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.mod, self.path))
