"""The import scan of one file: the text search for call-time imports, and the scan worker's
standard-library-only start."""

from __future__ import annotations

import ast
from pathlib import Path

from ipython_hotreload.core.graph.importscan import scan_tree


def test_finding_call_time_imports_by_text_misses_none_in_the_stdlib() -> None:
    # The scanner walks only the functions whose lines look like they hold an import; over
    # real code that must find exactly what walking every function body finds.
    stdlib = Path(ast.__file__).parent
    checked = 0
    for path in sorted(stdlib.glob("*.py")):
        source = path.read_bytes()
        if checked == 40 or len(source) > 40_000 or b"\n    " not in source:
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        assert scan_tree(tree, source) == scan_tree(tree, None), path
        checked += 1
    assert checked == 40


def test_the_scan_worker_runs_without_enum() -> None:
    # The worker starts treescan.py with -I -S -B; its kinds stay bare ints so it never pays
    # for importing enum (README "Layout"; importscan names them).
    import subprocess
    import sys

    from ipython_hotreload.core.graph import treescan

    code = (
        f"import sys; path = {treescan.__file__!r}; "
        "exec(compile(open(path, 'rb').read(), path, 'exec'), {'__name__': 'treescan', '__file__': path}); "
        "print('enum' in sys.modules, 'typing' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    assert out == ["False", "False"]
