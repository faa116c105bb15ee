"""The public surface is exactly what SPEC section 1 names, re-exported from the package."""

from __future__ import annotations

import subprocess
import sys

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
    assert extra <= {"annotations", "Any"}, extra


def test_errors_share_one_base() -> None:
    for name in ("ReloadError", "UnsafePathError", "SourceWriteError"):
        assert issubclass(getattr(hr, name), hr.HotReloadError)


def test_importing_the_package_leaves_the_ipython_adapter_unloaded() -> None:
    # The adapter is imported by %load_ext only; a fresh interpreter shows what import does.
    code = "import sys, ipython_hotreload; print('ipython_hotreload.ipython' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert out == ["False"]
