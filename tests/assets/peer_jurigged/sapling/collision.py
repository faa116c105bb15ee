from __future__ import annotations

print_function = "a global that shares its name with a __future__ feature"


def echo(a: NotDefinedAnywhere) -> str:
    return a
