"""What an edit writes, and how to tell what a contender left stale after it.

:func:`edit_text` turns the original text of a module and an edit number into the edited
text (found with ``ast``, so the same edit works on any release of the code base); every
edit number gives a different text. :class:`Probe` captures, before the first edit, what a
user would be holding (a function object, an instance of a subclass made earlier, the
subclasses in other modules, the values other modules computed at import time) and
:meth:`Probe.check` counts, after edit ``e``, which of them do not show it:

- ``applied``: the edited module itself shows the edit (else the contender failed it);
- ``refs``: old references: a function object or bound method held before the edit runs
  the new code (its ``__code__`` holds the edit's marker constant), a class object held
  before has the new method;
- ``subclasses``: subclasses defined in other modules inherit the new code or method;
- ``dependents``: values other modules computed from the constant at import time hold the
  new value (including a lexer's compiled rule table, built on first use);
- ``exports``: the packages that star-import the module have the new function.
"""

from __future__ import annotations

import ast
import importlib
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import FunctionType, MethodType
from typing import Any

from benchmarks.realprojects.codebases import EditSpec

# -- the texts ----------------------------------------------------------------------------------


def marker(edit: int) -> str:
    """The constant a body edit adds: in the ``__code__`` of whatever runs the new code."""
    return f"hr-edit-{edit}"


def added_name(edit: int) -> str:
    """The name of the method or function edit ``edit`` adds."""
    return f"hr_added_{edit}"


