"""Import records: what one parsed module imports and whether it uses it at import time
(found by :mod:`ipython_hotreload.core.graph.treescan`), and how strongly those imports tie it to the
project's other modules.

The records are independent of the rest of the project, so they can be cached per file.
What they mean does depend on it (``from a import b`` imports module ``a.b`` only when there
is one): :func:`strengths` and :func:`bound_names` read records against the set of project
modules.

A record's ``kind`` and ``scope`` are named by :class:`ImportKind` and :class:`Scope`. The
records themselves hold the bare integers the scanner produced: the scan worker runs
without ``enum`` (importing it would cost the worker's start-up more than small files
cost to scan), and converting every record would cost a cold build for nothing, since an
``IntEnum`` compares equal to its value.
"""

from __future__ import annotations

import ast
from collections.abc import Container
from enum import IntEnum
from typing import NamedTuple

from ipython_hotreload.core.graph import treescan
from ipython_hotreload.core.graph.treescan import RawRecord, scan_records

__all__ = [
    "CLASS_SCOPE",
    "FROM",
    "FUNCTION_SCOPE",
    "IMPORT",
    "MODULE_SCOPE",
    "STAR",
    "ImportKind",
    "ImportRecord",
    "Scope",
    "absolute_base",
    "bound_names",
    "project_module",
    "records_of",
    "scan_source",
    "scan_tree",
    "strengths",
]


class ImportKind(IntEnum):
    """What kind of statement a record comes from."""

    IMPORT = treescan.IMPORT  # import a.b.c [as x]
    FROM = treescan.FROM  # from a import b [as x]
    STAR = treescan.STAR  # from a import *


class Scope(IntEnum):
    """Where an import statement runs."""

    MODULE = treescan.MODULE_SCOPE  # at import time, binding a module global
    CLASS = treescan.CLASS_SCOPE  # at import time, binding a class attribute
    FUNCTION = treescan.FUNCTION_SCOPE  # only when a function is called


IMPORT, FROM, STAR = ImportKind.IMPORT, ImportKind.FROM, ImportKind.STAR
MODULE_SCOPE, CLASS_SCOPE, FUNCTION_SCOPE = Scope.MODULE, Scope.CLASS, Scope.FUNCTION

# The loops over every record of a build compare with plain ints: an int compared with an
# IntEnum member takes the slower path of a subclass operand.
_FROM, _STAR = int(FROM), int(STAR)
_MODULE_SCOPE, _CLASS_SCOPE, _FUNCTION_SCOPE = (
    int(MODULE_SCOPE),
    int(CLASS_SCOPE),
    int(FUNCTION_SCOPE),
)


class ImportRecord(NamedTuple):
    """One imported name: ``from <level dots><module> import <name> as <bound>`` or
    ``import <module> as <bound>`` (then ``name`` is empty)."""

    kind: int  # an ImportKind
    level: int
    module: str
    name: str
    bound: str
    scope: int  # a Scope
    used: bool  # the bound name is read by code that runs at import time


def scan_tree(tree: ast.Module, source: bytes | str | None) -> list[ImportRecord]:
    """The import records of a parsed module. ``source`` is its text, used to find the
    imports inside function bodies without walking every function (None: walk them all)."""
    data = source.encode("utf-8", "surrogatepass") if isinstance(source, str) else source
    return records_of(scan_records(tree, data))


def records_of(raw: list[RawRecord]) -> list[ImportRecord]:
    """Plain record tuples (from :func:`~ipython_hotreload.core.graph.treescan.scan_records`, or a
    scan worker) as :class:`ImportRecord` values."""
    new = tuple.__new__  # ImportRecord(...) goes through a Python-level __new__
    return [new(ImportRecord, r) for r in raw]


def absolute_base(record: ImportRecord, module: str, is_package: bool) -> str | None:
    """The absolute module a record imports from (``import x`` -> ``x``; ``from ..a import b``
    in ``p.q.m`` -> ``p.a``), or None when a relative import climbs above the top package."""
    if not record.level:
        return record.module
    parts = module.split(".")
    drop = record.level - 1 if is_package else record.level
    if drop >= len(parts):
        return None
    base = parts[: len(parts) - drop]
    if record.module:
        base.append(record.module)
    return ".".join(base)


def project_module(name: str, modules: Container[str]) -> str | None:
    """The most specific of ``modules`` that ``name`` or one of its parents names."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def strengths(
    records: list[ImportRecord], module: str, is_package: bool, modules: Container[str]
) -> dict[str, int]:
    """What ``module`` imports among ``modules`` (the project), each with the strength of
    its strongest import (section 3 of the spec): 2 compile (a name used at import time, a
    star import), 1 export (a name taken but used later), 0 runtime (a module object used
    later, or any import inside a function)."""
    best: dict[str, int] = {}
    for r in records:
        base = absolute_base(r, module, is_package)
        if base is None:
            continue
        if r.kind == _FROM and f"{base}.{r.name}" in modules:
            target: str | None = f"{base}.{r.name}"  # a module object: survives a reload
            rank = 2 if r.used else 0
        else:
            target = project_module(base, modules)
            if r.kind == _STAR:
                rank = 2
            elif r.kind == _FROM:
                rank = 2 if r.used or r.scope == _CLASS_SCOPE else 1
            else:
                rank = 2 if r.used else 0
        if r.scope == _FUNCTION_SCOPE:
            rank = 0
        if target is not None and target != module and best.get(target, -1) < rank:
            best[target] = rank
    return best


def bound_names(
    records: list[ImportRecord],
    module: str,
    is_package: bool,
    target: str,
    modules: Container[str],
) -> list[tuple[str, str]]:
    """``[(name, alias)]`` for each ``from target import name as alias`` that ``module`` runs
    at import time at module level, where ``target.name`` is not one of ``modules``."""
    out: list[tuple[str, str]] = []
    for r in records:
        if r.kind != _FROM or r.scope != _MODULE_SCOPE:
            continue
        base = absolute_base(r, module, is_package)
        if base is None or f"{base}.{r.name}" in modules:
            continue
        if project_module(base, modules) == target and (r.name, r.bound) not in out:
            out.append((r.name, r.bound))
    return out


def scan_source(source: bytes | str, module: str, is_package: bool) -> list[ImportRecord]:
    """Parse ``source`` (of module ``module``) and return its import records with relative
    imports made absolute (level 0). Raises ``SyntaxError`` when it does not parse."""
    tree = ast.parse(source)
    out: list[ImportRecord] = []
    for r in scan_tree(tree, source):
        base = absolute_base(r, module, is_package)
        if base is not None:
            out.append(r._replace(level=0, module=base))
    return out
