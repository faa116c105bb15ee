"""Naming one definition of a module: ``"pkg.mod:Class.method"``, ``"pkg.mod:func"`` or
``"path/to/mod.py::Class.method"`` (SPEC §1.6)."""

from __future__ import annotations

from dataclasses import dataclass

from ipython_hotreload.errors import HotReloadError

__all__ = ["Target", "is_definition_target", "parse_target"]

_TARGET_HELP = "use 'pkg.mod:func', 'pkg.mod:Class.method' or 'path/to/mod.py::Class.method'"


@dataclass(frozen=True)
class Target:
    """A definition named by module or by file, and its qualified name in that module."""

    qualname: str
    module: str | None = None
    path: str | None = None

    @property
    def parts(self) -> list[str]:
        """The qualified name's parts: ``["Class", "method"]``."""
        return self.qualname.split(".")

    @property
    def name(self) -> str:
        """The definition's own name (the last part)."""
        return self.parts[-1]

    def __str__(self) -> str:
        if self.path is not None:
            return f"{self.path}::{self.qualname}"
        return f"{self.module}:{self.qualname}"


def _dotted(text: str) -> bool:
    return bool(text) and all(part.isidentifier() for part in text.split("."))


def is_definition_target(text: str) -> bool:
    """Does ``text`` name a definition (``mod:qual`` or ``file.py::qual``) rather than a file?"""
    text = text.strip()
    if "::" in text:
        path, _, qual = text.rpartition("::")
        return path.endswith(".py") and _dotted(qual)
    mod, sep, qual = text.partition(":")
    return bool(sep) and _dotted(mod) and _dotted(qual)


def parse_target(text: str) -> Target:
    """Parse a target string; a :class:`HotReloadError` says how to write one otherwise."""
    if not isinstance(text, str):
        raise HotReloadError(f"a definition target must be a string; {_TARGET_HELP}")
    stripped = text.strip()
    if "::" in stripped:
        path, _, qual = stripped.rpartition("::")
        if not path.endswith(".py"):
            raise HotReloadError(
                f"{text!r}: the part before '::' must be a .py file; {_TARGET_HELP}"
            )
        if not _dotted(qual):
            raise HotReloadError(f"{text!r}: {qual!r} is not a qualified name; {_TARGET_HELP}")
        return Target(qual, path=path)
    mod, sep, qual = stripped.partition(":")
    if sep and mod.endswith(".py") and _dotted(qual):
        # More likely a file with one colon too few than a submodule named "py".
        raise HotReloadError(f"{text!r}: a file's definitions are named {mod}::{qual} (two colons)")
    if not sep or not _dotted(mod) or not _dotted(qual):
        raise HotReloadError(f"{text!r} is not a definition target; {_TARGET_HELP}")
    return Target(qual, module=mod)
