"""The core's import structure, read statically from its files: no two modules import each
other, and no longer cycle either (import-linter holds the layers; this holds the cycles,
including imports made inside functions or under ``TYPE_CHECKING``, which a layer contract
between siblings of one layer does not see). And the unit tests mirror the core: every
module has a test file of its own, at the mirrored path, that imports it."""

from __future__ import annotations

import ast
from pathlib import Path

import ipython_hotreload

PACKAGE_DIR = Path(ipython_hotreload.__file__).parent
CORE = "ipython_hotreload.core"
UNIT_TESTS = Path(__file__).parent


def module_files(package_dir: Path, package: str) -> dict[str, Path]:
    """Every module of a package directory by its dotted name (``pkg/__init__.py`` is ``pkg``)."""
    out: dict[str, Path] = {}
    for file in sorted(package_dir.rglob("*.py")):
        parts = file.relative_to(package_dir).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join((package, *parts))] = file
    return out


def imported_modules(name: str, file: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that module ``name`` imports anywhere in its file."""
    is_package = file.name == "__init__.py"
    here = name if is_package else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"), str(file))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            # ``from pkg import sub`` imports the submodule when ``sub`` is one.
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for target in targets:
            # ``import a.b.c`` runs a, a.b and a.b.c; the most specific known one is the edge.
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):
                out.add(target)
    return out


def import_graph(package_dir: Path, package: str) -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    files = module_files(package_dir, package)
    known = set(files)
    return {name: imported_modules(name, file, known) for name, file in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def core_graph() -> dict[str, set[str]]:
    return import_graph(PACKAGE_DIR / "core", CORE)


def test_the_core_is_read_whole() -> None:
    graph = core_graph()
    # The sub-systems and the engine are all seen, and their known edges are.
    assert {f"{CORE}.engine", f"{CORE}.changes.watch", f"{CORE}.graph.treescan"} <= set(graph)
    assert f"{CORE}.changes.watch" in graph[f"{CORE}.engine"]
    assert f"{CORE}.graph.treescan" in graph[f"{CORE}.graph.importscan"]


def test_no_two_core_modules_import_each_other() -> None:
    graph = core_graph()
    mutual = sorted(
        (a, b) for a, targets in graph.items() for b in targets if a < b and a in graph.get(b, ())
    )
    assert mutual == []


def test_no_import_cycle_in_the_core() -> None:
    assert cycles(core_graph()) == []


def test_the_checks_find_a_cycle_hidden_in_a_function(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.sub import b\n")
    (pkg / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from .. import c\n"
        "def f():\n    import pkg.a.nothing\n"
    )
    (pkg / "c.py").write_text("from .sub.b import f\n")
    graph = import_graph(pkg, "pkg")
    assert graph["pkg.a"] == {"pkg.sub", "pkg.sub.b"}  # ``from pkg.sub import b`` runs both
    assert graph["pkg.sub.b"] == {"pkg.a", "pkg.c"}  # a module's own parents are no edge
    assert cycles(graph) == [["pkg.a", "pkg.c", "pkg.sub.b"]]


# -- the unit tests mirror the core ----------------------------------------------------------


def mirrored_test_file(module: str, package: str, tests_dir: Path) -> Path:
    """``package.a.b`` is tested in ``tests_dir/a/test_b.py``."""
    parts = module[len(package) + 1 :].split(".")
    return tests_dir.joinpath(*parts[:-1], f"test_{parts[-1]}.py")


def imports_module(test_file: Path, module: str) -> bool:
    """Does ``test_file`` import ``module`` (``import m``, ``from m import x`` or
    ``from parent import m``), anywhere in the file?"""
    parent, _, last = module.rpartition(".")
    tree = ast.parse(test_file.read_text(encoding="utf-8"), str(test_file))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name == module for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and not node.level:
            if node.module == module:
                return True
            if node.module == parent and any(a.name == last for a in node.names):
                return True
    return False


def mirror_problems(package_dir: Path, package: str, tests_dir: Path) -> list[str]:
    """What keeps ``tests_dir`` from mirroring ``package_dir``: a module with no test file at
    its mirrored path, a test file that does not import its module, a test file that is the
    mirror of no module."""
    problems: list[str] = []
    expected: set[Path] = set()
    for name, file in module_files(package_dir, package).items():
        if file.name == "__init__.py":
            continue  # a package: its modules are tested, not the folder
        test_file = mirrored_test_file(name, package, tests_dir)
        expected.add(test_file)
        if not test_file.is_file():
            problems.append(f"{name} has no {test_file.relative_to(tests_dir)}")
        elif not imports_module(test_file, name):
            problems.append(f"{test_file.relative_to(tests_dir)} does not import {name}")
    for test_file in sorted(tests_dir.rglob("test_*.py")):
        if test_file not in expected:
            problems.append(f"{test_file.relative_to(tests_dir)} mirrors no module")
    return problems


def test_every_core_module_has_its_own_test_file_that_imports_it() -> None:
    assert mirror_problems(PACKAGE_DIR / "core", CORE, UNIT_TESTS / "core") == []


def test_the_mirror_check_finds_a_module_without_its_test_file(tmp_path: Path) -> None:
    pkg, tests = tmp_path / "pkg", tmp_path / "tests"
    for rel in ("__init__.py", "a.py", "sub/__init__.py", "sub/b.py", "sub/c.py"):
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text("")
    (tests / "sub").mkdir(parents=True)
    (tests / "test_a.py").write_text("from pkg.a import thing\n")
    (tests / "sub" / "test_b.py").write_text("def test():\n    from pkg.sub import b\n")
    (tests / "sub" / "test_c.py").write_text("import pkg.sub\n")  # not pkg.sub.c
    (tests / "test_gone.py").write_text("import pkg.gone\n")
    assert mirror_problems(pkg, "pkg", tests) == [
        "sub/test_c.py does not import pkg.sub.c",
        "test_gone.py mirrors no module",
    ]
    (pkg / "new.py").write_text("")
    assert "pkg.new has no test_new.py" in mirror_problems(pkg, "pkg", tests)


# -- sizes -------------------------------------------------------------------------------------

MAX_LINES = 450  # a core module's, but two at most (each saying why in its docstring)
MAX_FUNCTION_LINES = 60
MAX_FACADE_METHODS = 30
MAX_MODULES_PER_FOLDER = 10


def oversized(files: dict[str, Path]) -> tuple[list[str], list[str]]:
    """The modules over :data:`MAX_LINES` and the functions over :data:`MAX_FUNCTION_LINES`."""
    big_modules, long_functions = [], []
    for name, file in files.items():
        text = file.read_text(encoding="utf-8")
        if text.count("\n") > MAX_LINES:
            big_modules.append(name)
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                start = min([d.lineno for d in node.decorator_list] + [node.lineno])
                if (node.end_lineno or start) - start + 1 > MAX_FUNCTION_LINES:
                    long_functions.append(f"{name}.{node.name} (line {node.lineno})")
    return big_modules, long_functions


def test_the_core_keeps_to_its_sizes() -> None:
    files = module_files(PACKAGE_DIR / "core", CORE)
    big_modules, long_functions = oversized(files)
    assert not long_functions
    assert len(big_modules) <= 2, big_modules
    assert f"{CORE}.engine" not in big_modules
    for name in big_modules:
        doc = ast.get_docstring(ast.parse(files[name].read_text(encoding="utf-8"))) or ""
        assert "lines" in doc, f"{name} does not say why it is over {MAX_LINES} lines"
    engine = ast.parse(files[f"{CORE}.engine"].read_text(encoding="utf-8"))
    (facade,) = [n for n in engine.body if isinstance(n, ast.ClassDef) and n.name == "HotReloader"]
    methods = [n for n in facade.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    assert len(methods) <= MAX_FACADE_METHODS
    for folder in sorted({f.parent for f in files.values()}):
        modules = [f for f in folder.glob("*.py") if f.name != "__init__.py"]
        assert len(modules) <= MAX_MODULES_PER_FOLDER, folder


def test_the_size_check_finds_a_long_function(tmp_path: Path) -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    (tmp_path / "a.py").write_text(f"def long():\n{body}")
    (tmp_path / "b.py").write_text("x = 1\n" * (MAX_LINES + 1))
    assert oversized(module_files(tmp_path, "pkg")) == (["pkg.b"], ["pkg.a.long (line 1)"])
