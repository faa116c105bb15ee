"""The module dependency graph: the label rules of SPEC §3, resolution, incremental updates
and bound names, on throw-away packages."""

from __future__ import annotations

import ast
import os
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipython_hotreload.core.graph.modulegraph import Edge, ModuleGraph
from tests.unit.core.graph.conftest import graph, write


def labels(g: ModuleGraph) -> dict[tuple[str, str], str]:
    return {(e.from_, e.to): e.label for e in g.edges()}


HELPERS = {"pkg/helpers.py": "def deco(f):\n    return f\nX = 1\nclass Base: ...\n"}


# -- compile: names used at import time --------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "from pkg.helpers import deco\n@deco\ndef f():\n    pass\n",  # decorator
        "from pkg.helpers import X\ndef f(x=X):\n    return x\n",  # default value
        "from pkg.helpers import X\ndef f(*, x=X):\n    return x\n",  # keyword-only default
        "from pkg.helpers import Base\nclass C(Base):\n    pass\n",  # base class
        "from pkg.helpers import deco\nclass C:\n    @deco\n    def m(self):\n        pass\n",
        "import pkg.helpers\nY = pkg.helpers.X\n",  # module object used at module level
        "from pkg import helpers\nY = helpers.X\n",  # submodule used at module level
        "from pkg.helpers import X\nY = [X for _ in range(2)]\n",  # comprehension
        "from pkg.helpers import X\nif X:\n    Y = 1\n",  # if test
        "from pkg.helpers import X\nclass C:\n    y = X\n",  # class body
        "from pkg.helpers import *\n",  # star import
        "from pkg.helpers import X\nX += 1\n",  # augmented assignment reads X first
        "from pkg.helpers import X\ndef f():\n    import os\n@X\ndef g():\n    pass\n",
    ],
    ids=[
        "decorator",
        "default",
        "kwdefault",
        "base",
        "method-decorator",
        "module-attr",
        "submodule-attr",
        "comprehension",
        "if-test",
        "class-body",
        "star",
        "aug-assign",
        "decorator-after-a-function-with-an-import",
    ],
)
def test_names_used_at_import_time_make_a_compile_edge(root: Path, body: str) -> None:
    g = graph(root, {**HELPERS, "pkg/user.py": body})
    assert labels(g) == {("pkg.user", "pkg.helpers"): "compile"}


def test_an_import_used_in_a_function_and_at_module_level_is_compile(root: Path) -> None:
    g = graph(
        root,
        {**HELPERS, "pkg/user.py": "from pkg.helpers import X\ndef f():\n    return X\nY = X\n"},
    )
    assert labels(g) == {("pkg.user", "pkg.helpers"): "compile"}


def test_a_lambda_body_runs_later_but_its_defaults_run_now(root: Path) -> None:
    g = graph(
        root,
        {
            **HELPERS,
            "pkg/a.py": "import pkg.helpers\nkey = lambda v: pkg.helpers.X + v\n",
            "pkg/b.py": "from pkg.helpers import X\nkey = lambda v=X: v\n",
        },
    )
    assert labels(g) == {("pkg.a", "pkg.helpers"): "runtime", ("pkg.b", "pkg.helpers"): "compile"}


# -- export and runtime ------------------------------------------------------------------


def test_from_imported_names_used_only_in_functions_or_unused_are_export(root: Path) -> None:
    g = graph(
        root,
        {
            **HELPERS,
            "pkg/a.py": "from pkg.helpers import X\ndef f():\n    return X\n",
            "pkg/b.py": "from pkg.helpers import X  # re-exported\n",
        },
    )
    assert labels(g) == {("pkg.a", "pkg.helpers"): "export", ("pkg.b", "pkg.helpers"): "export"}


def test_a_module_alias_used_only_in_a_function_is_runtime(root: Path) -> None:
    g = graph(
        root,
        {
            "pkg/sub/__init__.py": "",
            "pkg/sub/mod.py": "X = 1\n",
            "pkg/user.py": "import pkg.sub.mod as s\ndef f():\n    return s.X\n",
        },
    )
    assert labels(g)[("pkg.user", "pkg.sub.mod")] == "runtime"


