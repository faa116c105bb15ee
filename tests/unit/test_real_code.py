"""Real code survives a reload: class hierarchies re-executed whole, implicit calls, closures
made by factories, decorators that read signatures (SPEC 1.1 in-place patching, 1.5 rules
1 to 3 and 5).

Each test is a minimal module (and, where it matters, a dependent) edited once; the checks go
through references taken before the reload.
"""

from __future__ import annotations

import pytest

import ipython_hotreload as hr
from tests.conftest import Project

# -- a module re-executed whole whose classes are bases of others --------------------------

TOKENS = """
_f = 1
del _f

K = 1


class Base:
    def __init__(self):
        self.ready = True


class Token(Base):
    def __init__(self):
        super().__init__()


class Literal(Token):
    def __init__(self):
        super().__init__()

    def f(self):
        return K


Base.default_cls = Literal
"""


@pytest.mark.parametrize("mode", ["minimal", "module"])
@pytest.mark.parametrize("dependent", [False, True])
def test_kept_subclasses_keep_their_kept_bases(
    project: Project, mode: str, dependent: bool
) -> None:
    project.reloader.reexecute = mode
    project.write("tokens.py", TOKENS)
    if dependent:
        project.write("uses_tokens.py", "from tokens import *\n\nX = Literal()\n")
        project.import_("uses_tokens")
    m = project.import_("tokens")
    base, token, literal = m.Base, m.Token, m.Literal
    result = project.reload("tokens.py", TOKENS.replace("return K", "return K + 1"))
    assert result["recompiled"][0]["mode"] == "full"
    assert literal.__bases__ == (token,) and token.__bases__ == (base,)
    assert literal.__mro__ == (literal, token, base, object)
    assert m.Literal is literal and base.default_cls is literal
    obj = literal()
    assert obj.ready and obj.f() == 2 and isinstance(obj, token)


MIXED = """
_f = 1
del _f


class Mixin:
    pass


class Base:
    pass


class Token(Base):
    pass
"""


def test_a_rollback_restores_changed_bases(project: Project) -> None:
    project.write("mixed.py", MIXED)
    refuse = "from mixed import *\n\nif 'VALUE' in dir():\n    raise RuntimeError(VALUE)\n"
    project.write("mixed_user.py", refuse)
    m = project.import_("mixed")
    project.import_("mixed_user")
    token, base = m.Token, m.Base
    broken = MIXED.replace("class Token(Base)", "class Token(Base, Mixin)") + "\nVALUE = 1\n"
    with pytest.raises(hr.ReloadError) as info:
        project.reload("mixed.py", broken)
    assert token.__bases__ == (base,)
    assert m.Token is token
    assert "old code kept running" in str(info.value)


def test_an_undo_step_that_fails_is_reported_not_hidden() -> None:
    from ipython_hotreload.core.apply.journal import Journal

    journal = Journal()
    holder = {"a": 1}
    journal.setitem(holder, "a", 2)

    def cannot() -> None:
        raise TypeError("cannot restore")

    journal.on_undo(cannot, what="Frozen.attr")

    class Once:
        sets = 0

        def __setattr__(self, name: str, value: object) -> None:
            type(self).sets += 1
            if type(self).sets > 1:
                raise AttributeError("set once only")
            object.__setattr__(self, name, value)

        def __delattr__(self, name: str) -> None:
            raise AttributeError("set once only")

    once = Once()
    journal.setattr(once, "x", 1)
    failed = journal.rollback()
    assert holder == {"a": 1}
    assert failed == [
        "a Once.x (AttributeError: set once only)",
        "Frozen.attr (TypeError: cannot restore)",
    ]


CACHED = """
class Cached:
    def __init__(self, fn):
        self.__wrapped__ = fn
        self.clears = 0

    def __call__(self, *args):
        return self.__wrapped__(*args)

    def cache_clear(self):
        self.clears += 1
        if self.clears > 1:
            raise RuntimeError("the cache is gone")


@Cached
def f():
    return 1
"""


