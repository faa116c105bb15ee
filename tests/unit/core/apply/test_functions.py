"""The one function patcher and where a ``def`` lives: ``adopt``'s closure rule (as many free
variables, cells refilled by position unless ``same`` pairs them), finding a function behind
its decorators, and compiling a new ``def`` as its class would."""

from __future__ import annotations

import ast
import textwrap
from types import FunctionType
from typing import Any

import pytest

from ipython_hotreload.core.apply.functions import FUNCTION_ATTRS, Site, adopt, shifted
from ipython_hotreload.core.apply.journal import Journal, cell_value

FILENAME = "/project/mod.py"


def times(n: int) -> FunctionType:
    def scaled(x: int) -> int:
        return x * n

    return scaled  # type: ignore[return-value]


def renamed(k: int) -> FunctionType:
    def scaled(x: int) -> int:
        return x * k + 1

    return scaled  # type: ignore[return-value]


def two_cells(n: int, m: int) -> FunctionType:
    def scaled(x: int) -> int:
        return x * n * m

    return scaled  # type: ignore[return-value]


def test_adopt_takes_the_new_code_and_closure_values_by_position() -> None:
    old, journal = times(3), Journal()
    assert adopt(journal, old, times(5))
    assert old(1) == 5
    assert adopt(journal, old, renamed(7))  # another variable name, the same position
    assert old(1) == 8
    journal.rollback()
    assert old(1) == 3 and old.__code__ is times(3).__code__


def test_adopt_refuses_a_closure_of_another_shape_and_changes_nothing() -> None:
    old, journal = times(3), Journal()
    code = old.__code__
    assert not adopt(journal, old, two_cells(2, 2))
    assert old.__code__ is code and old(1) == 3 and len(journal) == 0


def test_adopt_keeps_the_cells_that_same_pairs() -> None:
    def holder(held: Any) -> FunctionType:
        def use() -> Any:
            return held

        return use  # type: ignore[return-value]

    kept, fresh = object(), object()
    old = holder(kept)
    assert adopt(Journal(), old, holder(fresh), same=lambda o, n: o is kept and n is fresh)
    assert old() is kept
    assert adopt(Journal(), old, holder(fresh))
    assert old() is fresh


def test_adopt_takes_defaults_annotations_and_docstring_not_the_dict() -> None:
    def old(a: int = 1, *, b: int = 2) -> int:
        """Old."""
        return a + b

    def new(a: str = "x", *, b: str = "y") -> str:
        """New."""
        return a + b

    old.marker = "kept"  # type: ignore[attr-defined]
    journal = Journal()
    assert adopt(journal, old, new)  # type: ignore[arg-type]
    assert old() == "xy" and old.__doc__ == "New." and old.__kwdefaults__ == {"b": "y"}
    assert old.__annotations__ == new.__annotations__ and old.marker == "kept"  # type: ignore[attr-defined]
    assert {"__code__", "__defaults__", "__kwdefaults__", "__annotations__", "__doc__"} <= set(
        FUNCTION_ATTRS
    )
    journal.rollback()
    assert old() == 3 and old.__doc__ == "Old."


SOURCE = textwrap.dedent(
    """\
    import functools


    def plain(f):
        def wrapper(*a, **k):
            return f(*a, **k)
        return wrapper


    def wrapped(f):
        @functools.wraps(f)
        def wrapper(*a, **k):
            return f(*a, **k)
        return wrapper


    class App:
        def __init__(self):
            self.routes = {}

        def keep(self, f):
            self.routes[f.__name__] = f


    app = App()
    CALLS = []


    def counted(f):
        CALLS.append(f.__name__)
        return f


    @plain
    def a():
        return "a"


    @wrapped
    def b():
        return "b"


    @functools.lru_cache
    def c():
        return "c"


    @app.keep
    def d():
        return "d"


    class Base:
        def who(self):
            return "base"


    class K(Base):
        SCALE = 10

        @staticmethod
        def s():
            return "s"

        @property
        def p(self):
            return "p"

        def m(self, x=SCALE):
            return x

        def __hidden(self):
            return 1

        def sup(self):
            return super().who()

        class Inner:
            def deep(self):
                return "deep"
    """
)


@pytest.fixture
def ns() -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "_hr_functions_mod"}
    exec(compile(SOURCE, FILENAME, "exec"), namespace)
    return namespace


def node(path: tuple[str, ...], name: str, source: str = SOURCE) -> ast.FunctionDef:
    body: list[ast.stmt] = ast.parse(source).body
    for part in path:
        body = next(n for n in body if isinstance(n, ast.ClassDef) and n.name == part).body
    return next(n for n in body if isinstance(n, ast.FunctionDef) and n.name == name)


