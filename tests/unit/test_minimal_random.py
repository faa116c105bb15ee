"""Randomized edit sequences under minimal re-execution (SPEC §1.1, §1.5).

In the spirit of jurigged's generated edits, hypothesis builds a module out of a few kinds
of top-level statements and then edits it a few times, reloading after every edit with the
default mode. The module is:

- constants ``C0 = 3`` (literals);
- a statement that reads nothing but the probe module, ``probe.hit("plain")``;
- functions ``f0..f2`` returning sums over constants and later functions (``f0`` may call
  ``f1``, never the reverse, so there is no recursion);
- statements ``D0``/``D1`` and optional ``S0``/``S1`` binding ``probe.track(label, expr)``,
  where ``expr`` reads constants, calls functions and reads earlier statements' names;
- a class ``K`` whose body holds ``ATTR = probe.track("K.ATTR", expr)``, a method ``m``
  and an optional method ``extra``;
- ``g``, decorated with ``@probe.register`` (appends to a list in the probe module);
- optional functions ``x0``/``x1``.

``probe`` is a separate module that is never reloaded: ``track`` records one hit per
execution of the statement it is called from, which is how the test sees what ran.

After every reload the test checks, against a model of SPEC §1.5 and against a fresh
execution of the same text in a new namespace:

(a) every function, method and name behaves as in the fresh execution, also through the
    function objects, the class and the instance taken before the first edit, and names
    removed from the text are gone from the module;
(b) the hit count of each tracked statement is exactly what §1.5 says: it grows by one
    when the statement is new or changed, or when it reads at import time (directly or
    through the module-level functions it calls, transitively) a name this reload rebound
    or a function whose code changed; otherwise it does not grow;
(c) the decorated function stays registered exactly once;
(d) the payload's ``mode`` is ``"unchanged"`` for identical text, ``"patched"`` when no
    statement ran (function code changed, or names were only removed), ``"partial"`` when
    statements ran, and ``rerun`` lists exactly the top-level statements that ran.

A class body is expected to run again only when one of its non-function statements
changed or reads what changed: a method added or removed is one attribute given or taken
(the payload then says ``"patched"``), pinned down on its own at the end of the file, with
a decorated method and a rollback.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ipython_hotreload import ReloadError

if TYPE_CHECKING:
    from tests.conftest import Project

PROBE = (
    "HITS = []\n"
    "REGISTRY = []\n\n\n"
    "def hit(label):\n"
    "    HITS.append(label)\n\n\n"
    "def track(label, value):\n"
    "    HITS.append(label)\n"
    "    return value\n\n\n"
    "def register(fn):\n"
    "    REGISTRY.append(fn)\n"
    "    return fn\n"
)

CONSTS = ("C0", "C1", "C2")
FUNCS = ("f0", "f1", "f2")
DERIVED = ("D0", "D1")
STMTS = ("S0", "S1")
EXTRAS = ("x0", "x1")
TRACKED = ("plain", *DERIVED, *STMTS, "K.ATTR")

# What each expression may read. Statements only read what is bound above them, functions
# only call functions after them in the list (no recursion) and read constants.
ALLOWED: dict[str, tuple[str, ...]] = {
    "f0": (*CONSTS, "f1", "f2"),
    "f1": (*CONSTS, "f2"),
    "f2": CONSTS,
    "D0": (*CONSTS, *FUNCS),
    "D1": (*CONSTS, *FUNCS, "D0"),
    "S0": (*CONSTS, *FUNCS, *DERIVED),
    "S1": (*CONSTS, *FUNCS, *DERIVED),
    "ATTR": (*CONSTS, *FUNCS, *DERIVED),
    "m": (*CONSTS, *FUNCS, "ATTR"),
    "extra": (*CONSTS, *FUNCS),
    "g": (*CONSTS, *FUNCS),
    "x0": CONSTS,
    "x1": CONSTS,
}

Expr = tuple[int, tuple[str, ...]]  # literal + the names it adds up
_unique = itertools.count()


def render(expr: Expr) -> str:
    lit, refs = expr
    terms = [str(lit)]
    for ref in refs:
        if ref in FUNCS:
            terms.append(f"{ref}()")
        elif ref == "ATTR":
            terms.append("self.ATTR")
        else:
            terms.append(ref)
    return " + ".join(terms)


def exprs(slot: str) -> st.SearchStrategy[Expr]:
    return st.tuples(
        st.integers(min_value=0, max_value=9),
        st.lists(st.sampled_from(ALLOWED[slot]), max_size=3).map(tuple),
    )


@dataclass(frozen=True)
class Version:
    """One text of the module, as the values it is made of (``None``: left out)."""

    consts: tuple[int, ...]
    funcs: tuple[Expr, ...]
    derived: tuple[Expr, ...]
    stmts: tuple[Expr | None, ...]
    attr: Expr
    method: Expr
    extra: Expr | None
    decorated: Expr
    extras: tuple[Expr | None, ...]

    def blocks(self) -> list[Block]:
        """The top-level statements, in source order."""
        out = [Block("import", "import probe", binds=("probe",))]
        for name, value in zip(CONSTS, self.consts, strict=True):
            out.append(Block(name, f"{name} = {value}", binds=(name,)))
        out.append(Block("plain", 'probe.hit("plain")', reads=("probe",)))
        for name, expr in zip(FUNCS, self.funcs, strict=True):
            out.append(
                Block(
                    name,
                    f"def {name}():\n    return {render(expr)}",
                    binds=(name,),
                    code={name: render(expr)},
                )
            )
        for name, maybe in zip(DERIVED + STMTS, self.derived + self.stmts, strict=True):
            if maybe is not None:
                out.append(
                    Block(
                        name,
                        f'{name} = probe.track("{name}", {render(maybe)})',
                        binds=(name,),
                        reads=maybe[1],
                    )
                )
        klass = (
            "class K:\n"
            f'    ATTR = probe.track("K.ATTR", {render(self.attr)})\n\n'
            f"    def m(self):\n        return {render(self.method)}\n"
        )
        code = {"K.m": render(self.method)}
        if self.extra is not None:
            klass += f"\n    def extra(self):\n        return {render(self.extra)}\n"
            code["K.extra"] = render(self.extra)
        out.append(
            Block(
                "K",
                klass.rstrip("\n"),
                binds=("K",),
                reads=self.attr[1],
                code=code,
                body=f"ATTR = {render(self.attr)}",
            )
        )
        out.append(
            Block(
                "g",
                f"@probe.register\ndef g():\n    return {render(self.decorated)}",
                binds=("g",),
                code={"g": render(self.decorated)},
            )
        )
        for name, maybe in zip(EXTRAS, self.extras, strict=True):
            if maybe is not None:
                out.append(
                    Block(
                        name,
                        f"def {name}():\n    return {render(maybe)}",
                        binds=(name,),
                        code={name: render(maybe)},
                    )
                )
        return out

    def text(self) -> str:
        return "\n\n\n".join(b.text for b in self.blocks()) + "\n"

    def spans(self) -> dict[str, tuple[int, int]]:
        """Each block's (first line, last line) in ``text()``."""
        spans, line = {}, 1
        for block in self.blocks():
            n = block.text.count("\n") + 1
            spans[block.key] = (line, line + n - 1)
            line += n + 2
        return spans

    def names(self) -> set[str]:
        return {name for b in self.blocks() for name in b.binds}


