"""Real libraries' own test suites, as green after reloading every module as before.

For each library (pinned; its source distribution ships its tests), the sdist is fetched
once into a cache directory with ``pip download --no-binary :all: --no-deps`` and unpacked
three times. In one copy the library's tests run as they are; in each of the others, every
module of the library is imported, reloaded with its own text (with ``reexecute="module"``
the whole module runs again; by default nothing does, as nothing changed), a function or two
get a real body edit (checked live through the reference taken before; one in a module
holding a top-level ``del`` must re-execute that module whole, so the full path runs on real
code in the default mode too), and then the same tests run in that same process. No test
that passed in the first run may fail in the others. The runs go in parallel subprocesses
(``suite_driver.py``): the library's ``tests`` package must not meet ours, and a broken
reload must not take this process down. Each mode is a test of its own over the same runs,
so an engine fault met in one mode is marked on that mode alone.

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
    tests: tuple[str, ...]  # what pytest runs, relative to the sdist's top directory
    # "module:qualname" of the functions whose bodies get one edit each; one in a module
    # named by `whole` must re-execute that module whole (a top-level `del`, SPEC §1.5 rule
    # 6), so the engine's full path runs on real code in the default mode too.
    edits: tuple[str, ...]
    whole: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()  # modules that are the tests themselves
    pytest_args: tuple[str, ...] = field(default=())
    # Modules imported but not reloaded in reexecute="module", each with its reason.
    not_reexecuted: tuple[str, ...] = ()
    # (mode, reason) where an engine bug makes the check fail today.
    xfail: tuple[tuple[str, str], ...] = ()


# Libraries whose configuration turns every warning into an error meet pytest 9's
# deprecations of what their old suites do (iterators given to parametrize, the `py.path`
# hook arguments): those warnings are the suite's age, not a reload's doing.
_PYTEST_AGE = ("-W", "ignore::pytest.PytestRemovedIn10Warning")

LIBRARIES = [
    Library(
        "attrs",
        "25.3.0",
        "src",
        ("attr", "attrs"),
        ("tests",),
        ("attr._make:fields",),
        # Hypothesis draws the same examples in both runs: a difference is the reload's.
        pytest_args=("--hypothesis-seed=0",),
    ),
    Library(
        "cachetools", "5.5.2", "src", ("cachetools",), ("tests",), ("cachetools.keys:hashkey",)
    ),
    Library(
        "toolz",
        "1.0.0",
        ".",
        ("toolz", "tlz"),
        ("toolz/tests",),
        ("toolz.itertoolz:groupby",),
        skip=("toolz.tests",),
        # `tlz/__init__.py` is `from . import _build_tlz`, whose import fills `tlz` with
        # toolz's names as a side effect; run again, the submodule is loaded already and
        # fills nothing, so a whole-module re-execution leaves `tlz` empty. Minimal
        # re-execution (nothing changed: nothing runs) has no such problem.
        not_reexecuted=("tlz",),
    ),
    # Two class trees four deep under a metaclass (`NodeType`: Node > Expr > BinExpr > Add,
    # Node > Stmt > ...), visitors subclassed across modules (the compiler's CodeGenerator),
    # and `nodes.py` ends in a top-level `del`: an edit there re-executes it whole.
    Library(
        "jinja2",
        "3.1.6",
        "src",
        ("jinja2",),
        ("tests",),
        ("jinja2.filters:do_title", "jinja2.nodes:Node.iter_child_nodes"),
        whole=("jinja2.nodes",),
        # The async tests need trio, which this project does not install.
        pytest_args=("--ignore=tests/test_async.py", "--ignore=tests/test_async_filters.py"),
    ),
    # The deepest tree here (ParserElement > ParseExpression > And, Token > Keyword >
    # CaselessKeyword, unicode sets seven deep across modules), PEP 8 aliases made by a
    # wrapper factory at class-body time, and `core.py` holds a top-level `del`. Only the
    # packrat-free half of its long unit suite runs (the other configurations repeat it).
    Library(
        "pyparsing",
        "3.2.3",
        ".",
        ("pyparsing",),
        (
            "tests/test_simple_unit.py",
            "tests/test_unit.py::Test01_PyparsingTestInit",
            "tests/test_unit.py::Test02_WithoutPackrat",
            "tests/test_unit.py::Test11_LR1_Recursion",
            "tests/test_util.py",
        ),
        ("pyparsing.helpers:counted_array", "pyparsing.core:ParserElement.parse_string"),
        whole=("pyparsing.core",),
        skip=("pyparsing.diagram",),  # needs railroad-diagrams
    ),
    # Parameter types five deep (ParamType > _NumberParamTypeBase > _NumberRangeBase >
    # IntRange), Command > Group, exceptions four deep.
    Library(
        "click",
        "8.1.8",
        "src",
        ("click",),
        ("tests",),
        ("click.utils:make_str", "click.core:Command.get_usage"),
        pytest_args=_PYTEST_AGE,
    ),
    # A schema metaclass that registers every Schema class in a registry as it is made, and
    # fields four deep (Field > String > Email).
    Library(
        "marshmallow",
        "3.26.1",
        "src",
        ("marshmallow",),
        ("tests",),
        ("marshmallow.utils:is_collection", "marshmallow.schema:Schema.dump"),
        # Its ids carry the time of collection: no two runs share them.
        pytest_args=("-k", "not test_invalid_datetime_deserialization"),
    ),
    # Thirty modules; `statsutils` builds Stats' properties in a top-level loop, then
    # `del`s the loop variables: an edit there re-executes it whole.
    Library(
        "boltons",
        "25.0.0",
        ".",
        ("boltons",),
        ("tests",),
        ("boltons.iterutils:chunked", "boltons.statsutils:Stats.clear_cache"),
        whole=("boltons.statsutils",),
        # Its conftest's only hook takes pytest's removed `py.path` argument; it skips
        # Python 2 files, and the one such file is for Python 3.
        pytest_args=("--noconftest",),
    ),
    Library(
        "more-itertools",
        "10.7.0",
        ".",
        ("more_itertools",),
        ("tests",),
        ("more_itertools.more:chunked", "more_itertools.recipes:take"),
        # Two number-crunching tests take most of the suite's time and test no Python
        # object a reload touches more than the rest do.
        pytest_args=(
            "--deselect=tests/test_recipes.py::PrimeFunctionTests::test_primes",
            "--deselect=tests/test_more.py::DiscreteFourierTransformTests::test_roundtrip",
        ),
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
        "tests": list(lib.tests),
        "skip": list(lib.skip),
        "edits": list(lib.edits),
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


MODES = ("minimal", "module")
_runs: dict[str, dict[str | None, dict[str, Any]]] = {}


def _outcomes(lib: Library, into: Path) -> dict[str | None, dict[str, Any]]:
    """The library's suite run plain and after the reloads in each mode: the three runs go
    in parallel, once per library, and the checks of both modes read them."""
    if lib.name not in _runs:
        _runs.clear()
        sdist = _sdist(lib)
        started = {}
        for mode in (None, *MODES):
            label = mode or "plain"
            out = into / f"{label}.json"
            started[mode] = (_start(lib, _unpack(sdist, into / label), mode, out), out)
        for run, _ in started.values():  # all three end before any is judged
            run.wait(timeout=540)
        _runs[lib.name] = {mode: _finish(run, out) for mode, (run, out) in started.items()}
    return _runs[lib.name]


def _cases() -> list[Any]:
    cases = []
    for lib in LIBRARIES:
        known = dict(lib.xfail)
        for mode in MODES:
            marks = [pytest.mark.xfail(strict=True, reason=known[mode])] if mode in known else []
            cases.append(pytest.param(lib, mode, marks=marks, id=f"{lib.name}-{mode}"))
    return cases


@pytest.mark.parametrize(("lib", "mode"), _cases())
def test_reloading_every_module_keeps_the_library_suite_green(
    lib: Library, mode: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    runs = _outcomes(lib, tmp_path_factory.mktemp(lib.name))
    passed_before = {t for t, o in runs[None]["tests"].items() if o == "passed"}
    assert len(passed_before) > 50, runs[None]
    _check(lib, mode, passed_before, runs[mode])


def _check(lib: Library, mode: str, passed_before: set[str], after: dict[str, Any]) -> None:
    """Every reload succeeded and every edit is live (a whole re-execution where the module
    calls for one); no test that passed without reloads fails after them."""
    edits = after["edits"]
    done = ", ".join(f"{e.get('mode')} {e.get('ms', 0):.1f} ms" for e in edits)
    broken = sorted(t for t in passed_before if after["tests"].get(t) != "passed")
    summary = (
        f"{lib.name} {lib.version} (reexecute={mode}): {after['modules']} modules, reload "
        f"median {after['reload_median_ms']:.1f} ms, max {after['reload_max_ms']:.1f} ms, "
        f"edits {done}; "
        f"tests passed {len(passed_before)} before, "
        f"{sum(o == 'passed' for o in after['tests'].values())} after"
    )
    print(summary)
    assert after["modules"] >= 3, summary
    assert not after["reload_errors"], after["reload_errors"]
    for edit in edits:
        assert "error" not in edit, edit
        assert edit["same_object"] and edit["live"], edit
        module = edit["target"].split(":")[0]
        expected = "full" if mode == "module" or module in lib.whole else "patched"
        assert edit["mode"] == expected, edit
    assert not broken, f"{summary}\npassed before the reloads, not after: {broken[:20]}"
