"""Which loaded modules belong to the project, and whether their files still match the code
they run.

The engine asks two things before each reload: the loaded project modules and which of them
changed on disk behind its back (a module first seen is taken as current). Fingerprints are
``(mtime_ns, size)`` of the exact bytes that were executed, taken when they were read or
written, so an edit saved while a reload runs still looks stale to the next one.

Both questions are asked before every reload, so neither walks everything each time:

* ``sys.modules`` is compared with the previous look by its lists of names and of module
  objects (C-level passes, the objects by identity); only when they differ are the entries
  compared one by one, and only new or replaced ones have their files resolved (the module
  objects are kept referenced, so an id cannot be reused behind our back). What is derived
  from the loaded set (import order, the modules not yet graphed, the modules left to check
  on disk) is kept with it, so a reload that imports nothing pays for what it touches, not
  for the project's size.
* Files are stat-ed only when they may have changed. A module is *verified* once its file was
  stat-ed after its directory came under a :class:`~ipython_hotreload.core.changes.dirfeed.DirectoryFeed`
  and matched the stamp of the code it runs; it is stat-ed again only when the feed reports its
  path (or its directory lost). Anything else (no feed, a directory that could not be watched,
  a hard-linked file, a file on another device than its directory, a module just executed or
  left pending after a failed reload, a queue overflow) is stat-ed on every check, exactly as without a feed.
"""

from __future__ import annotations

import operator
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType

from ipython_hotreload.core.changes.dirfeed import DirectoryFeed
from ipython_hotreload.core.paths import Stamp, in_skipped_dir, is_within

__all__ = ["LoadedModules"]


