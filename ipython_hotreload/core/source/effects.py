"""What a rollback cannot undo: calls that ran into other modules' objects.

The journal puts back every module namespace and every object the patcher changed. But a
statement that ran before the failure may have changed state elsewhere: ``hub.add_rule(...)``
appending to another module's list, ``@app.route`` on an app made in another module, a
metric registered in a library's default registry. Those changes stay. This module finds,
statically, the calls among the statements that ran whose callee is reached through a name
bound by an import (so the object lives outside the module), so the error can name them.
It is a static reading of statements, as :mod:`.reads` is: it names what *may* have left
state behind, never more than what the statements that ran contain. A plan's run names them
after its rollback (:meth:`~..apply.planrun.PlanRun.not_undone`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["OutsideCall", "describe_outside_calls", "imported_names", "outside_calls"]


@dataclass(frozen=True)
class OutsideCall:
    """A call, at import time, through a name an import bound (``hub.add_rule``)."""

    callee: str
    lineno: int

    def __str__(self) -> str:
        return f"{self.callee} (line {self.lineno})"


def imported_names(tree: ast.Module) -> set[str]:
    """The names the module's top-level import statements bind."""
    names: set[str] = set()
    for node in _top_level(tree.body):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names.add(alias.asname or alias.name.partition(".")[0])
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name != "*":
                    names.add(alias.asname or alias.name)
    return names


def outside_calls(statements: Iterable[ast.stmt], imported: set[str]) -> list[OutsideCall]:
    """The calls in ``statements`` (those that ran) that run at import time and whose
    callee is an attribute of an imported name (``hub.add_rule(...)``, ``@app.route(...)``
    for an imported ``app``), in source order. Plain calls of an imported name (``Flask()``,
    ``create_engine()``) build objects and are not listed; bodies of functions are skipped
    (they did not run)."""
    found: list[OutsideCall] = []
    for statement in statements:
        for call in _import_time_calls(statement):
            callee = _dotted(call.func)
            if callee is not None and "." in callee and callee.partition(".")[0] in imported:
                found.append(OutsideCall(callee, call.lineno))
    return sorted(set(found), key=lambda c: (c.lineno, c.callee))


def describe_outside_calls(calls: list[OutsideCall], limit: int = 5) -> str:
    """One clause for an error message, or "" when there is nothing to say."""
    if not calls:
        return ""
    shown = ", ".join(str(c) for c in calls[:limit])
    more = f" and {len(calls) - limit} more" if len(calls) > limit else ""
    return f"not undone: what these calls did outside the module may remain: {shown}{more}"


def _top_level(body: list[ast.stmt]) -> Iterable[ast.stmt]:
    # Imports under a top-level `if` or `try` bind module names too.
    for node in body:
        yield node
        if isinstance(node, ast.If):
            yield from _top_level(node.body)
            yield from _top_level(node.orelse)
        elif isinstance(node, ast.Try):
            yield from _top_level(node.body)
            for handler in node.handlers:
                yield from _top_level(handler.body)
            yield from _top_level(node.orelse)
            yield from _top_level(node.finalbody)


def _import_time_calls(node: ast.AST) -> Iterable[ast.Call]:
    stack: list[ast.AST] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
            # Decorators, defaults and annotations run; the body does not.
            stack.extend(item.decorator_list)
            stack.extend(item.args.defaults)
            stack.extend(d for d in item.args.kw_defaults if d is not None)
            continue
        if isinstance(item, ast.Lambda):
            stack.extend(item.args.defaults)
            continue
        if isinstance(item, ast.Call):
            yield item
        stack.extend(ast.iter_child_nodes(item))


def _dotted(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))
