"""What changed between two texts of a module, statement by statement (SPEC §1.5).

:func:`diff_statements` pairs the statements of two indexes: ``same`` (same text),
``patch`` (a ``def`` whose decorator lines are the same but whose text is not: only its
function object is updated; a decorated ``def`` whose signature changed is ``run`` instead,
since decorators read signatures when applied), ``class`` (a class whose header is the same and whose body
changed only in ways its members can take one by one: recursed into), ``run`` (new or
changed: it runs) and ``removed``. :func:`full_reason` says when a statement-level update
cannot vouch for the result. Pairs are read, never changed, by the update that follows.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from ipython_hotreload.core.source.statements import ModuleIndex, Statement

__all__ = ["Pair", "Status", "diff_statements", "full_reason", "redecorates"]

Status = Literal["same", "patch", "class", "run", "removed"]

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)


@dataclass(frozen=True)
class Pair:
    """An old statement and the new one it became (either may be missing)."""

    status: Status
    old: Statement | None
    new: Statement | None
    body: list[Pair] = field(default_factory=list)  # for "class": the body's pairs


def diff_statements(old: Sequence[Statement], new: Sequence[Statement]) -> list[Pair]:
    """Pair two statement lists: the new ones in source order (each with its old
    counterpart, if any), then the removed old ones."""
    # The same texts at both ends pair as they are (an edit is mostly one statement); the
    # sequence matcher pairs what lies between.
    limit = min(len(old), len(new))
    head = 0
    while head < limit and old[head].text == new[head].text:
        head += 1
    tail = 0
    while tail < limit - head and old[-1 - tail].text == new[-1 - tail].text:
        tail += 1
    partner: dict[int, int] = {k: k for k in range(head)}  # new index -> old index
    partner.update({len(new) - 1 - k: len(old) - 1 - k for k in range(tail)})
    middle_old, middle_new = old[head : len(old) - tail], new[head : len(new) - tail]
    if middle_old and middle_new:
        matcher = difflib.SequenceMatcher(
            None, [s.text for s in middle_old], [s.text for s in middle_new], autojunk=False
        )
        for tag, i1, i2, j1, _j2 in matcher.get_opcodes():
            if tag == "equal":
                for k in range(i2 - i1):
                    partner[head + j1 + k] = head + i1 + k
    taken = set(partner.values())
    # Definitions that changed pair by (kind, name), in order of appearance.
    free_old: dict[tuple[str, str], list[int]] = {}
    for i, s in enumerate(old):
        if i not in taken and s.name is not None:
            free_old.setdefault((_kind(s), s.name), []).append(i)
    pairs: list[Pair] = []
    for j, s in enumerate(new):
        if j in partner:
            pairs.append(Pair("same", old[partner[j]], s))
            continue
        if s.name is not None and free_old.get((_kind(s), s.name)):
            i = free_old[(_kind(s), s.name)].pop(0)
            taken.add(i)
            pairs.append(_changed_definition(old[i], s))
            continue
        pairs.append(Pair("run", None, s))
    pairs += [Pair("removed", s, None) for i, s in enumerate(old) if i not in taken]
    return pairs


def _changed_definition(old: Statement, new: Statement) -> Pair:
    if old.header != new.header:
        return Pair("run", old, new)
    if new.is_def:
        return Pair("run" if redecorates(old, new) else "patch", old, new)
    assert old.body is not None and new.body is not None
    body = diff_statements(old.body, new.body)
    if all(
        p.status in ("same", "patch", "class") or lone_method(p, old.body, new.body) for p in body
    ):
        return Pair("class", old, new, body)
    return Pair("run", old, new)  # a class rebuilt from its new body


def lone_method(pair: Pair, old_body: Sequence[Statement], new_body: Sequence[Statement]) -> bool:
    """Is ``pair`` a method added, removed, or whose decorators changed, that the class can
    take or lose as one attribute? Not when another statement of the body binds its name
    (a property's setter) or reads it (``alias = method``), nor for a ``__dunder__`` or
    private name (class creation treats those specially, or mangles them)."""
    stmt = pair.new or pair.old
    if pair.status not in ("run", "removed") or stmt is None or not stmt.is_def:
        return False
    if (pair.new is not None and not pair.new.is_def) or stmt.name is None:
        return False
    name = stmt.name
    if name.startswith("__"):
        return False
    if pair.old is not None and pair.new is not None and redecorates(pair.old, pair.new):
        return False  # the class's own machinery may read it too (a model's validators)
    for other in (*old_body, *new_body):
        if other is pair.old or other is pair.new:
            continue
        if other.name == name or name in other.loads:
            return False
    return True


def redecorates(old: Statement, new: Statement) -> bool:
    """Is ``new`` a decorated ``def`` whose signature (parameters, their defaults or
    annotations, the return annotation) is not ``old``'s? Its decorators must then be
    applied again (SPEC 1.5 rule 3): they read signatures (routes, CLI options, validators).
    The language's own descriptors (``staticmethod``, ``classmethod``, ``property`` and its
    ``setter``) read none, and alone they leave the def patched in place."""
    node, before = new.node, old.node
    if not isinstance(node, _DEFS) or not isinstance(before, _DEFS) or not node.decorator_list:
        return False
    if all(_descriptor(d) for d in node.decorator_list):
        return False
    return ast.dump(node.args) != ast.dump(before.args) or ast.dump(
        node.returns or ast.Constant(None)
    ) != ast.dump(before.returns or ast.Constant(None))


def _descriptor(decorator: ast.expr) -> bool:
    if isinstance(decorator, ast.Name):
        return decorator.id in ("staticmethod", "classmethod", "property")
    return isinstance(decorator, ast.Attribute) and decorator.attr in (
        "setter",
        "getter",
        "deleter",
    )


def _kind(s: Statement) -> str:
    return "class" if s.is_class else "def"


def full_reason(old: ModuleIndex, new: ModuleIndex) -> str | None:
    """Why a statement-level update cannot vouch for the result, or None (never for the
    very same text: nothing changed, so nothing needs to run)."""
    if old.text == new.text:
        return None
    if old.future_flags != new.future_flags:
        return "a `from __future__` import changed"
    for index in (old, new):
        for s in index.statements:
            why = s.unsafe
            if why:
                return why
    return None