def test_a_failed_undo_step_is_named_in_the_error(project: Project) -> None:
    project.write("cached.py", CACHED)
    project.write(
        "cached_user.py",
        "from cached import *\n\nif 'VALUE' in dir():\n    raise RuntimeError(VALUE)\n",
    )
    m = project.import_("cached")
    project.import_("cached_user")
    edited = CACHED.replace("return 1", "return 2") + "\nVALUE = 1\n"
    with pytest.raises(hr.ReloadError) as info:
        project.reload("cached.py", edited)
    message = str(info.value)
    assert info.value.not_restored == ("Cached.cache_clear (RuntimeError: the cache is gone)",)
    assert "could not restore: Cached.cache_clear" in message
    assert "old code kept running" not in message
    assert m.f() == 1


# -- registrations merged once every class is matched ---------------------------------------

SHAPES = """
import abc


class Shape(abc.ABC):
    pass


class Square:
    pass
"""


@pytest.mark.parametrize("mode", ["minimal", "module"])
def test_an_abc_registration_of_a_class_defined_after_it_is_kept(
    project: Project, mode: str
) -> None:
    project.reloader.reexecute = mode
    project.write("shapes.py", SHAPES)
    m = project.import_("shapes")
    shape, square = m.Shape, m.Square
    project.reload("shapes.py", SHAPES + "\n\nShape.register(Square)\n")
    assert m.Shape is shape and m.Square is square
    assert issubclass(square, shape) and isinstance(square(), shape)


# -- implicit calls: only those count (SPEC 1.5 rule 3) --------------------------------------

PLUGINS = """
class Registry:
    def __init__(self):
        self.items = {}

    def register(self, name, obj):
        if name in self.items:
            raise ValueError(f"{name} is already registered")
        self.items[name] = obj


reg = Registry()


class P:
    def __init__(self):
        self.started = True

    def run(self):
        return 1
"""


def test_editing_a_method_does_not_create_instances_again(project: Project) -> None:
    project.write("plugins.py", PLUGINS)
    project.write(
        "app.py", "import plugins\nfrom plugins import reg\n\nreg.register('p', plugins.P())\n"
    )
    plugins = project.import_("plugins")
    project.import_("app")
    instance = plugins.reg.items["p"]
    result = project.reload("plugins.py", PLUGINS.replace("return 1", "return 2"))
    assert project.mods(result) == ["plugins"]
    assert plugins.reg.items["p"] is instance and instance.run() == 2


def test_editing_init_creates_the_instances_again(project: Project) -> None:
    project.write("plugins.py", PLUGINS)
    project.write(
        "app.py",
        "import plugins\n\nMADE = plugins.P()\n\nclass Sub(plugins.P):\n    pass\n\nSUB = Sub()\n",
    )
    project.import_("plugins")
    app = project.import_("app")
    result = project.reload(
        "plugins.py", PLUGINS.replace("self.started = True", "self.started = 2")
    )
    assert project.mods(result) == ["plugins", "app"]
    assert app.MADE.started == 2 and app.SUB.started == 2
    assert isinstance(app.SUB, app.Sub)


HOOKED = """
REGISTRY = {}


class Plugin:
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        REGISTRY[cls.__name__] = cls


class Builtin(Plugin):
    pass
"""


def test_editing_init_subclass_runs_the_subclass_statements_in_dependents(
    project: Project,
) -> None:
    project.write("hooked.py", HOOKED)
    project.write(
        "extra.py",
        "from hooked import Plugin\n\nclass Alpha(Plugin):\n    pass\n\nclass Beta(Alpha):\n    pass\n",
    )
    project.write(
        "unrelated.py",
        "import hooked\n\nSEEN = len(hooked.REGISTRY)\n\ndef f():\n    return hooked.Plugin\n",
    )
    hooked = project.import_("hooked")
    extra = project.import_("extra")
    project.import_("unrelated")
    alpha, beta, builtin = extra.Alpha, extra.Beta, hooked.Builtin
    edited = HOOKED.replace("REGISTRY[cls.__name__] = cls", "REGISTRY[cls.__name__.lower()] = cls")
    result = project.reload("hooked.py", edited)
    assert set(project.mods(result)) == {"hooked", "extra"}
    assert extra.Alpha is alpha and extra.Beta is beta and hooked.Builtin is builtin
    assert hooked.REGISTRY["alpha"] is alpha and hooked.REGISTRY["beta"] is beta
    assert hooked.REGISTRY["builtin"] is builtin
    assert hooked.REGISTRY["Alpha"] is alpha  # what the old rule registered stays (rule 4)