def test_from_pkg_import_submodule_is_an_edge_to_the_submodule(root: Path) -> None:
    g = graph(
        root,
        {
            "pkg/sub.py": "X = 1\n",
            "pkg/user.py": "from pkg import sub\ndef f():\n    return sub.X\n",
        },
    )
    assert labels(g) == {("pkg.user", "pkg.sub"): "runtime"}


def test_from_a_import_module_and_name_gives_both_edges(root: Path) -> None:
    g = graph(
        root,
        {
            "pkg/__init__.py": "CONST = 1\n",
            "pkg/sub.py": "",
            "pkg/user.py": "from pkg import sub, CONST\ndef f():\n    return sub, CONST\n",
        },
    )
    assert labels(g) == {("pkg.user", "pkg"): "export", ("pkg.user", "pkg.sub"): "runtime"}


def test_imports_inside_functions_are_runtime(root: Path) -> None:
    g = graph(
        root,
        {
            **HELPERS,
            "pkg/other.py": "",
            "pkg/third.py": "",
            "pkg/a.py": '''
                def f():
                    """Example:

                    >>> import pkg.third
                    """
                    from pkg.helpers import X
                    return X
                def g(): import pkg.other
                class C:
                    def m(self):
                        def inner():
                            if True:
                                from . import third
                        return inner
            ''',
        },
    )
    assert labels(g) == {
        ("pkg.a", "pkg.helpers"): "runtime",
        ("pkg.a", "pkg.other"): "runtime",
        ("pkg.a", "pkg.third"): "runtime",
    }


def test_type_checking_imports_give_no_edge(root: Path) -> None:
    g = graph(
        root,
        {
            **HELPERS,
            "pkg/other.py": "",
            "pkg/a.py": """
                from __future__ import annotations
                import typing
                from typing import TYPE_CHECKING
                if TYPE_CHECKING:
                    from pkg.helpers import Base
                if typing.TYPE_CHECKING:
                    import pkg.helpers
                else:
                    import pkg.other
                def f(x: Base) -> None:
                    if TYPE_CHECKING:
                        import pkg.helpers
            """,
        },
    )
    assert labels(g) == {("pkg.a", "pkg.other"): "runtime"}


def test_annotations_are_compile_unless_postponed(root: Path) -> None:
    body = "from pkg.helpers import Base\ndef f(x: Base) -> None:\n    pass\n"
    var = "from pkg.helpers import Base\nclass C:\n    attr: Base\n"
    g = graph(
        root,
        {
            **HELPERS,
            "pkg/eager.py": body,
            "pkg/eager_var.py": var,
            "pkg/lazy.py": '"""Doc."""\nfrom __future__ import annotations\n' + body,
            "pkg/lazy_var.py": "from __future__ import annotations\n" + var,
            "pkg/strings.py": "from pkg.helpers import Base\ndef f(x: 'Base') -> None:\n    pass\n",
        },
    )
    assert labels(g) == {
        ("pkg.eager", "pkg.helpers"): "compile",
        ("pkg.eager_var", "pkg.helpers"): "compile",
        ("pkg.lazy", "pkg.helpers"): "export",
        ("pkg.lazy_var", "pkg.helpers"): "export",
        ("pkg.strings", "pkg.helpers"): "export",
    }


def test_imports_inside_class_bodies_run_at_import_time(root: Path) -> None:
    g = graph(
        root,
        {
            **HELPERS,
            "pkg/other.py": "",
            "pkg/a.py": """
                class C:
                    from pkg.helpers import deco  # a class attribute: the class must be rebuilt
                    import pkg.other as other  # a module object: survives a reload
                    def m(self):
                        return self.deco, self.other
            """,
        },
    )
    assert labels(g) == {("pkg.a", "pkg.helpers"): "compile", ("pkg.a", "pkg.other"): "runtime"}


