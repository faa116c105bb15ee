"""Dependency order for a reload plan: each module after the modules it depends on, the
members of an import cycle (and modules free to go in any order) in original import order."""

from __future__ import annotations

import heapq
import sys
from collections.abc import Mapping, Sequence

__all__ = ["dependency_order", "strongly_connected"]


def dependency_order(
    mods: Sequence[str], depends: Mapping[str, Sequence[str]], import_order: Mapping[str, int]
) -> list[str]:
    """``mods`` with each module after the modules of ``mods`` it depends on; the modules of a
    cycle, and modules free to go in any order, go in ``import_order`` (missing = last)."""

    def key(m: str) -> tuple[int, str]:
        return (import_order.get(m, sys.maxsize), m)

    members = set(mods)
    deps = {m: [d for d in depends.get(m, ()) if d in members and d != m] for m in mods}
    components = strongly_connected(sorted(mods, key=key), deps)
    component_of = {m: i for i, comp in enumerate(components) for m in comp}
    waiting_on = [0] * len(components)
    needed_by: list[set[int]] = [set() for _ in components]
    for m, ds in deps.items():
        for d in ds:
            a, b = component_of[m], component_of[d]
            if a != b and a not in needed_by[b]:
                needed_by[b].add(a)
                waiting_on[a] += 1
    ready = [(min(map(key, comp)), i) for i, comp in enumerate(components) if not waiting_on[i]]
    heapq.heapify(ready)
    out: list[str] = []
    while ready:
        _, i = heapq.heappop(ready)
        out.extend(sorted(components[i], key=key))
        for j in needed_by[i]:
            waiting_on[j] -= 1
            if not waiting_on[j]:
                heapq.heappush(ready, (min(map(key, components[j])), j))
    return out


def strongly_connected(nodes: Sequence[str], deps: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (import chains can be deeper than the recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    for start in nodes:
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            children = deps[node]
            if i < len(children):
                work.append((node, i + 1))
                child = children[i]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            if low[node] == index[node]:
                comp: list[str] = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    comp.append(m)
                    if m == node:
                        break
                out.append(comp)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return out
