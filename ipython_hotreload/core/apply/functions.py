"""Functions patched in place: the one patcher, and how a function is found and compiled anew.

:func:`defined_in` tells the functions and classes a module defines (those a reload may keep
in place) from what it imported. :func:`adopt` is the only place where a function object
takes another's code. Its one rule
for closures: CPython binds a code object's free variables to the function's cells by
position, so the new code must close over as many variables as the old; each of the old
function's cells then takes the new one's value (a renamed variable included), unless both
hold the same definition, which ``same`` pairs (a kept class for ``super()``'s
``__class__`` cell, a decorated function the reload patched too). A closure of another
shape cannot be patched: the caller replaces the function or runs its statement instead.
With ``keep_cells`` (a closure a factory made before the edit), the cells are its state (a
counter, a cache) and stay as they are: the new code must name the same free variables.

:func:`nested_changes` tells an edit confined to functions nested in another (an inner
``def``, a ``lambda`` a factory returns) from one of the enclosing function's own code, and
:func:`patch_closures` gives every function made from an old inner code object the new code,
keeping its cells. Those functions can be held anywhere, so they are found through the old
code object (``gc.get_referrers``): a walk of the heap, paid only for such an edit.

:class:`Site` is where a ``def`` lives (a module's namespace, the classes around it): it
finds the function object a ``def`` made, behind decorators (``__wrapped__``, closures,
descriptors, registries, wrapper objects), and compiles a new ``def`` as its class would
(defaults that read class attributes, name mangling, the ``__class__`` cell), with its
decorators left out, so nothing is registered twice.
"""

from __future__ import annotations

import ast
import copy
import functools
import gc
import os
import sys
from collections.abc import Callable
from types import CodeType, FunctionType, ModuleType
from typing import Any, NamedTuple, TypeVar

from ipython_hotreload.core.apply.journal import MISSING, Journal, cell_value

__all__ = [
    "FUNCTION_ATTRS",
    "LRU_WRAPPER",
    "Found",
    "Site",
    "adopt",
    "defined_in",
    "inner_codes",
    "nested_changes",
    "patch_closures",
    "same_shape",
    "shifted",
]

#: What a patched function takes from the new one (its ``__dict__``, what decorators put
#: there, is the caller's to merge).
FUNCTION_ATTRS = ("__code__", "__defaults__", "__kwdefaults__", "__annotations__", "__doc__")
if sys.version_info >= (3, 12):
    FUNCTION_ATTRS = (*FUNCTION_ATTRS, "__type_params__")

#: The type of what ``functools.lru_cache`` (and ``functools.cache``) make of a function.
LRU_WRAPPER = type(functools.lru_cache(maxsize=None)(lambda: None))

_KEEP = "__hotreload_keep__"
_SCOPE = "__hotreload_scope{}__"
_MAX_DEPTH = 5


def defined_in(obj: Any, modname: str) -> bool:
    """Is ``obj`` a function or class that module ``modname`` defines (or a wrapper of one)?"""
    if isinstance(obj, FunctionType | type | LRU_WRAPPER):
        return getattr(obj, "__module__", None) == modname and isinstance(
            getattr(obj, "__qualname__", None), str
        )
    return False


def adopt(
    journal: Journal,
    old: FunctionType,
    new: FunctionType,
    same: Callable[[Any, Any], bool] = lambda old, new: False,
    *,
    keep_cells: bool = False,
) -> bool:
    """``old`` takes ``new``'s code, defaults, annotations, docstring and closure values
    (the values ``same`` pairs stay); False, changing nothing, when ``new`` closes over
    another number of variables. With ``keep_cells``, ``old`` takes the code and docstring
    only, and keeps its cells (False when the new code names other free variables)."""
    if keep_cells:
        if old.__code__.co_freevars != new.__code__.co_freevars:
            return False
        for attr in ("__code__", "__doc__"):
            value = getattr(new, attr)
            if getattr(old, attr) is not value:
                journal.setattr(old, attr, value)
        return True
    if len(old.__code__.co_freevars) != len(new.__code__.co_freevars):
        return False
    for old_cell, new_cell in zip(old.__closure__ or (), new.__closure__ or (), strict=True):
        ov, nv = cell_value(old_cell), cell_value(new_cell)
        if ov is nv or (ov is not MISSING and nv is not MISSING and same(ov, nv)):
            continue
        journal.set_cell(old_cell, nv)
    for attr in FUNCTION_ATTRS:
        value = getattr(new, attr)
        if getattr(old, attr) is not value:
            journal.setattr(old, attr, value)
    return True


