"""In-place patching (SPEC §1.1): identity kept, new code seen through old references; and
the Patcher on its own, after a whole re-execution."""

from __future__ import annotations

import pickle
import types

from ipython_hotreload.core.apply.functions import defined_in
from ipython_hotreload.core.apply.journal import Journal
from ipython_hotreload.core.apply.patching import MODULE_KEEP, Patcher
from tests.conftest import Project


def _reload(project: Project, rel: str, text: str) -> dict[str, object]:
    result = project.reload(rel, text)
    return result["recompiled"][0]  # type: ignore[index,no-any-return]


def test_identity_guarantees_across_a_reload(project: Project) -> None:
    project.files(
        {
            "shapes.py": """
            import dataclasses, enum

            class Shape:
                def area(self):
                    return 0
                def describe(self):
                    return "shape"

            @dataclasses.dataclass(frozen=True)
            class Point:
                x: int

            class Color(enum.Enum):
                RED = 1
                BLUE = 2

            ORIGIN = Point(0)
            """,
            "square.py": """
            from shapes import Shape

            class Square(Shape):
                def describe(self):
                    return "square of " + super().describe()
            """,
        }
    )
    shapes = project.import_("shapes")
    square = project.import_("square")
    Shape, Point, Color = shapes.Shape, shapes.Point, shapes.Color
    s, sq, p, red = Shape(), square.Square(), Point(1), Color.RED
    project.reload(
        "shapes.py",
        """
        import dataclasses, enum

        class Shape:
            def area(self):
                return 1
            def describe(self):
                return "new shape"
            def new_method(self):
                return "added"

        @dataclasses.dataclass(frozen=True)
        class Point:
            x: int
            def norm(self):
                return abs(self.x)

        class Color(enum.Enum):
            RED = 1
            BLUE = 2
            def hex(self):
                return "#f00" if self is Color.RED else "#00f"

        ORIGIN = Point(0)
        """,
    )
    assert shapes.Shape is Shape and isinstance(s, shapes.Shape) and s.area() == 1
    assert s.new_method() == "added"
    assert sq.describe() == "square of new shape"  # super() in a dependent subclass
    assert pickle.loads(pickle.dumps(s)).area() == 1
    assert shapes.Point is Point and p.norm() == 1 and isinstance(shapes.ORIGIN, Point)
    try:
        p.x = 5  # type: ignore[misc]
    except AttributeError as exc:  # FrozenInstanceError
        assert "cannot assign" in str(exc)
    else:
        raise AssertionError("frozen dataclass lost its protection")
    assert shapes.Color is Color and shapes.Color.RED is red and red.hex() == "#f00"


def test_alias_change_never_overwrites_the_original_function(project: Project) -> None:
    project.write(
        "alias.py", "def foo():\n    return 'foo'\ndef bar():\n    return 'bar'\nf = foo\n"
    )
    alias = project.import_("alias")
    foo, bar = alias.foo, alias.bar
    project.reload(
        "alias.py", "def foo():\n    return 'foo'\ndef bar():\n    return 'bar'\nf = bar\n"
    )
    assert foo() == "foo" and bar() == "bar" and alias.f is bar and alias.foo is foo


def test_functions_sharing_a_plain_decorator_are_matched_by_name(project: Project) -> None:
    deco = "def twice(fn):\n    def inner():\n        return fn() * 2\n    return inner\n"
    project.write(
        "twice.py", deco + "@twice\ndef a():\n    return 1\n@twice\ndef b():\n    return 10\n"
    )
    mod = project.import_("twice")
    a, b = mod.a, mod.b
    project.reload(
        "twice.py", deco + "@twice\ndef a():\n    return 2\n@twice\ndef b():\n    return 20\n"
    )
    assert (a(), b()) == (4, 40)
    assert mod.a is a and mod.b is b


def test_lru_cache_keeps_identity_and_forgets_old_results(project: Project) -> None:
    project.write(
        "cached.py", "import functools\n@functools.lru_cache\ndef sq(x):\n    return x * x\n"
    )
    cached = project.import_("cached")
    sq = cached.sq
    assert sq(3) == 9
    project.reload(
        "cached.py", "import functools\n@functools.lru_cache\ndef sq(x):\n    return x + x\n"
    )
    assert cached.sq is sq and sq(3) == 6


def test_what_cannot_be_patched_is_replaced_and_reported(project: Project) -> None:
    project.write(
        "mixed.py",
        "import enum\n"
        "class Level(enum.Enum):\n    LOW = 1\n"
        "def thing():\n    return 1\n"
        "def make():\n    def inner():\n        return 1\n    return inner\n"
        "counter = make()\n",
    )
    mixed = project.import_("mixed")
    old_level = mixed.Level
    payload = _reload(
        project,
        "mixed.py",
        "import enum\n"
        "class Level(enum.Enum):\n    LOW = 1\n    HIGH = 2\n"
        "class thing:\n    pass\n"
        "def make():\n    n = 5\n    def inner():\n        return n\n    return inner\n"
        "counter = make()\n",
    )
    assert sorted(payload["replaced"]) == ["Level", "counter", "thing"]  # type: ignore[call-overload]
    assert mixed.Level is not old_level and mixed.Level.HIGH.value == 2
    assert isinstance(mixed.thing, type) and mixed.counter() == 5


