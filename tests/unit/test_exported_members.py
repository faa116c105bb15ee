"""The public surface is exactly what SPEC section 1 names, re-exported from the package."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import ipython_hotreload as hr

PUBLIC = {
    # SPEC 1: the module-level API and the error hierarchy.
    "reload",
    "purge_module",
    "compile_dep_edges",
    "subscribe",
    "HotReloader",
    "ModuleEvent",
    "HotReloadError",
    "ReloadError",
    "UnsafePathError",
    "SourceWriteError",
    "ConflictError",
    # SPEC 1.6 and 1.7: one definition at a time, history and undo.
    "reload_definition",
    "source_of",
    "history",
    "undo",
    # The handle subscribe() returns, and the default reloader the functions act on.
    "Subscription",
    "default_reloader",
    "set_default_reloader",
    # SPEC 2.4: cluster workers.
    "attach_dask",
    "detach_dask",
    # IPython's extension entry points (%load_ext / %unload_ext).
    "load_ipython_extension",
    "unload_ipython_extension",
}


def test_all_is_exactly_the_public_names() -> None:
    assert set(hr.__all__) == PUBLIC
    assert len(hr.__all__) == len(PUBLIC), "a name is listed twice"


def test_all_is_sorted() -> None:
    assert hr.__all__ == sorted(hr.__all__)


def test_every_name_resolves() -> None:
    for name in hr.__all__:
        assert getattr(hr, name, None) is not None, name


def test_nothing_public_is_left_out_of_all() -> None:
    # Everything else at the package root is a submodule, private, or an import of typing.
    extra = {
        name
        for name, value in vars(hr).items()
        if not name.startswith("_") and not isinstance(value, type(hr)) and name not in PUBLIC
    }
    assert extra <= {"annotations", "Any", "TYPE_CHECKING"}, extra


def test_errors_share_one_base() -> None:
    for name in ("ReloadError", "UnsafePathError", "SourceWriteError", "ConflictError"):
        assert issubclass(getattr(hr, name), hr.HotReloadError)


def test_every_exception_the_package_defines_derives_from_the_one_base() -> None:
    # Every module of the package (adapters too: they import IPython, widgets, dask).
    root = Path(hr.__file__).parent
    names = sorted(
        "ipython_hotreload." + ".".join(p.relative_to(root).with_suffix("").parts)
        for p in root.rglob("*.py")
        if p.name != "__main__.py"
    )
    defined = []
    for name in names:
        module = importlib.import_module(name.removesuffix(".__init__"))
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                defined.append(value)
    assert hr.HotReloadError in defined and len(defined) > 5
    outside = [c.__qualname__ for c in defined if not issubclass(c, hr.HotReloadError)]
    assert outside == []


def test_importing_the_engine_changes_nothing_in_the_process(tmp_path: Path) -> None:
    # No audit hook (every open() would pay for it) and no watcher library until a reloader
    # needs them: a module imported after the engine is not noted; after a reloader is made,
    # the next one is, and watchfiles (with anyio) waits for watch() to start.
    (tmp_path / "before_reloader.py").write_text("X = 1\n")
    (tmp_path / "after_reloader.py").write_text("X = 2\n")
    code = f"""
import sys, json
sys.path.insert(0, {str(tmp_path)!r})
from ipython_hotreload.core.engine import HotReloader
from ipython_hotreload.core.source.provenance import import_stamp
import before_reloader
out = {{"noted_before": import_stamp(before_reloader.__file__) is not None}}
reloader = HotReloader(roots=[{str(tmp_path)!r}], formatter=None)
import after_reloader
out["noted_after"] = import_stamp(after_reloader.__file__) is not None
out["watchfiles"] = "watchfiles" in sys.modules or "anyio" in sys.modules
print(json.dumps(out))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert json.loads(out) == {"noted_before": False, "noted_after": True, "watchfiles": False}


def test_importing_the_package_leaves_the_ipython_adapter_unloaded() -> None:
    # The adapter is imported by %load_ext only; a fresh interpreter shows what import does.
    code = "import sys, ipython_hotreload; print('ipython_hotreload.ipython' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert out == ["False"]


def loaded_after(statement: str, modules: list[str]) -> dict[str, bool]:
    """Which of ``modules`` a fresh interpreter has loaded after running ``statement``."""
    code = (
        f"import sys, json; {statement}; "
        f"print(json.dumps({{m: m in sys.modules for m in {modules!r}}}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    result: dict[str, bool] = json.loads(out)
    return result


HEAVY = ["astroid", "ipython_hotreload.core.engine", "watchfiles", "IPython"]


@pytest.mark.parametrize(
    "statement", ["import ipython_hotreload.client", "import ipython_hotreload"]
)
def test_importing_the_client_or_the_package_loads_no_engine(statement: str) -> None:
    assert loaded_after(statement, HEAVY) == dict.fromkeys(HEAVY, False)


def test_the_first_use_of_a_public_name_loads_what_it_needs() -> None:
    # The other side of the lazy import: the names work, and only then is the engine loaded.
    loaded = loaded_after(
        "import ipython_hotreload as hr; hr.HotReloadError; e = 'ipython_hotreload.core.engine' "
        "in sys.modules; hr.HotReloader; assert not e",
        HEAVY[:2],
    )
    # astroid waits for the first analysis (a reload's payload), not for the engine's import.
    assert loaded == {"astroid": False, "ipython_hotreload.core.engine": True}


def test_star_import_and_dir_give_the_public_names() -> None:
    namespace: dict[str, object] = {}
    exec("from ipython_hotreload import *", namespace)
    assert set(hr.__all__) <= set(namespace)
    assert set(hr.__all__) <= set(dir(hr))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        hr.no_such_name


def test_the_names_type_checkers_see_are_the_lazy_ones() -> None:
    # The TYPE_CHECKING imports are what mypy and editors read; the lazy table is what runs.
    tree = ast.parse(Path(hr.__file__).read_text(encoding="utf-8"))
    typed: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom) and stmt.module, ast.unparse(stmt)
                for alias in stmt.names:
                    assert alias.asname == alias.name, "re-export it as itself"
                    typed[alias.name] = stmt.module
    assert typed == hr._EXPORTS
    for name, module in hr._EXPORTS.items():
        assert getattr(hr, name) is getattr(sys.modules[module], name)
