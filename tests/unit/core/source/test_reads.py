"""What a statement reads and binds at import time, from its syntax tree alone."""

from __future__ import annotations

import ast

import pytest

from ipython_hotreload.core.source.reads import (
    ANNOTATIONS_FLAG,
    absolute_module,
    body_reads,
    bound_names,
    future_flags,
    import_time_reads,
    unsafe_reason,
    wholes,
)


def stmt(source: str) -> ast.stmt:
    [node] = ast.parse(source).body
    return node


def test_future_flags_are_those_of_the_modules_future_imports() -> None:
    assert future_flags(ast.parse("from __future__ import annotations\n")) == ANNOTATIONS_FLAG
    assert future_flags(ast.parse("import __future__\nX = 1\n")) == 0


def test_a_def_reads_its_decorators_defaults_and_eager_annotations_not_its_body() -> None:
    node = stmt("@deco.wrap(opt)\ndef f(x: A = b.c, *, y=d) -> R:\n    return hidden\n")
    loads, calls = import_time_reads(node, lazy=False)
    assert loads == {"deco", "deco.wrap", "opt", "A", "b", "b.c", "d", "R"}
    assert calls == {"deco", "deco.wrap"}
    lazy_loads, _ = import_time_reads(node, lazy=True)
    assert lazy_loads == {"deco", "deco.wrap", "opt", "b", "b.c", "d"}


def test_a_class_reads_its_bases_keywords_body_and_its_methods_decorators() -> None:
    node = stmt(
        "class C(Base, metaclass=Meta):\n    size = SIZE\n    @prop\n    def m(self):\n"
        "        return hidden\n"
    )
    loads, calls = import_time_reads(node, lazy=False)
    assert loads == {"Base", "Meta", "SIZE", "prop"}
    # What a class statement calls implicitly (SPEC 1.5 rule 3): its bases'
    # __init_subclass__ and its metaclass (the one it names, or its bases').
    assert calls == {"prop", "Base.__init_subclass__", "Base.__class__", "Meta"}


def test_a_lambda_reads_its_defaults_now_and_its_body_later() -> None:
    loads, calls = import_time_reads(stmt("key = lambda v=DEFAULT: v + LATER\n"), lazy=False)
    assert loads == {"DEFAULT"} and calls == set()
    loads, calls = import_time_reads(stmt("X = load(path.join(a, b))\n"), lazy=False)
    assert loads == {"load", "path", "path.join", "a", "b"}
    assert calls == {"load", "path", "path.join"}


def test_a_name_handed_whole_reads_any_of_its_attributes() -> None:
    loads, _ = import_time_reads(stmt("B = [v for v in vars(C).values()]\n"), lazy=False)
    assert "C.*" in loads
    loads, _ = import_time_reads(stmt("B = list(m.C.__dict__)\n"), lazy=False)
    assert "m.C.*" in loads
    loads, _ = import_time_reads(stmt("B = [C.x, f(C), inspect.getmembers(D)]\n"), lazy=False)
    assert "C.*" not in loads and "D.*" in loads  # `f(C)` is handed the object, kept in place
    assert wholes({"C.x", "D", ".m"}) == {"C.x", "D", ".m", "C.*"}


def test_a_lazy_annotated_assignment_reads_its_value_and_what_its_target_reads() -> None:
    loads, _ = import_time_reads(stmt("obj.x: Hidden = value\n"), lazy=True)
    assert loads == {"obj", "value"}
    loads, _ = import_time_reads(stmt("x: Shown = value\n"), lazy=False)
    assert loads == {"Shown", "value"}


def test_body_reads_are_the_globals_a_functions_body_reads() -> None:
    node = stmt(
        "def f(arg):\n"
        "    local = CONST + arg\n"
        "    global G\n"
        "    G = mod.sub.attr\n"
        "    def inner():\n"
        "        return OUTER_NAME\n"
        "    return local, G\n"
    )
    assert isinstance(node, ast.FunctionDef)
    assert body_reads(node).now == {"CONST", "mod", "mod.sub", "mod.sub.attr", "OUTER_NAME", "G"}


