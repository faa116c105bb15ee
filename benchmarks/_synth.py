"""A synthetic project for the benchmarks: ``make_project(root, n)`` writes package ``synth``.

Layout (``n`` modules in all, ``n >= 4``)::

    synth/__init__.py
    synth/hub.py                 imported (used as a decorator, a compile edge) by 10% of leaves
    synth/gNN/__init__.py        groups of up to 50 leaves
    synth/gNN/mNNNNN.py          leaves: each imports 1-3 earlier leaves

Every kind of edge is present: a leaf uses one sibling's constant at module level (compile),
binds another's function and calls it only inside a function (export), and reaches a third
only at call time (runtime: ``import`` at module level used in a function, or an import
inside a function). Leaves only import earlier leaves, so every module imports cleanly in
any order, quickly (the reload benchmarks import the whole project).
"""

from __future__ import annotations

import random
from pathlib import Path

__all__ = ["GROUP_SIZE", "make_project"]

GROUP_SIZE = 50
_STYLES = ("compile", "export", "runtime")

_HUB = '''"""The hub: a registry that a tenth of the project uses at import time."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])

REGISTRY: dict[str, Callable[..., object]] = {}
VERSION = 1


def register(func: F) -> F:
    """Record ``func`` under its qualified name and return it unchanged."""
    REGISTRY[f"{func.__module__}.{func.__qualname__}"] = func
    return func


def lookup(name: str) -> Callable[..., object] | None:
    """The registered function called ``name``, if any."""
    return REGISTRY.get(name)


def count() -> int:
    """How many functions are registered."""
    return len(REGISTRY)
'''

_LEAF = '''"""Synthetic module {k}: a few functions, a class, and imports of its siblings."""

from __future__ import annotations

import math
{imports}
CONST = {k}
{module_level}

{decorator}def helper(x: int) -> int:
    """Return ``x`` plus this module's constant, the long way."""
    total = x + CONST
    for i in range(3):
        total += i
    return total


def uses() -> list[object]:
    """Reach what this module imports for call time only."""
    out: list[object] = []
{function_level}    return out


class Thing:
    """A small class with a few methods."""

    def __init__(self, value: int = CONST) -> None:
        self.value = value

    def double(self) -> int:
        """Twice the value."""
        return self.value * 2

    @property
    def root(self) -> float:
        """The square root of the magnitude."""
        return math.sqrt(abs(self.value))

    def describe(self) -> str:
        """A short description."""
        return f"Thing({{self.value}}) in {{__name__}}"
'''


def _leaf_name(k: int, package: str = "synth") -> str:
    return f"{package}.g{k // GROUP_SIZE:02d}.m{k:05d}"


def _leaf_source(
    k: int, imports: list[tuple[int, str]], uses_hub: bool, rng: random.Random, package: str
) -> str:
    lines: list[str] = []
    module_level: list[str] = []
    function_level: list[str] = []
    if uses_hub:
        lines.append(f"from {package}.hub import register")
    for j, style in imports:
        name = _leaf_name(j, package)
        if style == "compile":
            lines.append(f"from {name} import CONST as const_{j}")
            module_level.append(f"FROM_{j} = const_{j} + 1")
        elif style == "export":
            lines.append(f"from {name} import helper as helper_{j}")
            function_level.append(f"    out.append(helper_{j}(1))")
        elif rng.random() < 0.5:
            lines.append(f"import {name}")
            function_level.append(f"    out.append({name}.Thing().double())")
        else:
            function_level.append(f"    from {name} import Thing as Thing_{j}")
            function_level.append(f"    out.append(Thing_{j}().root)")
    return _LEAF.format(
        k=k,
        imports="\n".join(lines) + ("\n" if lines else ""),
        module_level="\n".join(module_level),
        decorator="@register\n" if uses_hub else "",
        function_level="".join(f"{line}\n" for line in function_level),
    )


def make_project(root: Path, n: int, *, seed: int = 0, package: str = "synth") -> list[str]:
    """Write the synthetic package ``package`` of ``n`` modules under ``root``; returns the
    module names (packages before their modules, each after the modules it imports)."""
    if n < 4:
        raise ValueError("a synthetic project needs at least 4 modules")
    rng = random.Random(seed)
    groups = -(-(n - 2) // (GROUP_SIZE + 1))
    leaves = n - 2 - groups
    pkg = root / package
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text('"""A synthetic project."""\n')
    (pkg / "hub.py").write_text(_HUB)
    names = [package, f"{package}.hub"]
    hub_users = set(rng.sample(range(leaves), max(1, leaves // 10)))
    for k in range(leaves):
        if k % GROUP_SIZE == 0:
            group = pkg / f"g{k // GROUP_SIZE:02d}"
            group.mkdir(exist_ok=True)
            (group / "__init__.py").write_text(f'"""Group {k // GROUP_SIZE}."""\n')
            names.append(f"{package}.g{k // GROUP_SIZE:02d}")
        imports: list[tuple[int, str]] = []
        if k:
            # Mostly near neighbours (a package's modules import each other), some far.
            near = range(max(0, k - 20), k)
            picks = rng.sample(near, min(len(near), rng.randint(1, 3)))
            if rng.random() < 0.3:
                picks[0] = rng.randrange(k)
            # Rotating the styles puts all three kinds in every stretch of the project.
            imports = [(j, _STYLES[(k + i) % 3]) for i, j in enumerate(dict.fromkeys(picks))]
        path = pkg / f"g{k // GROUP_SIZE:02d}" / f"m{k:05d}.py"
        path.write_text(_leaf_source(k, imports, k in hub_users, rng, package))
        names.append(_leaf_name(k, package))
    while len(names) < n:  # group rounding left a module short: pad with an empty group
        extra = pkg / f"g{len(names):02d}x"
        extra.mkdir(exist_ok=True)
        (extra / "__init__.py").write_text('"""An empty group."""\n')
        names.append(f"{package}.{extra.name}")
    return names