def found(ns: dict[str, Any], path: tuple[str, ...], name: str) -> Any:
    n = node(path, name)
    start = min([d.lineno for d in n.decorator_list] + [n.lineno])
    return Site(ns, path, FILENAME, 0).find(name, n, start)


@pytest.mark.parametrize(
    ("path", "name"),
    [((), "a"), ((), "b"), ((), "c"), ((), "d"), (("K",), "s"), (("K",), "p"), (("K",), "m")],
)
def test_site_finds_the_function_a_def_made_behind_its_decorators(
    ns: dict[str, Any], path: tuple[str, ...], name: str
) -> None:
    hit = found(ns, path, name)
    assert hit is not None and isinstance(hit.fn, FunctionType)
    assert hit.fn.__code__.co_name == name and hit.fn.__code__.co_filename == FILENAME


def test_found_functions_come_with_the_caches_and_wrappers_on_their_way(
    ns: dict[str, Any],
) -> None:
    assert found(ns, (), "c").caches == [ns["c"]]
    assert found(ns, (), "b").wrappers == [ns["b"]]
    assert found(ns, (), "a").caches == found(ns, (), "a").wrappers == []
    assert found(ns, ("K", "Inner"), "deep").fn is ns["K"].Inner.__dict__["deep"]


def test_site_finds_nothing_for_another_file_or_line_or_a_path_that_is_no_class(
    ns: dict[str, Any],
) -> None:
    n = node((), "a")
    assert Site(ns, (), "/elsewhere/other.py", 0).find("a", n, n.lineno - 1) is None
    assert Site(ns, (), FILENAME, 0).find("a", n, n.lineno + 5) is None
    nowhere = Site(ns, ("app",), FILENAME, 0)
    assert nowhere.classes is None and nowhere.find("keep", n, 1) is None
    assert nowhere.compile(n, decorated=False) is None


def compile_in(ns: dict[str, Any], path: tuple[str, ...], text: str, *, decorated: bool) -> Any:
    [new] = ast.parse(textwrap.dedent(text)).body
    assert isinstance(new, ast.FunctionDef)
    return Site(ns, path, FILENAME, 0).compile(new, decorated=decorated)


def test_a_method_is_compiled_as_its_class_would_compile_it(ns: dict[str, Any]) -> None:
    k = ns["K"]
    m = compile_in(ns, ("K",), "def m(self, x=SCALE * 2):\n    return x\n", decorated=False)
    assert m.__defaults__ == (20,)  # the default read the class's attribute
    mangled = compile_in(ns, ("K",), "def m(self):\n    return self.__hidden()\n", decorated=False)
    assert mangled(k()) == 1  # self.__hidden is self._K__hidden, as in the class body
    sup = compile_in(
        ns, ("K",), "def sup(self):\n    return 'sub ' + super().who()\n", decorated=False
    )
    assert sup.__closure__[0].cell_contents is k  # super()'s __class__ cell: the real class
    assert sup(k()) == "sub base"
    assert vars(k)["m"] is not m  # compiled aside: nothing was bound in the class


def test_decorators_are_left_out_unless_asked_for(ns: dict[str, Any]) -> None:
    text = "@counted\ndef e():\n    return 'e'\n"
    bare = compile_in(ns, (), text, decorated=False)
    assert isinstance(bare, FunctionType) and bare() == "e" and ns["CALLS"] == []
    applied = compile_in(ns, (), text, decorated=True)
    assert applied() == "e" and ns["CALLS"] == ["e"]
    assert "e" not in ns  # compiled aside: the module's namespace is not touched
    gone = compile_in(ns, (), "@app.keep\ndef f():\n    return 'f'\n", decorated=True)
    assert gone is None  # what the statement binds: the decorator returned None
    assert compile_in(ns, (), "@app.keep\ndef f():\n    pass\n", decorated=False) is not None


def test_a_found_method_adopts_code_compiled_in_its_class(ns: dict[str, Any]) -> None:
    hit = found(ns, ("K",), "sup")
    new = compile_in(
        ns, ("K",), "def sup(self):\n    return 'sub ' + super().who()\n", decorated=False
    )
    instance = ns["K"]()
    assert adopt(Journal(), hit.fn, new, same=lambda old, new: old is new)
    assert instance.sup() == "sub base"
    assert cell_value(hit.fn.__closure__[0]) is ns["K"]


def test_shifted_moves_a_code_object_and_the_code_inside_it() -> None:
    code = compile("def f():\n    def g():\n        pass\n", "m.py", "exec")
    moved = shifted(code, 10)
    [f_code] = [c for c in moved.co_consts if hasattr(c, "co_firstlineno")]
    [g_code] = [c for c in f_code.co_consts if hasattr(c, "co_firstlineno")]
    assert (moved.co_firstlineno, f_code.co_firstlineno, g_code.co_firstlineno) == (11, 11, 12)
    assert shifted(code, 0).co_firstlineno == code.co_firstlineno