@pytest.mark.parametrize(
    ("body", "when"),
    [
        # A callback the factory only returns runs when whoever got it calls it: its
        # method calls are the factory's `later` (a decorator's wrapper, then `load()`).
        ("    def cb(lexer):\n        return lexer.tokens()\n    return cb\n", "later"),
        ("    return lambda lexer: lexer.tokens()\n", "later"),
        (
            "    def h():\n        return x.tokens()\n    def cb():\n        return h()\n"
            "    return cb\n",
            "later",
        ),
        # One the body calls, or hands to a call that may call it, runs in the call.
        ("    def cb(lexer):\n        return lexer.tokens()\n    cb(x)\n    return cb\n", "now"),
        ("    return sorted(x, key=lambda v: v.tokens())\n", "now"),
        ("    def key(v):\n        return v.tokens()\n    return sorted(x, key=key)\n", "now"),
        (
            "    def h():\n        return x.tokens()\n    def cb():\n        return h()\n"
            "    cb()\n    return cb\n",
            "now",
        ),
        # So do a local class's methods, which are called through attributes.
        (
            "    class P:\n        def go(self):\n            return x.tokens()\n    return P().go()\n",
            "now",
        ),
        ("    return x.tokens()\n", "now"),
    ],
)
def test_a_factorys_callbacks_call_their_methods_now_or_later(body: str, when: str) -> None:
    node = stmt("def factory(x):\n" + body)
    assert isinstance(node, ast.FunctionDef)
    reads = body_reads(node)
    assert (".tokens" in reads.now, ".tokens" in reads.later) == (when == "now", when == "later")


@pytest.mark.parametrize(
    "body",
    [
        "    def route(path, config=None):\n        return config\n    return config['a']\n",
        "    f = lambda config: config\n    return f(config)\n",
        "    def inner():\n        config = 1\n        return config\n    return config, inner\n",
        "    names = [config for config in ITEMS]\n    return config\n",
        "    class C:\n        config = 1\n    return C, config\n",
    ],
)
def test_a_name_a_nested_scope_binds_is_still_a_global_of_the_body(body: str) -> None:
    node = stmt("def build():\n" + body)
    assert isinstance(node, ast.FunctionDef)
    assert "config" in body_reads(node).now


def test_names_the_body_or_an_enclosing_function_binds_are_not_globals() -> None:
    node = stmt(
        "def build(arg):\n"
        "    total = 0\n"
        "    def inner(x):\n"
        "        return arg + total + x + [y for y in x]\n"
        "    last = [(z := y) for y in arg]\n"
        "    return inner(z), last\n"
    )
    assert isinstance(node, ast.FunctionDef)
    assert body_reads(node) == (set(), set())


def test_absolute_module_of_a_relative_import() -> None:
    assert absolute_module("x", 0, "p.q") == "x"
    assert absolute_module("x", 1, "p.q") == "p.q.x"
    assert absolute_module(None, 2, "p.q") == "p"
    assert absolute_module("x", 3, "p.q") is None
    assert absolute_module("x", 1, None) is None


@pytest.mark.parametrize(
    ("source", "names"),
    [
        ("def f():\n    inner = 1\n", {"f"}),
        ("class C:\n    attr = 1\n", {"C"}),
        ("import a.b.c, d as e\n", {"a", "e"}),
        ("from m import *\n", set()),
        ("a, (b, *c) = x = f()\n", {"a", "b", "c", "x"}),
        ("for i in range(3):\n    j = i\nelse:\n    k = 1\n", {"i", "j", "k"}),
        ("with open(p) as fh:\n    data = fh.read()\n", {"fh", "data"}),
        ("try:\n    import fast\nexcept ImportError as e:\n    fast = None\n", {"fast", "e"}),
        ("if X:\n    def g(): ...\nelse:\n    from m import g\n", {"g"}),
        ("squares = [n * n for n in range(3)]\n", {"squares"}),
        ("del gone\n", {"gone"}),
        ("match v:\n    case [first, *rest]:\n        pass\n", {"first", "rest"}),
    ],
)
def test_the_names_a_top_level_statement_binds(source: str, names: set[str]) -> None:
    assert bound_names(stmt(source)) == names


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("global X\n", "a top-level `global` statement"),
        ("del X\n", "a top-level `del` statement"),
        ("exec(code)\n", "top-level code calls `exec`"),
        ("X = [eval(s) for s in T]\n", "top-level code calls `eval`"),
        ("def f():\n    exec(code)\n", None),
        ("class C:\n    def m(self):\n        del self.x\n", None),
        ("X = obj.exec(code)\n", None),
    ],
)
def test_what_a_statement_level_update_cannot_vouch_for(source: str, reason: str | None) -> None:
    assert unsafe_reason(stmt(source)) == reason


def test_a_statement_binds_no_name_of_its_lambdas_or_comprehensions() -> None:
    node = stmt("X, f = [y for y in z], lambda w: w\n")
    assert bound_names(node) == {"X", "f"}
    assert bound_names(stmt("T = {k: v for k, v in z}\n")) == {"T"}