@dataclass(frozen=True)
class Block:
    key: str
    text: str
    binds: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()  # names read when the statement runs at import time
    code: dict[str, str] = field(default_factory=dict)  # function qualname -> its body
    body: str = ""  # a class's non-function body statements


def closure(version: Version, refs: tuple[str, ...]) -> set[str]:
    """``refs`` plus every global name read by the module-level functions they call."""
    funcs = dict(zip(FUNCS, version.funcs, strict=True))
    seen: set[str] = set()
    todo = list(refs)
    while todo:
        ref = todo.pop()
        if ref in seen:
            continue
        seen.add(ref)
        if ref in funcs:
            todo.extend(funcs[ref][1])
    return seen


@dataclass
class Expected:
    ran: set[str]  # keys of the top-level statements that must run
    hits: dict[str, int]  # tracked label -> how many more hits


def same_object(before: Any, after: Any) -> bool:
    """Whether running a statement again binds the very object it bound before: CPython
    hands out one object per small int, every other value computed here is a new one."""
    return type(before) is type(after) is int and before == after and -5 <= after <= 256


def expect(old: Version, new: Version, old_ns: dict[str, Any], new_ns: dict[str, Any]) -> Expected:
    """What SPEC §1.5 says a reload from ``old`` to ``new`` runs; ``old_ns`` and ``new_ns``
    are fresh executions of both texts. A statement that runs again and binds the very
    object its name held (an equal small int) rebinds nothing: what reads that name would
    compute the same again, so it does not run."""
    before = {b.key: b for b in old.blocks()}
    changed: set[str] = set()  # rebound names and functions whose code changed
    for block in new.blocks():
        prev = before.get(block.key)
        if prev is not None:
            for qualname, body in block.code.items():
                if prev.code.get(qualname) != body:
                    changed.add(qualname)
    ran: set[str] = set()
    hits = dict.fromkeys(TRACKED, 0)
    for block in new.blocks():
        prev = before.get(block.key)
        if prev is None:
            runs = True  # a new statement
        elif block.key == "K":
            runs = prev.body != block.body  # methods added or removed: only those change
        elif block.code:
            runs = False  # an existing function: patched (or left alone)
        else:
            runs = prev.text != block.text
        if not runs and block.reads:
            runs = bool(closure(new, block.reads) & changed)
        if runs:
            ran.add(block.key)
            changed.update(
                n
                for n in block.binds
                if prev is None or not same_object(old_ns.get(n), new_ns.get(n))
            )
            label = "K.ATTR" if block.key == "K" else block.key
            if label in hits:
                hits[label] += 1
    return Expected(ran, hits)