def nested_changes(old: CodeType, new: CodeType) -> list[tuple[CodeType, CodeType]] | None:
    """When ``new`` differs from ``old`` only in the code of functions nested in it (at any
    depth): the (old, new) code objects of each nested function whose own code changed, or
    that encloses one that did (empty: no change but line numbers). None when ``old``'s own
    code changed (its statements, its constants, its variables)."""
    if not same_shape(old, new):
        return None
    pairs: list[tuple[CodeType, CodeType]] = []
    inner = [
        (a, b)
        for a, b in zip(old.co_consts, new.co_consts, strict=True)
        if isinstance(a, CodeType) and isinstance(b, CodeType)
    ]
    for a, b in inner:
        if a.co_name != b.co_name:
            return None
        deeper = nested_changes(a, b)
        if deeper is None or deeper:
            pairs.append((a, b))  # its own code changed, or encloses a change
            pairs += deeper or []
    return pairs


def inner_codes(old: CodeType, new: CodeType) -> list[tuple[CodeType, CodeType]]:
    """The code objects of the functions nested in ``old`` and ``new`` (at any depth),
    paired by position and name."""
    old_inner = [c for c in old.co_consts if isinstance(c, CodeType)]
    new_inner = [c for c in new.co_consts if isinstance(c, CodeType)]
    pairs: list[tuple[CodeType, CodeType]] = []
    for a, b in zip(old_inner, new_inner, strict=False):
        if a.co_name == b.co_name:
            pairs += [(a, b), *inner_codes(a, b)]
    return pairs


def same_shape(old: CodeType, new: CodeType) -> bool:
    """The same code but for the code objects nested in it and line numbers."""
    if (
        old.co_code != new.co_code
        or old.co_names != new.co_names
        or old.co_varnames != new.co_varnames
        or old.co_freevars != new.co_freevars
        or old.co_cellvars != new.co_cellvars
        or old.co_flags != new.co_flags
        or old.co_argcount != new.co_argcount
        or old.co_posonlyargcount != new.co_posonlyargcount
        or old.co_kwonlyargcount != new.co_kwonlyargcount
        or old.co_exceptiontable != new.co_exceptiontable
        or len(old.co_consts) != len(new.co_consts)
    ):
        return False
    for a, b in zip(old.co_consts, new.co_consts, strict=True):
        if isinstance(a, CodeType) or isinstance(b, CodeType):
            if not (isinstance(a, CodeType) and isinstance(b, CodeType)):
                return False
        elif type(a) is not type(b) or a != b:
            return False
    return True


def patch_closures(journal: Journal, old: CodeType, new: CodeType) -> bool:
    """Every function made from code ``old`` (closures a factory returned, held anywhere)
    takes code ``new`` and keeps its cells; False, changing nothing, when ``new`` names
    other free variables than ``old``."""
    if old.co_freevars != new.co_freevars:
        return False
    made = [f for f in gc.get_referrers(old) if type(f) is FunctionType and f.__code__ is old]
    for fn in made:
        fresh = FunctionType(new, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
        adopt(journal, fn, fresh, keep_cells=True)
    return True


class Found(NamedTuple):
    """A function a ``def`` made, and what wraps it on the way from its name."""

    fn: FunctionType
    caches: list[Any]  # wrappers with a ``cache_clear`` (functools.cache, lru_cache)
    wrappers: list[Any]  # wrappers with a ``__wrapped__`` (functools.wraps)


class Site:
    """Where a ``def`` lives: a module's namespace and the classes around it (``path``,
    outermost first), compiled under ``filename`` with ``flags``."""

    def __init__(
        self, ns: dict[str, Any], path: tuple[str, ...], filename: str, flags: int
    ) -> None:
        self.ns = ns
        self.path = path
        self.filename = filename
        self.flags = flags
        self.classes = _classes(ns, path)  # None: one of them is not a class any more

    def find(self, name: str, node: ast.stmt, start: int) -> Found | None:
        """The function object made by the ``def name`` at line ``start`` (``node`` its
        statement), found behind its decorators."""
        if self.classes is None:
            return None
        space: Any = self.classes[-1].__dict__ if self.classes else self.ns
        roots = [space.get(name)]
        for d in getattr(node, "decorator_list", []):
            root = d.func if isinstance(d, ast.Call) else d
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name):
                roots.append(space.get(root.id, self.ns.get(root.id)))
        want = (name, start, os.path.basename(self.filename))
        for root in roots:
            hit = _search(root, want, [], set(), 0)
            if hit is not None:
                return hit
        return None

    def compile(self, node: ast.FunctionDef | ast.AsyncFunctionDef, *, decorated: bool) -> Any:
        """The ``def`` compiled as its module would: without its decorators (None if it is
        not a function then), or with them (what the statement binds; ``MISSING`` if
        nothing)."""
        if self.classes is None:
            return None
        node = copy.copy(node)
        if not decorated:
            node.decorator_list = [
                ast.copy_location(ast.Name(_KEEP, ast.Load()), d) for d in node.decorator_list
            ]
        scratch: dict[str, Any] = {_KEEP: _identity}
        wrapped: ast.stmt = node
        for depth in range(len(self.path) - 1, -1, -1):
            # Only the new nodes take the def's location (fix_missing_locations would walk
            # the whole body, which has its own).
            stand_in = _at(ast.Name(_SCOPE.format(depth), ast.Load()), node)
            keyword = _at(ast.keyword("metaclass", stand_in), node)
            wrapped = _at(ast.ClassDef(self.path[depth], [], [keyword], [wrapped], []), node)
        scopes = [_ClassScope(cls) for cls in self.classes]
        for depth, scope in enumerate(scopes):
            # Each stand-in is named where its class statement runs: the outer body.
            outer = scopes[depth - 1].extra if depth else scratch
            outer[_SCOPE.format(depth)] = scope
            scope.extra[_KEEP] = _identity
        module = ast.Module([wrapped], [])
        code = compile(module, self.filename, "exec", flags=self.flags, dont_inherit=True)
        exec(code, self.ns, scratch)
        holder: Any = scratch
        for name in self.path:
            holder = holder[name]
        fn = holder.get(node.name, MISSING)
        if decorated:
            return fn
        return fn if isinstance(fn, FunctionType) else None