def test_editing_set_name_runs_the_class_statements_using_the_descriptor(
    project: Project,
) -> None:
    project.write(
        "fields.py",
        "class Field:\n    def __set_name__(self, owner, name):\n        self.name = name\n",
    )
    project.write("models.py", "from fields import Field\n\nclass M:\n    x = Field()\n")
    project.import_("fields")
    models = project.import_("models")
    m = models.M
    project.reload(
        "fields.py",
        "class Field:\n    def __set_name__(self, owner, name):\n        self.name = name.upper()\n",
    )
    assert models.M is m and m.__dict__["x"].name == "X"


# -- closures made by a factory (SPEC 1.5 rule 1) -------------------------------------------

FACTORY = """
def make_handler(prefix):
    count = 0
    sep = "/"

    def handler(x):
        nonlocal count
        count += 1
        return f"{prefix}:{x}:{count}"

    return handler


DEFAULT = make_handler("default")
SQUARE = (lambda k: lambda v: v * k)(2)
"""


def test_closures_made_by_a_factory_take_the_new_inner_code_and_keep_their_cells(
    project: Project,
) -> None:
    project.write("factory.py", FACTORY)
    m = project.import_("factory")
    default, factory = m.DEFAULT, m.make_handler
    other = m.make_handler("other")
    assert default("a") == "default:a:1" and other("a") == "other:a:1"
    result = project.reload(
        "factory.py", FACTORY.replace('f"{prefix}:{x}:{count}"', 'f"{prefix}|{x}|{count}"')
    )
    payload = result["recompiled"][0]
    assert payload["mode"] == "patched" and payload["rerun"] == []
    assert m.DEFAULT is default and m.make_handler is factory
    assert default("b") == "default|b|2"  # the counter in its cell goes on
    assert other("b") == "other|b|2"
    assert m.make_handler("new")("c") == "new|c|1"


def test_an_inner_function_whose_free_variables_changed_reruns_the_factory_calls(
    project: Project,
) -> None:
    project.write("factory.py", FACTORY)
    m = project.import_("factory")
    default = m.DEFAULT
    result = project.reload(
        "factory.py", FACTORY.replace('f"{prefix}:{x}:{count}"', 'f"{prefix}{sep}{x}{sep}{count}"')
    )
    payload = result["recompiled"][0]
    assert payload["mode"] == "partial"
    assert m.DEFAULT is not default and m.DEFAULT("a") == "default/a/1"
    assert any("make_handler.<locals>.handler" in w for w in payload.get("warnings", []))
    assert default("b") == "default:b:1"  # made before: it keeps its code


# -- decorators read signatures (SPEC 1.5 rule 3) ------------------------------------------

COMMANDS = """
import inspect

HANDLERS = []
SIGNATURES = []


def command(fn):
    HANDLERS.append(fn)
    SIGNATURES.append((fn.__name__, str(inspect.signature(fn))))
    return fn


@command
def greet(name):
    return f"hello {name}"
"""


def test_a_signature_change_decorates_the_same_function_again(project: Project) -> None:
    project.write("commands.py", COMMANDS)
    m = project.import_("commands")
    greet = m.greet
    edited = COMMANDS.replace(
        'def greet(name):\n    return f"hello {name}"',
        'def greet(name, loud=False):\n    return f"HELLO {name}" if loud else f"hi {name}"',
    )
    result = project.reload("commands.py", edited)
    payload = result["recompiled"][0]
    assert payload["mode"] == "partial"
    assert m.greet is greet and [greet] == m.HANDLERS  # the same object, registered once
    assert greet("a") == "hi a" and greet("a", loud=True) == "HELLO a"
    assert m.SIGNATURES[-1] == ("greet", "(name, loud=False)")
    [warning] = payload["warnings"]
    assert "greet (line 14) ran again and may now be registered twice" in warning
    assert "a tuple added to commands.SIGNATURES" in warning