def test_try_except_import_error_at_module_level(root: Path) -> None:
    g = graph(
        root,
        {
            "pkg/fast.py": "def f(): ...\n",
            "pkg/slow.py": "def f(): ...\n",
            "pkg/a.py": """
                try:
                    from pkg.fast import f
                except ImportError:
                    from pkg.slow import f
                g = f
            """,
            "pkg/b.py": """
                try:
                    from pkg.fast import f
                except ImportError:
                    f = None
                def h():
                    return f
            """,
        },
    )
    assert labels(g) == {
        ("pkg.a", "pkg.fast"): "compile",
        ("pkg.a", "pkg.slow"): "compile",
        ("pkg.b", "pkg.fast"): "export",
    }


# -- resolution ------------------------------------------------------------------------------


def test_relative_imports_are_resolved(root: Path) -> None:
    g = graph(
        root,
        {
            "pkg/__init__.py": "from . import sub\nfrom .sub import deep\n",
            "pkg/top.py": "T = 1\n",
            "pkg/sub/__init__.py": "from .deep import D\nD2 = D\n",
            "pkg/sub/deep.py": "from ..top import T\nfrom .. import top\nfrom . import sibling\nD = T\n",
            "pkg/sub/sibling.py": "from .. import top as t\nS = t.T\n",
        },
    )
    assert labels(g) == {
        ("pkg", "pkg.sub"): "runtime",
        ("pkg", "pkg.sub.deep"): "runtime",
        ("pkg.sub", "pkg.sub.deep"): "compile",
        ("pkg.sub.deep", "pkg.sub.sibling"): "runtime",
        ("pkg.sub.deep", "pkg.top"): "compile",
        ("pkg.sub.sibling", "pkg.top"): "compile",
    }


def test_a_relative_import_above_the_top_package_is_ignored(root: Path) -> None:
    g = graph(root, {"pkg/a.py": "from ... import nothing\n"})
    assert labels(g) == {}


def test_import_a_b_c_gives_the_most_specific_project_module(root: Path) -> None:
    g = graph(
        root,
        {
            "pkg/sub/__init__.py": "",
            "pkg/sub/leaf.py": "",
            "pkg/a.py": "import pkg.sub.leaf\nimport pkg.sub.missing.more\n",
        },
    )
    assert labels(g) == {("pkg.a", "pkg.sub"): "runtime", ("pkg.a", "pkg.sub.leaf"): "runtime"}