def test_class_members_of_every_kind_follow_the_new_source(project: Project) -> None:
    project.write(
        "members.py",
        "class K:\n"
        "    limit = 1\n"
        "    @property\n    def p(self):\n        return 'p1'\n"
        "    @classmethod\n    def c(cls):\n        return 'c1'\n"
        "    @staticmethod\n    def s():\n        return 's1'\n"
        "    def gone(self):\n        return 1\n"
        "    class Inner:\n        def i(self):\n            return 'i1'\n",
    )
    members = project.import_("members")
    k, inner, c = members.K(), members.K.Inner(), members.K.c
    project.reload(
        "members.py",
        "class K:\n"
        "    limit = 2\n"
        "    @property\n    def p(self):\n        return 'p2'\n"
        "    @classmethod\n    def c(cls):\n        return 'c2'\n"
        "    @staticmethod\n    def s():\n        return 's2'\n"
        "    class Inner:\n        def i(self):\n            return 'i2'\n",
    )
    assert (k.limit, k.p, c(), k.s(), inner.i()) == (2, "p2", "c2", "s2", "i2")
    assert not hasattr(k, "gone") and isinstance(inner, members.K.Inner)


def test_stale_line_numbers_are_updated(project: Project) -> None:
    import traceback

    project.write("lines.py", "def boom():\n    raise ValueError('x')\n")
    lines = project.import_("lines")
    boom = lines.boom
    project.reload("lines.py", "\n\n\n# moved down\ndef boom():\n    raise ValueError('x')\n")
    assert boom.__code__.co_firstlineno == 5
    try:
        boom()
    except ValueError as exc:
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        assert (frame.lineno, frame.line) == (6, "raise ValueError('x')")


# -- the patcher on its own ------------------------------------------------------------------


MODNAME = "_hr_patching_mod"


def loaded(text: str) -> types.ModuleType:
    module = types.ModuleType(MODNAME)
    module.__file__ = f"/project/{MODNAME}.py"
    exec(compile(text, module.__file__, "exec"), module.__dict__)
    return module


def reexecute(module: types.ModuleType, text: str) -> tuple[Journal, list[str]]:
    """Run ``text`` in the module's cleared namespace and merge, as a whole re-execution does."""
    journal = Journal()
    ns = module.__dict__
    old_ns = journal.replace_namespace(ns, {k: ns[k] for k in MODULE_KEEP if k in ns})
    exec(compile(text, str(module.__file__), "exec"), ns)
    return journal, Patcher(journal, module, old_ns).merge()


def test_functions_and_classes_keep_their_objects_and_take_the_new_code() -> None:
    module = loaded("def f():\n    return 1\n\n\nclass C:\n    def m(self):\n        return 1\n")
    f, cls = module.f, module.C
    instance = cls()
    journal, replaced = reexecute(
        module,
        "def f():\n    return 2\n\n\nclass C:\n    def m(self):\n        return 2\n\n"
        "    def extra(self):\n        return 3\n",
    )
    assert replaced == [] and module.f is f and module.C is cls
    assert (f(), instance.m(), instance.extra()) == (2, 2, 3)
    journal.rollback()
    assert (f(), instance.m(), hasattr(instance, "extra")) == (1, 1, False)


def test_what_cannot_be_patched_in_place_is_replaced_and_named() -> None:
    module = loaded(
        "def make(n):\n    def inner():\n        return n\n    return inner\n\n\nf = make(1)\n\n\n"
        "class S:\n    __slots__ = ('a',)\n"
    )
    f, s = module.f, module.S
    _, replaced = reexecute(
        module,
        "def make(n, m=2):\n    def inner():\n        return n + m\n    return inner\n\n\n"
        "f = make(1)\n\n\nclass S:\n    __slots__ = ('a', 'b')\n",
    )
    assert module.S is not s and module.f is not f
    assert "S" in replaced and "f" in replaced


def test_only_this_modules_functions_and_classes_are_its_definitions() -> None:
    module = loaded(
        "import os\n\n\ndef f():\n    pass\n\n\nclass C:\n    pass\n\n\nL = lambda: 1\n"
    )
    assert defined_in(module.f, MODNAME) and defined_in(module.C, MODNAME)
    assert defined_in(module.L, MODNAME)
    assert not defined_in(module.os.path.join, MODNAME) and not defined_in(1, MODNAME)
    assert not defined_in(module.f, "another")
    assert {"__name__", "__file__", "__spec__", "__path__", "__builtins__"} <= set(MODULE_KEEP)


def test_a_packages_loaded_submodules_stay_bound_after_a_re_execution() -> None:
    package = loaded("X = 1\n")
    package.__path__ = []
    sub = types.ModuleType(f"{MODNAME}.sub")
    package.sub = sub  # type: ignore[attr-defined]
    other = types.ModuleType("elsewhere")
    package.other = other  # type: ignore[attr-defined]
    reexecute(package, "X = 2\n")
    assert package.sub is sub and package.X == 2
    assert not hasattr(package, "other")  # not its submodule: the new text does not bind it
