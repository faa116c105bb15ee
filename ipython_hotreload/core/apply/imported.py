"""What changed in the modules a module imports, under the module's own names (SPEC §1.5, §3).

A plan updates modules in dependency order, and each update's :class:`~.minimal.Outcome`
names what changed in its module: names *rebound* (their object changed or went) and names
*code-changed* (their object took new code). A module that imports it sees those changes
under names of its own, which decide which of its statements run:

* ``from m import f as g``: ``g``, and ``g.x`` for a changed member ``f.x``; a binding of a
  rebound name is pointed at the new object on the way; a name gone from ``m`` makes the
  statement's import fail, as in a fresh interpreter (:func:`~..source.statements.import_marker`);
* ``import m as mm`` (or ``from pkg import m``, a submodule): ``mm.f``;
* ``from m import *``: the names themselves;

and, since calling a subclass of a changed class calls its changed code, the classes of its
own that :func:`~.implicit.implicit_callers` adds. :func:`changed_by_imports` reads all that;
:func:`hot_names` is everything that changed so far, to leave alone at once a dependent whose
text mentions none of it. An ``"export"`` step only passes names on (``from base import
LIMIT`` in a module that does nothing else with it): :func:`rebind_exports` points those
bindings at the new objects, so what takes them from the module follows. Every rebinding
goes through the plan's :class:`~.journal.Journal`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any

from ipython_hotreload.core.apply.implicit import implicit_callers
from ipython_hotreload.core.apply.journal import Journal
from ipython_hotreload.core.apply.minimal import Outcome
from ipython_hotreload.core.source.mentions import Probe
from ipython_hotreload.core.source.statements import ModuleIndex, Readings, import_marker

__all__ = ["SoFar", "changed_by_imports", "hot_names", "rebind_exports"]


def hot_names(outcomes: Iterable[Outcome]) -> set[str]:
    """Every name that changed in ``outcomes``: rebound, or whose code changed."""
    hot: set[str] = set()
    for outcome in outcomes:
        hot |= outcome.rebound
        hot |= outcome.code_changed
    return hot


class SoFar:
    """What changed so far in a plan (``outcomes``, by module, as the plan fills it) as its
    dependents ask it: hashed for every dependent's summary (:meth:`probe`, each name once),
    and as a value equal for the same changes (:meth:`state`: the same names in the same
    modules, made only when asked). A plan only adds outcomes and names to them, so their
    count and sizes tell a new state from the last."""

    def __init__(self, outcomes: Mapping[str, Outcome]) -> None:
        self._outcomes = outcomes
        self._version = (-1, -1)
        self._probe = Probe(())
        self._hashed: set[str] = set()
        self._state: frozenset[tuple[str, frozenset[str], frozenset[str]]] | None = None

    def probe(self) -> Probe:
        self._refresh()
        return self._probe

    def state(self) -> frozenset[tuple[str, frozenset[str], frozenset[str]]]:
        self._refresh()
        if self._state is None:
            self._state = frozenset(
                (mod, frozenset(o.rebound), frozenset(o.code_changed))
                for mod, o in self._outcomes.items()
            )
        return self._state

    def _refresh(self) -> None:
        outcomes = self._outcomes
        size = sum(len(o.rebound) + len(o.code_changed) for o in outcomes.values())
        if (len(outcomes), size) == self._version:
            return
        self._version = (len(outcomes), size)
        self._state = None
        new = hot_names(outcomes.values()) - self._hashed
        self._hashed |= new
        self._probe.names += Probe(new).names


def changed_by_imports(
    module: ModuleType,
    index: ModuleIndex | Readings,
    outcomes: Mapping[str, Outcome],
    old_namespaces: Mapping[str, Mapping[str, Any]],
    journal: Journal,
) -> tuple[set[str], set[str]]:
    """The names of ``module`` (whose text ``index`` reads) that stand for what changed in
    the modules it imports (``outcomes``, by module), rebound (any read at import time runs)
    or code-changed (calls run); its ``from m import name`` bindings of rebound names still
    on the object ``m`` held before (``old_namespaces``) are refreshed on the way."""
    rebound: set[str] = set()
    changed: set[str] = set()
    if not outcomes:
        return rebound, changed
    ns = module.__dict__
    prefixes = dict(index.module_aliases)
    for base, name, alias in index.from_imports:
        sub = f"{base}.{name}"
        if sub in outcomes and isinstance(ns.get(alias), ModuleType):
            prefixes[alias] = sub
            continue
        outcome = outcomes.get(base)
        if outcome is None or name not in outcome.heads():
            continue
        target = sys.modules.get(base)
        if name in outcome.rebound:
            rebound.add(alias)
            if target is None or name not in target.__dict__:
                rebound.add(import_marker(base))  # its import must fail, as fresh
                continue
            old = old_namespaces.get(base, {}).get(name)
            new = target.__dict__[name]
            if alias in ns and ns[alias] is old and old is not new:
                journal.setitem(ns, alias, new)
        elif name in outcome.code_changed:
            changed.add(alias)
        # A member of what it imports: `from b import P` reads `P.x`, calls `P.run`.
        dotted = name + "."
        rebound.update(alias + n[len(name) :] for n in outcome.rebound if n.startswith(dotted))
        changed.update(alias + n[len(name) :] for n in outcome.code_changed if n.startswith(dotted))
    whole_rebound, whole_changed = _whole_modules(prefixes, index.star_imports, outcomes)
    rebound |= whole_rebound
    changed |= whole_changed
    if changed:  # its own subclasses of a changed class, say, call the changed code too
        changed |= implicit_callers(ns, changed)
    return rebound, changed


def _whole_modules(
    prefixes: Mapping[str, str], stars: Iterable[str], outcomes: Mapping[str, Outcome]
) -> tuple[set[str], set[str]]:
    """What changed in modules imported whole, rebound and code-changed: a module bound to
    a name (``prefixes``: ``mm`` for ``import m as mm``) makes ``mm.f``; one star-imported
    (``stars``) its names themselves, and its import must run again when one was rebound;
    ``.m`` markers (a method called on something computed) pass on as they are."""
    rebound: set[str] = set()
    changed: set[str] = set()
    for prefix, target_name in prefixes.items():
        outcome = outcomes.get(target_name)
        if outcome is not None:
            rebound.update(f"{prefix}.{n}" for n in outcome.rebound)
            changed.update(
                n if n.startswith(".") else f"{prefix}.{n}" for n in outcome.code_changed
            )
    for base in stars:
        outcome = outcomes.get(base)
        if outcome is not None:
            if outcome.rebound:
                rebound.add(import_marker(base))
            rebound |= outcome.rebound
            changed |= outcome.code_changed
    for target_name in prefixes.values():  # `.m` markers pass on as they are
        outcome = outcomes.get(target_name)
        if outcome is not None:
            changed.update(n for n in outcome.code_changed if n.startswith("."))
    return rebound, changed


def rebind_exports(
    importer: ModuleType,
    target: ModuleType,
    bound: Iterable[tuple[str, str]],
    old_target_ns: Mapping[str, Any],
    journal: Journal,
) -> set[str] | None:
    """An export edge: each ``(name, alias)`` that ``importer`` bound from ``target`` and
    that still holds the object ``target`` held before (``old_target_ns``) takes the new
    one. Returns the aliases rebound, or None when a name it imports is gone from
    ``target``: the importer must run again (its import then fails, as fresh)."""
    ns = importer.__dict__
    rebound: set[str] = set()
    for name, alias in bound:
        if name not in target.__dict__:
            return None
        new = target.__dict__[name]
        if alias in ns and ns[alias] is old_target_ns.get(name) and ns[alias] is not new:
            journal.setitem(ns, alias, new)
            rebound.add(alias)
    return rebound
