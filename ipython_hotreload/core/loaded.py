"""Which loaded modules belong to the project, and whether their files still match the code
they run.

The engine asks two things before each reload: the loaded project modules (by walking
``sys.modules``, with each module's file resolved once and cached) and which of them changed
on disk behind its back (one ``os.stat`` per module; a module first seen is taken as current).
Fingerprints are ``(mtime_ns, size)`` of the exact bytes that were executed, taken when they
were read or written, so an edit saved while a reload runs still looks stale to the next one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from ipython_hotreload.core.paths import in_skipped_dir, is_within

__all__ = ["LoadedModules", "Stamp", "read_source"]

Stamp = tuple[int, int]  # (mtime_ns, size)
_UNAPPLIED: Stamp = (-1, -1)


def read_source(path: Path) -> tuple[bytes, Stamp]:
    """A file's bytes and the stamp of exactly those bytes."""
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
        return fh.read(), (st.st_mtime_ns, st.st_size)


class LoadedModules:
    """The loaded modules of a project and the state of their files."""

    def __init__(self, roots: Iterable[Path]) -> None:
        self._roots = list(roots)
        # name -> (module object, its file if it is a project module, that file as str)
        self._files: dict[str, tuple[ModuleType, Path | None, str]] = {}
        self._stamps: dict[str, Stamp] = {}
        self._graphed: set[str] = set()  # names the graph is known to cover

    def set_roots(self, roots: Iterable[Path]) -> None:
        """New roots: which modules belong to the project is worked out again."""
        self._roots = list(roots)
        self._files.clear()
        self._graphed.clear()

    def project_modules(self) -> dict[str, ModuleType]:
        """Loaded modules whose files lie in the roots, by name (``__main__`` excluded)."""
        out: dict[str, ModuleType] = {}
        cache = self._files
        for name, module in list(sys.modules.items()):
            if name == "__main__" or not isinstance(module, ModuleType):
                continue
            hit = cache.get(name)
            if hit is None or hit[0] is not module:
                path = self._project_path(module)
                hit = (module, path, str(path))
                cache[name] = hit
            if hit[1] is not None:
                out[name] = module
        return out

    def path_of(self, name: str) -> Path | None:
        """The file of a loaded project module (as last seen by :meth:`project_modules`)."""
        hit = self._files.get(name)
        return hit[1] if hit else None

    def not_graphed(self, loaded: Iterable[str]) -> list[str]:
        """Which of ``loaded`` the graph has not been checked for yet (each name once)."""
        new = [name for name in loaded if name not in self._graphed]
        self._graphed.update(new)
        return new

    def changed_on_disk(self, loaded: Iterable[str], skip: set[str]) -> tuple[list[str], list[str]]:
        """The modules of ``loaded`` whose file changed since it was last executed, and those
        whose file is gone."""
        stale: list[str] = []
        vanished: list[str] = []
        files, stamps, stat = self._files, self._stamps, os.stat
        for name in loaded:
            if name in skip:
                continue
            try:
                st = stat(files[name][2])
            except FileNotFoundError:
                vanished.append(name)
                continue
            except OSError:
                continue
            now = (st.st_mtime_ns, st.st_size)
            if stamps.setdefault(name, now) != now:
                stale.append(name)
        return stale, vanished

    def executed(self, name: str, stamp: Stamp | None) -> None:
        """``name`` now runs the bytes that had ``stamp``."""
        if stamp is not None:
            self._stamps[name] = stamp
        else:
            self._stamps.pop(name, None)

    def unapplied(self, names: Iterable[str]) -> None:
        """The text on disk of these modules is not what runs: the next reload must pick
        their files up again."""
        for name in names:
            if name in sys.modules:
                self._stamps[name] = _UNAPPLIED

    def forget(self, name: str) -> None:
        """Drop everything known about a module (it was purged)."""
        self._files.pop(name, None)
        self._stamps.pop(name, None)
        self._graphed.discard(name)

    def _project_path(self, module: ModuleType) -> Path | None:
        file = getattr(module, "__file__", None)
        if not isinstance(file, str) or not file.endswith(".py"):
            return None
        try:
            path = Path(file).resolve()
        except (OSError, RuntimeError):
            return None
        for root in self._roots:
            # A virtualenv or node_modules inside a root (a home directory, say) holds
            # installed packages, not the project.
            if is_within(path, root) and not in_skipped_dir(path, root):
                return path
        return None