def edits(version: Version) -> st.SearchStrategy[Version]:
    """One random edit of ``version`` (it may leave the text as it was)."""

    def at(values: tuple[Any, ...], index: int, value: Any) -> tuple[Any, ...]:
        return (*values[:index], value, *values[index + 1 :])

    def toggle(values: tuple[Any, ...], slot: str, index: int) -> st.SearchStrategy[Any]:
        if values[index] is not None:
            return st.just(at(values, index, None))
        return exprs(slot).map(lambda e: at(values, index, e))

    i3, i2 = st.integers(0, 2), st.integers(0, 1)
    return st.one_of(
        st.just(version),
        st.tuples(i3, st.integers(0, 9)).map(
            lambda p: replace(version, consts=at(version.consts, p[0], p[1]))
        ),
        i3.flatmap(
            lambda i: exprs(FUNCS[i]).map(lambda e: replace(version, funcs=at(version.funcs, i, e)))
        ),
        i2.flatmap(
            lambda i: exprs(DERIVED[i]).map(
                lambda e: replace(version, derived=at(version.derived, i, e))
            )
        ),
        i2.flatmap(lambda i: toggle(version.stmts, STMTS[i], i)).map(
            lambda s: replace(version, stmts=s)
        ),
        i2.flatmap(lambda i: toggle(version.extras, EXTRAS[i], i)).map(
            lambda x: replace(version, extras=x)
        ),
        exprs("ATTR").map(lambda e: replace(version, attr=e)),
        exprs("m").map(lambda e: replace(version, method=e)),
        (st.just(None) if version.extra is not None else exprs("extra")).map(
            lambda e: replace(version, extra=e)
        ),
        exprs("g").map(lambda e: replace(version, decorated=e)),
    )


versions = st.builds(
    Version,
    consts=st.tuples(*(st.integers(0, 9) for _ in CONSTS)),
    funcs=st.tuples(*(exprs(f) for f in FUNCS)),
    derived=st.tuples(*(exprs(d) for d in DERIVED)),
    stmts=st.tuples(*(st.none() | exprs(s) for s in STMTS)),
    attr=exprs("ATTR"),
    method=exprs("m"),
    extra=st.none() | exprs("extra"),
    decorated=exprs("g"),
    extras=st.tuples(*(st.none() | exprs(x) for x in EXTRAS)),
)


def fresh(text: str) -> dict[str, Any]:
    """The namespace a fresh import of ``text`` builds (the probe's lists are put back)."""
    probe = sys.modules["probe"]
    hits, registry = list(probe.HITS), list(probe.REGISTRY)
    ns: dict[str, Any] = {"__name__": f"fresh_{next(_unique)}"}
    exec(compile(text, "<fresh>", "exec"), ns)
    probe.HITS[:], probe.REGISTRY[:] = hits, registry
    return ns


def public(namespace: dict[str, Any]) -> set[str]:
    return {name for name in namespace if not name.startswith("__")}


def values(ns: Any, version: Version) -> Iterator[tuple[str, Any]]:
    """Everything the module computes, by name, read off a module or a namespace."""
    get = ns.__getitem__ if isinstance(ns, dict) else lambda n: getattr(ns, n)
    for name in version.names() - {"probe", "K"}:
        obj = get(name)
        yield name, obj() if callable(obj) else obj
    klass = get("K")
    yield "K.ATTR", klass.ATTR
    yield "K().m", klass().m()
    if version.extra is not None:
        yield "K().extra", klass().extra()


def check_probe(project: Project) -> Any:
    """The probe module, written and imported once per test (a rewrite would be an edit)."""
    probe = sys.modules.get("probe")
    if probe is None or not str(getattr(probe, "__file__", "")).startswith(str(project.root)):
        sys.modules.pop("probe", None)
        project.write("probe.py", PROBE)
        probe = project.import_("probe")
    probe.HITS.clear()
    probe.REGISTRY.clear()
    return probe


