"""Real libraries' own test suites, as green after reloading every module as before.

For each library (pinned; its source distribution ships its tests), the sdist is fetched
once into a cache directory with ``pip download --no-binary :all: --no-deps`` and unpacked
three times. In one copy the library's tests run as they are; in each of the others, every
module of the library is imported, reloaded with its own text (with ``reexecute="module"``
the whole module runs again; by default nothing does, as nothing changed), one function gets
a real body edit (checked live through the reference taken before), and then the same tests
run in that same process. No test that passed in the first run may fail in the others. The
runs go in parallel subprocesses (``suite_driver.py``): the library's ``tests`` package must not meet
ours, and a broken reload must not take this process down.

The cache is ``$HOTRELOAD_REALWORLD_CACHE`` or ``~/.cache/ipython_hotreload/realworld``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("suite_driver.py")
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@dataclass(frozen=True)
class Library:
    """A pinned library whose sdist ships its tests, and how to drive them."""

    name: str
    version: str
    root: str  # the import root inside the sdist
    packages: tuple[str, ...]
    tests: str
    edit: str  # "module:qualname" of the function whose body gets one edit
    skip: tuple[str, ...] = ()  # modules that are the tests themselves
    pytest_args: tuple[str, ...] = field(default=())
    # Modules imported but not reloaded in reexecute="module", each with its reason.
    not_reexecuted: tuple[str, ...] = ()


LIBRARIES = [
    Library(
        "attrs",
        "25.3.0",
        "src",
        ("attr", "attrs"),
        "tests",
        "attr._make:fields",
        # Hypothesis draws the same examples in both runs: a difference is the reload's.
        pytest_args=("--hypothesis-seed=0",),
    ),
    Library("cachetools", "5.5.2", "src", ("cachetools",), "tests", "cachetools.keys:hashkey"),
    Library(
        "toolz",
        "1.0.0",
        ".",
        ("toolz", "tlz"),
        "toolz/tests",
        "toolz.itertoolz:groupby",
        skip=("toolz.tests",),
        # `tlz/__init__.py` is `from . import _build_tlz`, whose import fills `tlz` with
        # toolz's names as a side effect; run again, the submodule is loaded already and
        # fills nothing, so a whole-module re-execution leaves `tlz` empty. Minimal
        # re-execution (nothing changed: nothing runs) has no such problem.
        not_reexecuted=("tlz",),
    ),
]


def _cache() -> Path:
    configured = os.environ.get("HOTRELOAD_REALWORLD_CACHE")
    path = Path(configured) if configured else Path.home() / ".cache/ipython_hotreload/realworld"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sdist(lib: Library) -> Path:
    """The pinned sdist, downloaded once."""
    cache = _cache()
    stem = f"{lib.name.replace('-', '_')}-{lib.version}"
    for candidate in (cache / f"{stem}.tar.gz", cache / f"{lib.name}-{lib.version}.tar.gz"):
        if candidate.exists():
            return candidate
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-binary",
            ":all:",
            "--no-deps",
            "--dest",
            str(cache),
            f"{lib.name}=={lib.version}",
        ],
        check=True,
        timeout=300,
    )
    found = sorted(cache.glob(f"{stem}.tar.gz")) + sorted(
        cache.glob(f"{lib.name}-{lib.version}.tar.gz")
    )
    assert found, f"pip download left no sdist of {lib.name}=={lib.version} in {cache}"
    return found[0]


def _unpack(sdist: Path, into: Path) -> Path:
    into.mkdir(parents=True)
    with tarfile.open(sdist) as archive:
        archive.extractall(into, filter="data")
    (top,) = list(into.iterdir())
    return top


def _start(lib: Library, source: Path, reload: str | None, out: Path) -> subprocess.Popen[bytes]:
    spec = {
        "root": str(source / lib.root),
        "packages": list(lib.packages),
        "tests": lib.tests,
        "skip": list(lib.skip),
        "edit": lib.edit,
        "reload": reload,
        "pytest_args": list(lib.pytest_args),
        "out": str(out),
        "not_reexecuted": list(lib.not_reexecuted) if reload == "module" else [],
    }
    spec_path = out.with_suffix(".spec.json")
    spec_path.write_text(json.dumps(spec))
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONDONTWRITEBYTECODE="1")
    log = out.with_suffix(".log").open("wb")
    return subprocess.Popen(
        [sys.executable, str(DRIVER), str(spec_path)],
        cwd=source,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _finish(process: subprocess.Popen[bytes], out: Path) -> dict[str, Any]:
    code = process.wait(timeout=540)
    log = out.with_suffix(".log").read_text(errors="replace")
    assert code == 0 and out.exists(), f"the driver failed ({code}):\n{log[-4000:]}"
    return json.loads(out.read_text())  # type: ignore[no-any-return]


@pytest.mark.parametrize("lib", LIBRARIES, ids=[lib.name for lib in LIBRARIES])
def test_reloading_every_module_keeps_the_library_suite_green(lib: Library, tmp_path: Path) -> None:
    sdist = _sdist(lib)
    plain = _unpack(sdist, tmp_path / "plain")
    reloaded = _unpack(sdist, tmp_path / "reloaded")
    minimal = _unpack(sdist, tmp_path / "minimal")
    runs = [
        _start(lib, plain, None, tmp_path / "plain.json"),
        _start(lib, reloaded, "module", tmp_path / "reloaded.json"),
        _start(lib, minimal, "minimal", tmp_path / "minimal.json"),
    ]
    before = _finish(runs[0], tmp_path / "plain.json")
    passed_before = {t for t, o in before["tests"].items() if o == "passed"}
    assert len(passed_before) > 50, before
    for mode, process in (("module", runs[1]), ("minimal", runs[2])):
        out = tmp_path / ("reloaded.json" if mode == "module" else "minimal.json")
        _check(lib, mode, passed_before, _finish(process, out))


def _check(lib: Library, mode: str, passed_before: set[str], after: dict[str, Any]) -> None:
    """No test that passed without reloads fails after them; the edit is live."""
    broken = sorted(t for t in passed_before if after["tests"].get(t) != "passed")
    summary = (
        f"{lib.name} {lib.version} (reexecute={mode}): {after['modules']} modules, reload "
        f"median {after['reload_median_ms']:.1f} ms, max {after['reload_max_ms']:.1f} ms, "
        f"body edit {after['edit']['ms']:.1f} ms; "
        f"tests passed {len(passed_before)} before, "
        f"{sum(o == 'passed' for o in after['tests'].values())} after"
    )
    print(summary)
    assert after["modules"] >= 3, summary
    assert after["edit"]["same_object"] and after["edit"]["live"], after["edit"]
    assert not broken, f"{summary}\npassed before the reloads, not after: {broken[:20]}"
