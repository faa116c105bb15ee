"""The real code bases: pinned wheels from PyPI, unpacked once, copied in as a user's project.

Each :class:`CodeBase` names its release, the package the wheel holds and the edits that
exist naturally in it (:class:`EditSpec`; the text of an edit and its checks are
``edits.py``'s). A wheel is downloaded with ``pip download --no-deps`` into the cache directory
the first time and unpacked beside it; every contender gets a copy of its own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class EditSpec:
    """One kind of edit in one code base.

    ``kind`` is ``body`` (a line added to the body of ``target``, a function or method),
    ``method`` (a new method on the class ``target``), ``constant`` (a new value for the
    module-level string ``target``) or ``export`` (a new function in ``__all__``).
    ``instance`` (``module:Class``) is a subclass, defined in another module, of which the
    checks make an instance before the first edit. ``readers`` are the values other modules
    computed from the constant at import time (``module:attr.path``); ``packages`` the
    namespaces the new function reaches through star imports."""

    kind: str
    module: str
    target: str
    what: str
    instance: str = ""
    readers: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    decorator: str = ""


@dataclass(frozen=True)
class CodeBase:
    """A pinned release of a real library, edited as if it were the user's project."""

    key: str
    requirement: str  # name==version, for pip download
    package: str  # the top-level package the wheel holds
    shape: str
    edits: tuple[EditSpec, ...]
    # The body edit once more in a process that imports only these modules: the same edit
    # without the few hundred dependents that do not read what it changed.
    bare: tuple[str, ...] = ()
    skip: tuple[str, ...] = field(default=("tests", "testing", "conftest", "__main__"))

    @property
    def name(self) -> str:
        return self.requirement.partition("==")[0]

    @property
    def version(self) -> str:
        return self.requirement.partition("==")[2]

    def edit(self, kind: str) -> EditSpec:
        return next(e for e in self.edits if e.kind == kind)


PYGMENTS = CodeBase(
    key="pygments",
    requirement="pygments==2.19.1",
    package="pygments",
    shape="hub: ~250 lexer modules import pygments.lexer and subclass RegexLexer",
    edits=(
        EditSpec(
            "body",
            "pygments.lexer",
            "RegexLexer.get_tokens_unprocessed",
            "body edit of RegexLexer.get_tokens_unprocessed (lexer.py, 961 lines; every "
            "regex lexer runs it)",
            instance="pygments.lexers.python:PythonLexer",
        ),
        EditSpec(
            "method",
            "pygments.lexer",
            "RegexLexer",
            "new method on RegexLexer (subclassed in ~250 modules)",
            instance="pygments.lexers.python:PythonLexer",
        ),
        EditSpec(
            "constant",
            "pygments.unistring",
            "xid_start",
            "new value of unistring.xid_start (read at import time by 3 lexer modules)",
            instance="pygments.lexers.python:PythonLexer",
            readers=(
                "pygments.lexers.python:PythonLexer.uni_name",
                "pygments.lexers.python:PythonLexer()._tokens",
                "pygments.lexers.mojo:MojoLexer.uni_name",
                "pygments.lexers.wgsl:ident_pattern_token",
            ),
        ),
    ),
    bare=("pygments.lexer",),
)

NETWORKX = CodeBase(
    key="networkx",
    requirement="networkx==3.4.2",
    package="networkx",
    shape="star imports: package __init__s re-export their modules' __all__ up to "
    "networkx/__init__; Graph <- DiGraph, MultiGraph <- MultiDiGraph",
    edits=(
        EditSpec(
            "body",
            "networkx.classes.graph",
            "Graph.nbunch_iter",
            "body edit of Graph.nbunch_iter (graph.py, 2,058 lines; inherited by every graph "
            "class, called by the algorithms)",
            instance="networkx.classes.digraph:DiGraph",
        ),
        EditSpec(
            "method",
            "networkx.classes.graph",
            "Graph",
            "new method on Graph (subclassed in other modules, two levels deep)",
            instance="networkx.classes.digraph:DiGraph",
        ),
        EditSpec(
            "export",
            "networkx.algorithms.traversal.breadth_first_search",
            "__all__",
            "new @nx._dispatchable function in breadth_first_search.__all__ (re-exported by "
            "3 star imports up to networkx)",
            packages=("networkx.algorithms.traversal", "networkx.algorithms", "networkx"),
            decorator="@nx._dispatchable",
        ),
    ),
)

CODEBASES = {cb.key: cb for cb in (PYGMENTS, NETWORKX)}


def default_cache() -> Path:
    """Where wheels are kept between runs: ``$XDG_CACHE_HOME/ipython_hotreload-bench``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ipython_hotreload-bench"


def unpacked(codebase: CodeBase, cache: Path) -> Path:
    """The directory holding ``codebase.package`` as the wheel ships it (downloaded and
    unpacked on first use)."""
    target = cache / "src" / f"{codebase.name}-{codebase.version}"
    if (target / codebase.package).is_dir():
        return target
    wheel = _wheel(codebase, cache / "wheels")
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(partial)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def _wheel(codebase: CodeBase, wheels: Path) -> Path:
    prefix = f"{codebase.name}-{codebase.version}-".lower()

    def found() -> Path | None:
        if not wheels.is_dir():
            return None
        return next((p for p in wheels.iterdir() if p.name.lower().startswith(prefix)), None)

    wheel = found()
    if wheel is None:
        wheels.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        cmd += ["--quiet", "--dest", str(wheels), codebase.requirement]
        print(f"[downloading {codebase.requirement} into {wheels}]", file=sys.stderr)
        subprocess.run(cmd, check=True)
        wheel = found()
    if wheel is None:
        raise RuntimeError(f"pip download gave no wheel for {codebase.requirement}")
    return wheel


def copy_project(codebase: CodeBase, cache: Path, dest: Path) -> Path:
    """A fresh copy of the package under ``dest`` (the project root put on ``sys.path``)."""
    src = unpacked(codebase, cache) / codebase.package
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    shutil.copytree(src, dest / codebase.package, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def module_names(codebase: CodeBase, root: Path) -> list[str]:
    """Every module of the package under ``root`` a user would have loaded: all but the
    tests and ``__main__``, packages before their modules."""
    names = []
    for path in sorted((root / codebase.package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if any(p in codebase.skip or p.startswith("test_") for p in parts):
            continue
        names.append(".".join(parts))
    return names


def path_of(root: Path, module: str) -> Path:
    """The file of ``module`` under ``root`` (a package's ``__init__.py``)."""
    base = root.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