@settings(
    max_examples=50,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(start=versions, data=st.data())
def test_random_edits_run_what_changed_and_behave_as_a_fresh_import(
    project: Project, start: Version, data: st.DataObject
) -> None:
    probe = check_probe(project)
    name = f"mrand_{next(_unique)}"
    project.write(f"{name}.py", start.text())
    module = project.import_(name)
    held_funcs = {f: getattr(module, f) for f in FUNCS}
    held_g, held_class, instance = module.g, module.K, module.K()
    counts = dict.fromkeys(TRACKED, 0)
    for label in probe.HITS:
        counts[label] += 1
    assert counts == {t: int(t in start.names() or t in ("plain", "K.ATTR")) for t in TRACKED}
    assert [held_g] == probe.REGISTRY

    version = start
    steps = data.draw(st.integers(min_value=3, max_value=6), label="steps")
    old_ns = fresh(start.text())
    for step in range(steps):
        new = data.draw(edits(version), label=f"edit {step}")
        ns = fresh(new.text())
        expected = expect(version, new, old_ns, ns)
        result = project.reload(f"{name}.py", new.text())
        [payload] = [p for p in result["recompiled"] if p["mod"] == name]
        context = (step, payload.get("mode"), payload.get("rerun"), new.text())

        # (a) the module, and what was taken from it before the first edit, behave as a
        # fresh import of the same text; names the text no longer binds are gone
        want = dict(values(ns, new))
        assert dict(values(module, new)) == want, context
        assert public(vars(module)) == public(ns), context
        for f, fn in held_funcs.items():
            assert fn is getattr(module, f) and fn() == want[f], context
        assert held_g is module.g and held_g() == want["g"], context
        assert held_class is module.K, context
        assert (instance.ATTR, instance.m()) == (want["K.ATTR"], want["K().m"]), context
        assert hasattr(instance, "extra") == (new.extra is not None), context
        if new.extra is not None:
            assert instance.extra() == want["K().extra"], context

        # (b) exactly the statements that are new, changed, or read what changed ran again
        for label, more in expected.hits.items():
            counts[label] += more
        got = dict.fromkeys(TRACKED, 0)
        for label in probe.HITS:
            got[label] += 1
        assert got == counts, context

        # (c) the decorated function is registered once, whatever its edits
        assert [held_g] == probe.REGISTRY, context

        # (d) the payload says what ran
        spans = new.spans()
        rerun = {(r["lineno"], r["end_lineno"]) for r in payload["rerun"]}
        assert rerun == {spans[k] for k in expected.ran}, context
        if new.text() == version.text():
            assert payload["mode"] == "unchanged", context
        elif expected.ran:
            assert payload["mode"] == "partial", context
        else:  # function code only (methods added or removed too: no statement ran)
            assert payload["mode"] == "patched", context
        version, old_ns = new, ns


KLASS = """\
import probe


class K:
    probe.hit("K body")

    def m(self):
        return 1

    def extra(self):
        return 2
"""


@pytest.mark.parametrize("edit", ["remove", "add"])
def test_adding_or_removing_a_method_does_not_rerun_the_class_body(
    project: Project, edit: str
) -> None:
    probe = check_probe(project)
    without = KLASS.replace("\n    def extra(self):\n        return 2\n", "")
    first, second = (KLASS, without) if edit == "remove" else (without, KLASS)
    name = f"mklass_{next(_unique)}"
    project.write(f"{name}.py", first)
    module = project.import_(name)
    instance = module.K()
    result = project.reload(f"{name}.py", second)
    assert hasattr(instance, "extra") == (edit == "add")
    assert probe.HITS == ["K body"]
    payload = result["recompiled"][0]
    assert (payload["mode"], payload["rerun"]) == ("patched", [])
    key = "added" if edit == "add" else "removed"
    assert payload["changes"][key] == ["K.extra"]


def test_an_added_decorated_method_takes_its_decorators_and_a_failure_undoes_it(
    project: Project,
) -> None:
    probe = check_probe(project)
    name = f"mklass_{next(_unique)}"
    project.write(f"{name}.py", KLASS)
    module = project.import_(name)
    K = module.K
    decorated = KLASS + (
        "\n    @property\n    def size(self):\n        return self.m() + 10\n"
        "\n    @classmethod\n    def make(cls):\n        return cls()\n"
    )
    project.reload(f"{name}.py", decorated)
    assert module.K is K and K().size == 11 and isinstance(K.make(), K)
    assert probe.HITS == ["K body"]
    broken = decorated.replace("return 2", "return 3") + "\n\nBOOM = 1 / 0\n"
    with pytest.raises(ReloadError):
        project.reload(f"{name}.py", broken)
    assert K().size == 11 and K().extra() == 2
    without = decorated.replace(
        "\n    @property\n    def size(self):\n        return self.m() + 10\n", ""
    )
    with pytest.raises(ReloadError):
        project.reload(f"{name}.py", without + "\n\nBOOM = 1 / 0\n")
    assert K().size == 11  # the removal was undone with the rest