class LoadedModules:
    """The loaded modules of a project and the state of their files."""

    def __init__(
        self,
        roots: Iterable[Path],
        *,
        feed_factory: Callable[[], DirectoryFeed | None] | None = DirectoryFeed.create,
        first_stamp: Callable[[str], Stamp | None] | None = None,
    ) -> None:
        self._roots = list(roots)
        # The stamp a module's file had when it was imported, if known: a first look then
        # finds a file edited between the import and that look stale.
        self._first_stamp = first_stamp
        # name -> (sys.modules value, its file if it is a project module, that file as str)
        self._files: dict[str, tuple[object, Path | None, str]] = {}
        self._stamps: dict[str, Stamp] = {}
        self._graphed: set[str] = set()  # names the graph is known to cover
        # The last look at sys.modules: name -> id of its value (for the entry-by-entry diff),
        # and its lists of names and values (compared as a whole first: project_modules).
        self._seen: dict[str, int] = {}
        self._seen_keys: list[str] = []
        self._seen_values: list[object] = []
        self._project: dict[str, ModuleType] = {}  # in sys.modules order
        self._generation = 0  # bumped whenever the loaded project modules change
        self._order: dict[str, int] | None = None  # import positions, for this generation
        self._graphed_gen = -1  # the generation not_graphed() last looked at
        # The change feed (made on the first check) and what it vouches for.
        self._feed_factory = feed_factory
        self._feed: DirectoryFeed | None = None
        self._verified: set[str] = set()
        self._pending: set[str] = set()  # project modules not verified: checked each time
        self._by_path: dict[str, set[str]] = {}  # file -> verified names running it
        self._by_dir: dict[str, set[str]] = {}  # directory -> verified names with files there
        self._where: dict[str, tuple[str, str]] = {}  # verified name -> (file, directory)

    def set_roots(self, roots: Iterable[Path]) -> None:
        """New roots: which modules belong to the project is worked out again."""
        self._roots = list(roots)
        self._files.clear()
        self._graphed.clear()
        self._seen = {}
        self._forget_lists()
        self._project.clear()
        self._unverify_all()

    def project_modules(self) -> dict[str, ModuleType]:
        """Loaded modules whose files lie in the roots, by name (``__main__`` excluded), in
        ``sys.modules`` order. The dict is kept for the next call: do not change it."""
        # The same names and the very same objects, in the same order: nothing was imported,
        # removed, renamed or replaced. (Objects by identity: `==` would ask a replaced
        # object's own __eq__, which a proxy may answer with True.)
        keys, values = list(sys.modules), list(sys.modules.values())
        seen = self._seen_values
        if (
            keys == self._seen_keys
            and len(values) == len(seen)
            and all(map(operator.is_, values, seen))
        ):
            return self._project
        mods = sys.modules.copy()  # one C-level copy: safe against imports in other threads
        names = tuple(mods)
        ids = tuple(map(id, mods.values()))
        cache, project, before = self._files, self._project, self._seen
        now = dict(zip(names, ids, strict=True))
        for name in before.keys() - now.keys():
            # Gone from sys.modules: drop the reference (its id may be reused from now on).
            cache.pop(name, None)
            project.pop(name, None)
        for name, _ in now.items() - before.items():
            value = mods[name]
            path: Path | None = None
            if name != "__main__" and isinstance(value, ModuleType):
                path = self._project_path(value)
            cache[name] = (value, path, str(path))
            self._unverify(name)  # a new module object may run another file
            if path is not None:
                project[name] = value
            else:
                project.pop(name, None)
        keep = list(filter(project.__contains__, names))
        if keep != list(project):
            # Keep sys.modules order (the engine lists dependents and stale modules in it).
            self._project = project = {name: project[name] for name in keep}
        self._seen = now
        self._seen_keys, self._seen_values = list(mods), list(mods.values())
        self._generation += 1
        self._order = None
        self._pending = set(project) - self._verified
        return project

    def import_order(self) -> dict[str, int]:
        """The position of each loaded project module in ``sys.modules`` (import order), as
        of the last :meth:`project_modules`."""
        if self._order is None:
            self._order = {name: i for i, name in enumerate(self._project)}
        return self._order

    def path_of(self, name: str) -> Path | None:
        """The file of a loaded project module (as last seen by :meth:`project_modules`)."""
        hit = self._files.get(name)
        return hit[1] if hit else None

    def not_graphed(self, loaded: Iterable[str]) -> list[str]:
        """Which of ``loaded`` the graph has not been checked for yet (each name once)."""
        if loaded is self._project:
            if self._graphed_gen == self._generation:
                return []  # the same loaded modules as last time: all were checked then
            self._graphed_gen = self._generation
        new = set(loaded) - self._graphed
        self._graphed |= new
        return sorted(new)

    def changed_on_disk(self, loaded: Iterable[str], skip: set[str]) -> tuple[list[str], list[str]]:
        """The modules of ``loaded`` whose file changed since it was last executed, and those
        whose file is gone."""
        feed = self._ready_feed()
        if feed is None:
            return self._stat_each(loaded, skip)
        touched = feed.changed()
        if touched is None:
            self._unverify_all()  # the queue overflowed: anything may have changed
        else:
            for path in touched:
                for names in (self._by_path.get(path), self._by_dir.get(path)):
                    if names:
                        for name in list(names):
                            self._unverify(name)
        if loaded is self._project:
            order: Iterable[str] = loaded
            todo = self._pending - skip  # what the feed does not vouch for: O(that)
        else:
            order = loaded if isinstance(loaded, (list, tuple)) else list(loaded)
            todo = set(order)
            todo -= self._verified
            todo -= skip
        stale: list[str] = []
        vanished: list[str] = []
        files = self._files
        for name in todo:
            file = files[name][2]
            directory = os.path.dirname(file)
            # Watch first, then stat: a change after this stat is then an event.
            watched = feed.watch(directory)
            st = self._compare(name, file, stale, vanished)
            if st is None:
                continue
            if watched and st.st_nlink == 1 and st.st_dev == feed.device(directory):
                # A hard link elsewhere, or a file mounted over its directory, can change
                # without an event in this directory: those keep being stat-ed.
                self._verify(name, file, directory)
        if len(stale) > 1 or len(vanished) > 1:
            # The same order as a walk over ``loaded`` gives (sys.modules order).
            rank = {name: i for i, name in enumerate(order)}
            stale.sort(key=rank.__getitem__)
            vanished.sort(key=rank.__getitem__)
        return stale, vanished

    def executed(self, name: str, stamp: Stamp | None) -> None:
        """``name`` now runs the bytes that had ``stamp``."""
        self._unverify(name)  # checked once more against its new stamp
        if stamp is not None:
            self._stamps[name] = stamp
        else:
            self._stamps.pop(name, None)

    def failed(self, name: str, stamp: Stamp | None) -> None:
        """The bytes with ``stamp`` failed to reload: ``name`` runs its old text, and its
        file is not stale again until it changes (SPEC §1.8: a failed edit never blocks)."""
        self.executed(name, stamp)

    def forget(self, name: str) -> None:
        """Drop everything known about a module (it was purged)."""
        self._unverify(name)
        self._files.pop(name, None)
        self._stamps.pop(name, None)
        self._graphed.discard(name)
        self._project.pop(name, None)
        self._pending.discard(name)
        # Should the name still (or again) be in sys.modules, the next look resolves it anew.
        self._seen.pop(name, None)
        self._forget_lists()

    def close(self) -> None:
        """Release the change feed (checks stat every file from then on)."""
        feed, self._feed = self._feed, None
        self._feed_factory = None
        self._unverify_all()
        if feed is not None:
            feed.close()

    # -- helpers ---------------------------------------------------------------------------

    def _forget_lists(self) -> None:
        """Make the next :meth:`project_modules` compare entry by entry."""
        self._seen_keys, self._seen_values = [], []

    def _ready_feed(self) -> DirectoryFeed | None:
        feed = self._feed
        if feed is not None:
            if feed.usable:
                return feed
            # Closed, or inherited through fork(): reading it would steal the parent's events.
            feed.close()
            self._feed = None
            self._unverify_all()
        if self._feed_factory is None:
            return None
        self._feed = self._feed_factory()
        if self._feed is None:
            self._feed_factory = None  # unavailable here: do not try again on every reload
        return self._feed

    def _stat_each(self, loaded: Iterable[str], skip: set[str]) -> tuple[list[str], list[str]]:
        stale: list[str] = []
        vanished: list[str] = []
        files, compare = self._files, self._compare
        for name in loaded:
            if name not in skip:
                compare(name, files[name][2], stale, vanished)
        return stale, vanished

    def _compare(
        self, name: str, file: str, stale: list[str], vanished: list[str]
    ) -> os.stat_result | None:
        """Stat ``file`` against the stamp of the code ``name`` runs (a first look takes it
        as current); note it stale or vanished. Returns the stat when the file matches."""
        try:
            st = os.stat(file)
        except FileNotFoundError:
            vanished.append(name)
            return None
        except OSError:
            return None
        now = (st.st_mtime_ns, st.st_size)
        known = self._stamps.get(name)
        if known is None:
            known = self._stamps[name] = (self._first_stamp and self._first_stamp(file)) or now
        if known != now:
            stale.append(name)
            return None
        return st

    def _verify(self, name: str, file: str, directory: str) -> None:
        self._verified.add(name)
        self._pending.discard(name)
        self._where[name] = (file, directory)
        self._by_path.setdefault(file, set()).add(name)
        self._by_dir.setdefault(directory, set()).add(name)

    def _unverify(self, name: str) -> None:
        where = self._where.pop(name, None)
        if where is None:
            return
        self._verified.discard(name)
        if name in self._project:
            self._pending.add(name)
        for table, key in ((self._by_path, where[0]), (self._by_dir, where[1])):
            names = table.get(key)
            if names is not None:
                names.discard(name)
                if not names:
                    del table[key]

    def _unverify_all(self) -> None:
        self._verified.clear()
        self._pending = set(self._project)
        self._where.clear()
        self._by_path.clear()
        self._by_dir.clear()

    def _project_path(self, module: ModuleType) -> Path | None:
        file = getattr(module, "__file__", None)
        if not isinstance(file, str) or not file.endswith(".py"):
            return None
        spec = getattr(module, "__spec__", None)
        origin = getattr(spec, "origin", file) if spec is not None else file
        if origin != file and not (isinstance(origin, str) and _same_file(origin, file)):
            # A mirror (toolz's `tlz`: a loader that copies another module's namespace and
            # borrows its __file__) does not run that file: re-executing it would run
            # another module's code in its namespace.
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


def _same_file(a: str, b: str) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except (OSError, RuntimeError):
        return False
