"""A long editing session: 1,000 consecutive reloads must not grow memory without bound.

Every reload leaves garbage behind it by design (the old module dictionary, the old code
objects, the undo journal, the payloads and events); all of it must be released. Memory is
measured with ``tracemalloc`` between reload 100 (caches warm) and reload 1,000. Timing is
the benchmarks' business, not a test's.
"""

from __future__ import annotations

import gc
import linecache
import sys
import tracemalloc
import weakref

import ipython_hotreload as hr
from tests.conftest import Project

RELOADS = 1_000
WARM_UP = 100
MAX_GROWTH = 1_000_000  # bytes, between reload WARM_UP and reload RELOADS


def base_text(i: int) -> str:
    # Every reload is a different edit (as in a real session): a new constant, new function
    # bodies, a new method, so code objects and analysis entries cannot be shared.
    return (
        f"VERSION = {i}\n\n\n"
        f"def f(x=1):\n    return x + {i}\n\n\n"
        f"class C:\n    size = {i}\n\n    def m(self):\n        return {i}\n\n"
        f"    @property\n    def p(self):\n        return self.size * {i % 7}\n"
    )


DEP = (
    "from base import VERSION, C, f\n\nSNAPSHOT = VERSION\n\n\n"
    "class D(C):\n    def twice(self):\n        return 2 * f()\n"
)


def _top_growth(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot) -> str:
    stats = after.compare_to(before, "lineno")[:8]
    return "\n".join(str(s) for s in stats)


def test_a_thousand_reloads_do_not_grow_memory(project: Project) -> None:
    project.write("base.py", base_text(0))
    project.write("dep.py", DEP)
    base = project.import_("base")
    dep = project.import_("dep")
    held_f, held_c, held_d = base.f, base.C(), dep.D()
    panel: list[hr.ModuleEvent] = []
    # A bounded live subscriber, like a panel that keeps the last event only.
    sub = hr.subscribe(lambda e: (panel.clear(), panel.append(e)))
    path = project.path("base.py")
    reloader = project.reloader
    try:
        for i in range(1, RELOADS + 1):
            reloader.reload(path, base_text(i))
            project.events.clear()  # the fixture's own log is not the reloader's memory
            if i == WARM_UP:
                # Trace from here on: what the next 900 reloads allocate and keep is the growth
                # (and the first reloads run at full speed).
                gc.collect()
                linecache.clearcache()
                tracemalloc.start()
                start_bytes = tracemalloc.get_traced_memory()[0]
                start_snapshot = tracemalloc.take_snapshot()
        gc.collect()
        linecache.clearcache()
        end_bytes = tracemalloc.get_traced_memory()[0]
        end_snapshot = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
        sub.close()
    # The session really happened: every reference follows the last edit.
    assert held_f() == 1 + RELOADS and held_c.m() == RELOADS and held_d.twice() == 2 * (1 + RELOADS)
    assert sys.modules["dep"].SNAPSHOT == RELOADS
    assert panel and panel[-1].kind == "recompiled"
    growth = end_bytes - start_bytes
    assert growth < MAX_GROWTH, (
        f"memory grew by {growth:,} bytes over {RELOADS - WARM_UP} reloads; largest growth:\n"
        + _top_growth(start_snapshot, end_snapshot)
    )


def test_old_module_namespaces_and_code_are_released(project: Project) -> None:
    """The direct check behind the number above: once a reload is over, nothing keeps the
    previous version's module-level objects (held by the old namespace, which the undo
    journal copied) or its functions' replaced code objects alive."""
    project.write("base.py", base_text(0) + "SENTINEL = {0}\n")
    base = project.import_("base")
    old_sentinel = weakref.ref(base.SENTINEL)
    old_code = weakref.ref(base.f.__code__)
    old_method_code = weakref.ref(base.C.__dict__["m"].__code__)
    for i in range(1, 4):
        project.reload("base.py", base_text(i) + f"SENTINEL = {{{i}}}\n")
    project.events.clear()
    gc.collect()
    assert old_sentinel() is None, "the first version's namespace is still alive"
    assert old_code() is None, "the first version's code object is still alive"
    assert old_method_code() is None
    assert sorted(base.SENTINEL) == [3]
