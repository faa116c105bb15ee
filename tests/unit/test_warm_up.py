"""Warming the reloader up ahead of the first reload: what it prepares, that it changes
nothing a reload would see, and that the extension runs it off the main thread."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from IPython.core.interactiveshell import InteractiveShell

import ipython_hotreload as hr
from ipython_hotreload.core.report import analysis
from ipython_hotreload.ipython import extension
from tests.conftest import Project


def test_the_engine_imports_no_astroid_until_the_warm_up(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import sys
        import ipython_hotreload as hr
        assert "astroid" not in sys.modules
        r = hr.HotReloader(roots=[{str(tmp_path)!r}], formatter=None)
        r.warm_up()
        assert "astroid" in sys.modules
        r.close()
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_a_file_edited_after_the_warm_up_and_imported_since_keeps_its_dependents(
    project: Project,
) -> None:
    project.write("pkg/__init__.py")
    project.write("pkg/mod.py", "def f():\n    return 1\n")
    project.write("pkg/user.py", "X = 0\n")
    project.reloader.warm_up()  # the graph now holds user.py without an import of mod
    project.write("pkg/user.py", "from pkg.mod import f\n\nX = f()\n")
    user = project.import_("pkg.user")
    result = project.reload("pkg/mod.py", "def f():\n    return 2\n")
    assert project.mods(result) == ["pkg.mod", "pkg.user"] and user.X == 2


def test_a_reload_racing_the_warm_up_waits_for_it_and_is_right(project: Project) -> None:
    project.write("pkg/__init__.py")
    for k in range(30):
        project.write(f"pkg/m{k}.py", f"from pkg.m{max(k - 1, 0)} import *\nV{k} = {k}\n")
    project.import_("pkg.m29")
    warm = threading.Thread(target=project.reloader.warm_up)
    warm.start()
    result = project.reload("pkg/m0.py", "V0 = 100\n")
    warm.join()
    assert len(result["recompiled"]) == 30
    assert sys.modules["pkg.m29"].V0 == 100


def test_the_prefetch_analyses_loaded_files_in_a_child_as_a_reload_would(
    project: Project,
) -> None:
    source = "class C:\n    @property\n    def p(self) -> int:\n        return 1\n\n\ndef f(x=1):\n    '''Doc.'''\n"
    path = project.write("pkg/pre.py", source)
    project.write("pkg/__init__.py")
    project.import_("pkg.pre")
    analysis._clear_cache()
    project.reloader.warm_up()
    assert project.reloader.wait_for_prefetch(60)
    key = str(path.resolve())
    seeded = dict(analysis._by_key[key])
    assert len(seeded) == 2  # C and f, by the digest of their text
    # The child's analysis is what this process computes for the same text.
    analysis._clear_cache()
    assert analysis.definition_entries(source) == seeded
    functions = analysis.analyse_functions(source, key=key)
    assert [(e["qualname"], e["kind"], e["lineno"]) for e in functions] == [
        ("C.p", "property", 3),
        ("f", "function", 7),
    ]
    project.reloader.close()
    assert project.reloader.wait_for_prefetch(0)


def test_load_ext_warms_up_in_a_thread_and_unload_leaves_no_thread(project: Project) -> None:
    ip = InteractiveShell.instance()
    hr.set_default_reloader(project.reloader)
    try:
        ip.run_line_magic("load_ext", "ipython_hotreload")
        loaded = extension.loaded(ip)
        assert loaded is not None and loaded.warmed_up.wait(60)
    finally:
        ip.run_line_magic("unload_ext", "ipython_hotreload")
        extension.unload(ip)
        hr.set_default_reloader(None)
    assert not [t for t in threading.enumerate() if t.name == "hotreload-warm-up"]