def test_modules_outside_the_roots_are_not_nodes(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "elsewhere"
    write(outside, {"extlib/__init__.py": "X = 1\n"})
    monkeypatch.syspath_prepend(str(outside))
    g = graph(root, {"pkg/a.py": "import json\nfrom extlib import X\nY = X\n"})
    assert g.modules() == {"pkg", "pkg.a"}
    assert labels(g) == {}


def test_one_edge_per_pair_with_the_strongest_label_sorted_and_filtered(root: Path) -> None:
    g = graph(
        root,
        {
            **HELPERS,
            "pkg/z.py": "",
            "pkg/a.py": """
                import pkg.helpers
                from pkg.helpers import deco
                from pkg.helpers import X
                def f():
                    import pkg.z
                    return deco
                Y = X
            """,
            "pkg/b.py": "import pkg.z\nfrom pkg.helpers import deco\n",
        },
    )
    edges = g.edges()
    assert edges == sorted(edges, key=lambda e: (e.from_, e.to))
    assert [e.to_json() for e in edges] == [
        {"from": "pkg.a", "to": "pkg.helpers", "label": "compile"},
        {"from": "pkg.a", "to": "pkg.z", "label": "runtime"},
        {"from": "pkg.b", "to": "pkg.helpers", "label": "export"},
        {"from": "pkg.b", "to": "pkg.z", "label": "runtime"},
    ]
    assert g.edges(["runtime"]) == [e for e in edges if e.label == "runtime"]
    assert g.edges(("compile", "export"), refresh=False) == [edges[0], edges[2]]
    assert g.edges([]) == []


def test_a_cycle_is_fine(root: Path) -> None:
    g = graph(
        root, {"pkg/a.py": "from pkg import b\nA = 1\n", "pkg/b.py": "from pkg.a import A\nB = A\n"}
    )
    assert labels(g) == {("pkg.a", "pkg.b"): "runtime", ("pkg.b", "pkg.a"): "compile"}


# -- tolerance and incremental updates -----------------------------------------------------


def test_a_file_that_does_not_parse_keeps_its_last_good_edges_and_is_reported(root: Path) -> None:
    g = graph(root, {**HELPERS, "pkg/a.py": "from pkg.helpers import X\nY = X\n"})
    before = g.edges()
    a = root / "pkg" / "a.py"
    a.write_text("from pkg.helpers import X\nY = (X\n", encoding="utf-8")
    os.utime(a, ns=(1, 1))  # a different mtime, whatever the clock resolution
    assert g.edges() == before
    errors = g.parse_errors()
    assert list(errors) == [str(a)]
    assert "SyntaxError" in errors[str(a)] and "line 2" in errors[str(a)]
    g.update_file(a, b"def broken(:\n")
    assert g.edges() == before and str(a) in g.parse_errors()
    g.update_file(a, b"from pkg.helpers import X\n")
    assert g.parse_errors() == {}
    assert labels(g) == {("pkg.a", "pkg.helpers"): "export"}


def test_a_new_file_with_a_syntax_error_is_a_node_without_edges(root: Path) -> None:
    g = graph(root, {**HELPERS, "pkg/bad.py": "import pkg.helpers\nx = (\n"})
    assert "pkg.bad" in g.modules()
    assert labels(g) == {}
    assert str(root / "pkg" / "bad.py") in g.parse_errors()


def test_an_edit_turns_a_runtime_edge_into_compile_rescanning_one_file(root: Path) -> None:
    g = graph(
        root, {**HELPERS, "pkg/a.py": "import pkg.helpers\ndef f():\n    return pkg.helpers.X\n"}
    )
    assert labels(g) == {("pkg.a", "pkg.helpers"): "runtime"}
    scanned = g.files_scanned
    source = b"import pkg.helpers\nY = pkg.helpers.X\n"
    a = root / "pkg" / "a.py"
    a.write_bytes(source)
    g.update_file(a, source, ast.parse(source))
    assert g.files_scanned == scanned + 1
    assert g.edges(refresh=False) == [Edge("pkg.a", "pkg.helpers", "compile")]
    g.edges()  # a refresh finds nothing else to do: the update recorded mtime and size
    assert g.files_scanned == scanned + 1


def test_refresh_rescans_changed_files_adds_new_and_forgets_deleted(root: Path) -> None:
    g = graph(root, {**HELPERS, "pkg/a.py": "from pkg.helpers import X\n"})
    g.edges()
    scanned = g.files_scanned
    write(root, {"pkg/b.py": "from pkg import helpers\nY = helpers.X\n"})
    (root / "pkg" / "a.py").unlink()
    assert labels(g) == {("pkg.b", "pkg.helpers"): "compile"}
    assert g.files_scanned == scanned + 1
    assert "pkg.a" not in g.modules()


def test_a_new_module_changes_how_other_files_resolve(root: Path) -> None:
    g = graph(root, {"pkg/__init__.py": "", "pkg/a.py": "from pkg import sub\n"})
    assert labels(g) == {("pkg.a", "pkg"): "export"}  # a name of pkg, while no pkg/sub.py
    write(root, {"pkg/sub.py": ""})
    g.update_file(root / "pkg" / "sub.py")
    assert labels(g) == {("pkg.a", "pkg.sub"): "runtime"}


def test_remove_path_and_remove_module(root: Path) -> None:
    g = graph(root, {**HELPERS, "pkg/a.py": "from pkg.helpers import X\nY = X\n"})
    assert g.remove_path(root / "pkg" / "helpers.py") == "pkg.helpers"
    # The most specific project module `pkg.helpers` names is now `pkg`.
    assert g.edges(refresh=False) == [Edge("pkg.a", "pkg", "compile")]
    assert g.remove_path(root / "pkg" / "nothing.py") is None
    g.remove_module("pkg.a")
    assert g.modules() == {"pkg"}
    g.remove_module("not.there")


def test_update_file_outside_the_roots_is_ignored(root: Path, tmp_path: Path) -> None:
    g = graph(root, {"pkg/a.py": ""})
    other = tmp_path / "other.py"
    other.write_text("import pkg\n")
    g.update_file(other)
    assert g.modules() == {"pkg", "pkg.a"}


def test_roots_are_resolved_and_can_grow(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    g = graph(root, {"pkg/a.py": "import extra.mod\nX = extra.mod\n"})
    extra_parent = tmp_path / "lib"
    write(extra_parent, {"extra/__init__.py": "", "extra/mod.py": ""})
    monkeypatch.syspath_prepend(str(extra_parent))
    assert labels(g) == {}
    g.add_root(extra_parent / "extra" / ".." / "extra")
    assert g.roots == (root.resolve(), (extra_parent / "extra").resolve())
    assert labels(g) == {("pkg.a", "extra.mod"): "compile"}
    g.set_roots([root])
    assert "extra" not in g.modules()


# -- bound names -----------------------------------------------------------------------------


def test_bound_names_lists_from_imported_names_that_are_not_submodules(root: Path) -> None:
    g = graph(
        root,
        {
            "pkg/__init__.py": "CONST = 1\n",
            "pkg/sub.py": "",
            **HELPERS,
            "pkg/a.py": """
                from pkg import sub, CONST
                from .helpers import X as Y, deco
                class C:
                    from pkg.helpers import Base
                def f():
                    from pkg.helpers import Base
            """,
        },
    )
    assert g.bound_names("pkg.a", "pkg.helpers") == [("X", "Y"), ("deco", "deco")]
    assert g.bound_names("pkg.a", "pkg") == [("CONST", "CONST")]
    assert g.bound_names("pkg.a", "pkg.sub") == []
    assert g.bound_names("pkg.nothing", "pkg") == []


# -- a property: random import graphs give exactly the expected edges ------------------------

STYLES = {
    "compile": "from pkg.m{j} import VALUE as v{j}\nUSE{j} = v{j}\n",
    "export": "from pkg.m{j} import VALUE as e{j}\ndef get{j}():\n    return e{j}\n",
    "runtime": "def call{j}():\n    import pkg.m{j}\n    return pkg.m{j}\n",
}


@settings(max_examples=25, deadline=None)
@given(
    st.integers(min_value=2, max_value=6).flatmap(
        lambda n: st.lists(
            st.tuples(
                st.integers(0, n - 1), st.integers(0, n - 1), st.sampled_from(sorted(STYLES))
            ),
            max_size=12,
        ).map(lambda imports: (n, imports))
    )
)
def test_random_import_graphs_give_sorted_unique_strongest_edges(
    case: tuple[int, list[tuple[int, int, str]]],
) -> None:
    n, imports = case
    rank = {"runtime": 0, "export": 1, "compile": 2}
    expected: dict[tuple[str, str], str] = {}
    bodies = {i: "VALUE = 1\n" for i in range(n)}
    for i, j, style in imports:
        if i == j:
            continue
        bodies[i] += STYLES[style].format(j=j)
        key = (f"pkg.m{i}", f"pkg.m{j}")
        if key not in expected or rank[style] > rank[expected[key]]:
            expected[key] = style
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write(root, {"pkg/__init__.py": "", **{f"pkg/m{i}.py": body for i, body in bodies.items()}})
        sys.path.insert(0, tmp)
        try:
            edges = ModuleGraph([root], use_cache=False).edges()
        finally:
            sys.path.remove(tmp)
    pairs = [(e.from_, e.to) for e in edges]
    assert pairs == sorted(set(pairs))
    assert {(e.from_, e.to): e.label for e in edges} == expected


def test_update_file_with_a_tree_only_and_forgetting_a_deleted_file(root: Path) -> None:
    g = graph(root, {**HELPERS, "pkg/a.py": ""})
    g.edges()
    a = root / "pkg" / "a.py"
    a.unlink()
    tree = ast.parse("def f():\n    from pkg.helpers import X\n    return X\n")
    g.update_file(a, tree=tree)  # nothing on disk to read: every function body is walked
    assert g.edges(refresh=False) == [Edge("pkg.a", "pkg.helpers", "runtime")]
    g.update_file(a)  # no text and no file: the module is gone
    assert "pkg.a" not in g.modules()
