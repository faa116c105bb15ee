"""Whether a worker shares the kernel's files is decided by where the worker's module was
loaded from (SPEC 2.4), not by whether the kernel's directory is visible to it: a worker
that joins later, on the same machine, but imports the project from its own copy (another
checkout, or the package installed in its environment) gets the new code too."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import ipython_hotreload as hr


def _call(mod: str, fn: str) -> Any:
    return getattr(importlib.import_module(mod), fn)()


def _where(mod: str) -> str:
    importlib.import_module(mod)
    return str(sys.modules[mod].__file__)


def test_a_late_worker_importing_its_own_copy_runs_the_new_code(
    cluster_project: Any, tmp_path: Path
) -> None:
    other = tmp_path / "other_checkout"
    other.mkdir()
    old = "def which():\n    return 'first'\n"
    (other / "kappa.py").write_text(old, encoding="utf-8")
    cluster_project.write("kappa.py", old)
    importlib.import_module("kappa")
    hr.attach_dask(cluster_project.client, reloader=cluster_project.reloader, timeout=30)
    try:
        result = cluster_project.reload("kappa.py", "def which():\n    return 'second'\n")
        assert result["workers"] == {"ok": 2, "failed": []}
        before = set(cluster_project.client.ncores())
        # The late worker sees the kernel's directory (same machine, on its sys.path too), but
        # its own checkout comes first: that is where it imports kappa from.
        sys.path.insert(0, str(other))
        try:
            cluster_project.cluster.scale(3)
            cluster_project.client.wait_for_workers(3, timeout=90)
        finally:
            sys.path.remove(str(other))
        late = set(cluster_project.client.ncores()) - before
        assert len(late) == 1
        answers = cluster_project.on_workers(_call, "kappa", "which")
        assert set(answers.values()) == {"second"}, answers
        [late_worker] = late
        where = cluster_project.client.run(_where, "kappa", workers=list(late))[late_worker]
        assert not where.startswith(str(other)), where
        # The next edit reaches it as well, now that it runs the module.
        again = cluster_project.reload("kappa.py", "def which():\n    return 'third'\n")
        assert again["workers"] == {"ok": 3, "failed": []}
        answers = cluster_project.on_workers(_call, "kappa", "which")
        assert set(answers.values()) == {"third"}, answers
    finally:
        hr.detach_dask()


def test_a_worker_that_imported_its_own_copy_before_the_edit_takes_the_new_code(
    cluster_project: Any, tmp_path: Path
) -> None:
    other = tmp_path / "installed"
    other.mkdir()
    old = "def which():\n    return 'first'\n"
    (other / "lamda.py").write_text(old, encoding="utf-8")
    cluster_project.write("lamda.py", old)
    importlib.import_module("lamda")
    path = str(other)

    def load_own_copy() -> str:
        sys.path.insert(0, path)
        try:
            return _where("lamda")
        finally:
            sys.path.remove(path)

    where = cluster_project.on_workers(load_own_copy)
    assert all(w.startswith(path) for w in where.values()), where
    hr.attach_dask(cluster_project.client, reloader=cluster_project.reloader, timeout=30)
    try:
        result = cluster_project.reload("lamda.py", "def which():\n    return 'second'\n")
        assert result["workers"]["failed"] == []
        answers = cluster_project.on_workers(_call, "lamda", "which")
        assert set(answers.values()) == {"second"}, answers
    finally:
        hr.detach_dask()