def test_a_body_edit_of_a_decorated_def_still_patches_in_place(project: Project) -> None:
    project.write("commands.py", COMMANDS)
    m = project.import_("commands")
    result = project.reload("commands.py", COMMANDS.replace('f"hello {name}"', 'f"hey {name}"'))
    assert result["recompiled"][0]["mode"] == "patched"
    assert [m.greet] == m.HANDLERS and len(m.SIGNATURES) == 1 and m.greet("a") == "hey a"


def test_a_module_run_whole_still_counts_only_the_implicit_calls(project: Project) -> None:
    # The `del` makes the module run whole; its dependents still run only what calls
    # changed code: P() calls P.__init__, not P.run.
    registry, plugin = PLUGINS.split("reg = Registry()")
    text = "_x = 1\ndel _x\n" + plugin
    project.write("registry.py", registry + "reg = Registry()\n")
    project.write("plugins.py", text)
    project.write(
        "app.py", "import plugins\nfrom registry import reg\n\nreg.register('p', plugins.P())\n"
    )
    plugins = project.import_("plugins")
    app = project.import_("app")
    instance = app.reg.items["p"]
    result = project.reload("plugins.py", text.replace("return 1", "return 2"))
    assert result["recompiled"][0]["mode"] == "full"
    assert project.mods(result) == ["plugins"]
    assert app.reg.items["p"] is instance and instance.run() == 2
    assert isinstance(instance, plugins.P)
    with pytest.raises(hr.ReloadError, match="p is already registered"):  # P() runs it
        project.reload("plugins.py", text.replace("self.started = True", "self.started = 3"))


META = """
from dataclasses import dataclass

MADE = []


class Counted(type):
    def __call__(cls, *args, **kwargs):
        obj = super().__call__(*args, **kwargs)
        obj.tag = "v1"
        return obj


class Widget(metaclass=Counted):
    def size(self):
        return 1


@dataclass
class Point:
    x: int

    def __post_init__(self):
        self.label = f"p{self.x}"

    def norm(self):
        return self.x
"""


def test_a_metaclass_call_and_a_post_init_are_what_instantiation_calls(
    project: Project,
) -> None:
    project.write("meta.py", META)
    project.write("meta_user.py", "from meta import Widget, Point\n\nW = Widget()\nP = Point(2)\n")
    m = project.import_("meta")
    user = project.import_("meta_user")
    w, p = user.W, user.P
    result = project.reload(
        "meta.py", META.replace("return 1", "return 2").replace("return self.x", "return -self.x")
    )
    assert project.mods(result) == ["meta"]  # other methods: nothing made again
    assert user.W is w and user.P is p and w.size() == 2 and p.norm() == -2
    result = project.reload("meta.py", META.replace('obj.tag = "v1"', 'obj.tag = "v2"'))
    assert project.mods(result) == ["meta", "meta_user"]
    assert user.W.tag == "v2" and user.P is p
    result = project.reload(
        "meta.py",
        META.replace('obj.tag = "v1"', 'obj.tag = "v2"').replace('f"p{self.x}"', 'f"q{self.x}"'),
    )
    assert project.mods(result) == ["meta", "meta_user"]
    assert user.P.label == "q2" and isinstance(user.P, m.Point)


def test_a_class_run_again_still_appends_to_a_log_of_names(project: Project) -> None:
    # Re-registration settles objects, never numbers or strings: a log keeps growing.
    project.write(
        "log.py",
        "HITS = []\n\ndef track(label, value):\n    HITS.append(label)\n    return value\n",
    )
    text = "import log\n\nC0 = 0\n\nclass K:\n    ATTR = log.track('K.ATTR', C0)\n"
    project.write("tracked.py", text)
    log = project.import_("log")
    project.import_("tracked")
    for value in (1, 0):
        project.reload("tracked.py", text.replace("C0 = 0", f"C0 = {value}"))
    assert log.HITS == ["K.ATTR"] * 3
