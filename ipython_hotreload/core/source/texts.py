"""The two texts a reload compares: a module's new source (:class:`Source`) and the source a
loaded module runs now (:class:`Running`).

A leaf: every stage reads these, none of them is defined by a stage.
"""

from __future__ import annotations

import ast
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import CodeType

from ipython_hotreload.core.paths import Stamp
from ipython_hotreload.core.source.statements import ModuleIndex

__all__ = ["Running", "Source", "code_filename"]


@dataclass
class Source:
    """One module's new source, parsed and compiled once (by :mod:`.compiler`)."""

    mod: str
    path: Path
    data: bytes
    full: bool  # carries a full payload (a file the user saved) rather than a bare one
    stamp: Stamp | None = None  # (mtime_ns, size) of exactly these bytes
    tree: ast.Module | None = None
    code: CodeType | None = None
    text: str = ""
    reused: bool = False  # the code of an unchanged file, kept from its last execution
    kept: bool = False  # the text the module runs, not its file's (which holds a failed edit)
    filename: str = ""  # the code's file name (the module's __file__ when it is this file)
    index: ModuleIndex | None = None  # its statement index, when made while compiling

    def compiled(self) -> CodeType:
        """The whole module's code: compiled from the text on first use when only the edited
        statements were (a spliced parse, :mod:`.splice`)."""
        if self.code is None:
            flags = self.index.future_flags if self.index is not None else 0
            self.code = compile(self.data, self.filename, "exec", flags=flags, dont_inherit=True)
        return self.code


@dataclass(frozen=True)
class Running:
    """The source a loaded module runs, read statement by statement, or why it is not
    known exactly."""

    index: ModuleIndex | None
    filename: str
    why: str | None = None


def code_filename(mod: str, path: Path) -> str:
    """The file name code compiled for module ``mod`` from ``path`` carries: the module's own
    ``__file__`` when it names that file (tracebacks and ``inspect`` then agree with the
    import system), else ``path``."""
    module = sys.modules.get(mod)
    file = getattr(module, "__file__", None)
    if isinstance(file, str) and os.path.exists(file) and os.path.samefile(file, path):
        return file
    return str(path)