def _classes(ns: dict[str, Any], path: tuple[str, ...]) -> list[type] | None:
    out: list[type] = []
    holder: Any = ns
    for name in path:
        cls = holder.get(name) if isinstance(holder, dict) else holder.__dict__.get(name)
        if not isinstance(cls, type):
            return None
        out.append(cls)
        holder = cls
    return out


_Node = TypeVar("_Node", bound=ast.AST)


def _at(new: _Node, old: ast.AST) -> _Node:
    return ast.copy_location(new, old)


def _identity(obj: Any) -> Any:
    return obj


class _ClassScope:
    """Stands in for a class's metaclass while one of its methods is compiled anew: the body
    runs in a copy of the real class's namespace, and the ``__class__`` cell (``super()``)
    is the real class."""

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self.extra: dict[str, Any] = {}

    def __prepare__(self, name: str, bases: tuple[type, ...], **kw: Any) -> dict[str, Any]:
        ns = {k: v for k, v in self.cls.__dict__.items() if k not in ("__dict__", "__weakref__")}
        ns.update(self.extra)
        return ns

    def __call__(self, name: str, bases: tuple[type, ...], ns: dict[str, Any], **kw: Any) -> Any:
        cell = ns.pop("__classcell__", None)
        if cell is not None:
            cell.cell_contents = self.cls
        return ns


def _search(
    obj: Any, want: tuple[str, int, str], path: list[Any], seen: set[int], depth: int
) -> Found | None:
    if obj is None or id(obj) in seen or depth > _MAX_DEPTH:
        return None
    seen.add(id(obj))
    if isinstance(obj, FunctionType):
        code = obj.__code__
        if (
            code.co_name == want[0]
            and code.co_firstlineno == want[1]
            and os.path.basename(code.co_filename) == want[2]
        ):
            caches = [w for w in path if callable(getattr(w, "cache_clear", None))]
            wrappers = [w for w in path if getattr(w, "__wrapped__", None) is not None]
            return Found(obj, caches, wrappers)
    here = [*path, obj]
    for child in _children(obj):
        hit = _search(child, want, here, seen, depth + 1)
        if hit is not None:
            return hit
    return None


def _children(obj: Any) -> list[Any]:
    """What may hold the function a decorator wrapped."""
    if isinstance(obj, (str, bytes, int, float, bool, ModuleType, type)):
        return []
    out: list[Any] = []
    for attr in ("__wrapped__", "__func__", "fget", "fset", "fdel", "func", "wrapped"):
        try:
            value = getattr(obj, attr, None)
        except Exception:  # noqa: BLE001 - a descriptor's own getattr may raise anything
            continue
        if value is not None:
            out.append(value)
    if isinstance(obj, FunctionType):
        for cell in obj.__closure__ or ():
            try:
                out.append(cell.cell_contents)
            except ValueError:
                pass
        registry = obj.__dict__.get("registry")
        if registry is not None:
            out.extend(_mapping_values(registry))
        return out
    if isinstance(obj, dict):
        return [*out, *list(obj.values())[:64]]
    if isinstance(obj, (list, tuple)):
        return [*out, *list(obj)[:64]]
    d = getattr(obj, "__dict__", None)
    if isinstance(d, dict):
        out.extend(
            v
            for v in list(d.values())[:64]
            if callable(v) or isinstance(v, (dict, list, tuple)) or hasattr(v, "__dict__")
        )
    return out


def _mapping_values(mapping: Any) -> list[Any]:
    try:
        return list(mapping.values())
    except Exception:  # noqa: BLE001 - a foreign mapping may raise anything
        return []


def shifted(code: CodeType, delta: int) -> CodeType:
    """``code`` (and the code nested in it) ``delta`` lines further down."""
    consts = tuple(shifted(c, delta) if isinstance(c, CodeType) else c for c in code.co_consts)
    return code.replace(co_firstlineno=code.co_firstlineno + delta, co_consts=consts)