def constant_prefix(edit: int) -> str:
    """Two characters put in front of the constant's value (valid in a regex class)."""
    return chr(0x2200 + edit % 256) + chr(0x2300 + (edit // 256) % 256)


def edit_text(spec: EditSpec, original: str, edit: int) -> str:
    """The module's text after edit ``edit`` of kind ``spec.kind``."""
    lines = original.splitlines(keepends=True)
    tree = ast.parse(original)
    if spec.kind == "body":
        node = _find(tree, spec.target)
        first = node.body[0]
        docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
        at = first.end_lineno if docstring else first.lineno - 1
        assert at is not None
        line = " " * first.col_offset + f"hr_edit = {marker(edit)!r}\n"
        return "".join([*lines[:at], line, *lines[at:]])
    if spec.kind == "method":
        node = _find(tree, spec.target)
        indent = " " * node.body[0].col_offset
        method = f"\n{indent}def {added_name(edit)}(self):\n{indent}    return {edit}\n"
        assert node.end_lineno is not None
        return "".join([*lines[: node.end_lineno], method, *lines[node.end_lineno :]])
    if spec.kind == "constant":
        value = _assigned(tree, spec.target)
        prefix = "".join(f"\\u{ord(c):04x}" for c in constant_prefix(edit))
        return _insert(lines, value, _opening_quote(lines, value), prefix)
    if spec.kind == "export":
        value = _assigned(tree, "__all__")
        text = _insert(lines, value, 1, f"{added_name(edit)!r}, ")
        decorator = f"{spec.decorator}\n" if spec.decorator else ""
        function = (
            f"\n\n{decorator}def {added_name(edit)}(G):\n"
            f'    """Added by edit {edit}."""\n'
            f"    return {edit}\n"
        )
        return text.rstrip("\n") + "\n" + function
    raise ValueError(f"unknown edit kind {spec.kind!r}")


def _find(tree: ast.Module, qualname: str) -> Any:
    body: list[ast.stmt] = tree.body
    node: Any = None
    for part in qualname.split("."):
        node = next(
            (
                n
                for n in body
                if isinstance(n, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                and n.name == part
            ),
            None,
        )
        if node is None:
            raise LookupError(f"no definition {qualname!r} in the module")
        body = node.body
    return node


def _assigned(tree: ast.Module, name: str) -> ast.expr:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return node.value
    raise LookupError(f"no module-level assignment to {name!r}")


def _opening_quote(lines: list[str], value: ast.expr) -> int:
    """How many characters the string literal's prefix and opening quote take."""
    if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
        raise ValueError("the constant edit needs a plain string literal")
    start = lines[value.lineno - 1].encode()[value.col_offset :].decode()
    found = re.match(r"([uU]?)('''|\"\"\"|'|\")", start)
    if found is None:
        raise ValueError("not a plain (non-raw) string literal: " + start[:20])
    return found.end()


def _insert(lines: list[str], node: ast.expr, skip: int, text: str) -> str:
    """``text`` inserted ``skip`` characters after where ``node`` starts."""
    row = node.lineno - 1
    raw = lines[row].encode()
    head, tail = raw[: node.col_offset].decode(), raw[node.col_offset :].decode()
    lines = [*lines[:row], head + tail[:skip] + text + tail[skip:], *lines[row + 1 :]]
    return "".join(lines)


# -- the checks ---------------------------------------------------------------------------------


@dataclass
class Check:
    """After one edit: whether it shows in the edited module, and what is stale (category
    -> [stale, total])."""

    applied: bool
    stale: dict[str, list[int]] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)  # the stale readers or packages

    def to_json(self) -> dict[str, Any]:
        return {"applied": self.applied, "stale": self.stale, "stale_names": self.names}


def resolve(path: str) -> Any:
    """``module:attr.path`` -> the object it names now (``Class()`` makes an instance)."""
    module, _, attrs = path.partition(":")
    obj: Any = sys.modules[module]
    for attr in filter(None, attrs.split(".")):
        call = attr.endswith("()")
        obj = getattr(obj, attr.removesuffix("()"))
        if call:
            obj = obj()
    return obj


def all_subclasses(cls: type) -> Iterator[type]:
    """Every class that inherits from ``cls``, however deep."""
    seen: set[type] = set()
    todo = list(cls.__subclasses__())
    while todo:
        sub = todo.pop()
        if sub not in seen:
            seen.add(sub)
            todo.extend(sub.__subclasses__())
            yield sub


def _code_of(obj: Any) -> Any:
    if isinstance(obj, MethodType):
        obj = obj.__func__
    obj = getattr(obj, "__wrapped__", obj)
    return obj.__code__ if isinstance(obj, FunctionType) else None


def runs(obj: Any, edit: int) -> bool:
    """Whether calling ``obj`` (a function, a bound method) runs the code of edit ``edit``."""
    code = _code_of(obj)
    return code is not None and marker(edit) in code.co_consts


def texts(value: Any) -> Iterator[str]:
    """Every string in ``value``: itself, the items of containers, the pattern of a
    compiled regex's bound ``match`` (a pygments rule table holds those)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, re.Pattern):
        yield value.pattern
    elif isinstance(getattr(value, "__self__", None), re.Pattern):  # a Pattern's .match
        yield value.__self__.pattern
    elif isinstance(value, dict):
        for item in value.values():
            yield from texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from texts(item)


class Probe:
    """What a user holds before the first edit of ``spec``'s kind, and the check of it."""

    def __init__(self, spec: EditSpec) -> None:
        self.spec = spec
        self.module = sys.modules[spec.module]
        self.instance: Any = None
        if spec.instance.partition(":")[0] in sys.modules:  # made before any edit, as a
            self.instance = resolve(spec.instance)()  # notebook would have made it
        if spec.kind == "body":
            cls_name, _, self.attr = spec.target.rpartition(".")
            self.cls = resolve(f"{spec.module}:{cls_name}")
            self.held = getattr(self.cls, self.attr)
            self.bound = getattr(self.instance, self.attr) if self.instance is not None else None
            self.subclasses = [
                s
                for s in all_subclasses(self.cls)
                if s.__module__ != spec.module and getattr(s, self.attr) is self.held
            ]
        elif spec.kind == "method":
            self.cls = resolve(f"{spec.module}:{spec.target}")
            self.subclasses = [s for s in all_subclasses(self.cls) if s.__module__ != spec.module]
        elif spec.kind == "constant":
            self.original = getattr(self.module, spec.target)

    def check(self, edit: int) -> Check:
        """What shows edit ``edit`` and what is stale."""
        kind = self.spec.kind
        if kind == "body":
            return self._check_body(edit)
        if kind == "method":
            return self._check_method(edit)
        if kind == "constant":
            return self._check_constant(edit)
        return self._check_export(edit)

    def _check_body(self, edit: int) -> Check:
        current = getattr(getattr(self.module, self.cls.__name__), self.attr)
        refs = [self.held] + ([self.bound] if self.bound is not None else [])
        return Check(
            runs(current, edit),
            {
                "refs": _count(not runs(r, edit) for r in refs),
                "subclasses": _count(
                    not runs(getattr(s, self.attr), edit) for s in self.subclasses
                ),
            },
        )

    def _check_method(self, edit: int) -> Check:
        name = added_name(edit)
        current = getattr(self.module, self.spec.target)

        def has(obj: Any) -> bool:
            method = getattr(obj, name, None)
            return method is not None and (isinstance(obj, type) or method() == edit)

        refs = [self.cls] + ([self.instance] if self.instance is not None else [])
        return Check(
            has(current),
            {
                "refs": _count(not has(r) for r in refs),
                "subclasses": _count(not has(s) for s in self.subclasses),
            },
        )

    def _check_constant(self, edit: int) -> Check:
        new = constant_prefix(edit) + self.original
        applied = getattr(self.module, self.spec.target) == new
        stale = [r for r in self.spec.readers if not any(new in t for t in texts(resolve(r)))]
        return Check(applied, {"dependents": [len(stale), len(self.spec.readers)]}, stale)

    def _check_export(self, edit: int) -> Check:
        name = added_name(edit)
        applied = hasattr(self.module, name) and name in getattr(self.module, "__all__", ())
        stale = [p for p in self.spec.packages if not hasattr(importlib.import_module(p), name)]
        return Check(applied, {"exports": [len(stale), len(self.spec.packages)]}, stale)


def _count(stale: Iterator[bool] | Any) -> list[int]:
    flags = list(stale)
    return [sum(flags), len(flags)]
