from __future__ import annotations


def echo(a: NotDefinedAnywhere) -> str:
    return a
