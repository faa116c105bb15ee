"""The import scan of one file: scans from text or disk and why one fails, chunks, reads,
the worker's message frames, the text search for call-time imports, and the worker's
standard-library-only start."""

from __future__ import annotations

import ast
import io
from pathlib import Path

from ipython_hotreload.core.graph.importscan import scan_tree
from ipython_hotreload.core.graph.treescan import (
    FUNCTION_SCOPE,
    IMPORT,
    MODULE_SCOPE,
    error_text,
    frame,
    import_time_reads,
    read_bytes,
    read_message,
    scan_chunk,
    scan_file,
)


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


def test_a_file_is_scanned_from_the_text_given_or_else_from_disk(tmp_path: Path) -> None:
    p = tmp_path / "m.py"
    p.write_bytes(b"import a\nX = a.Y\ndef f():\n    import b\n")
    from_disk = scan_file(str(p), None)
    assert from_disk == scan_file(str(p), p.read_bytes()) == scan_file(str(p), p.read_text())
    records, error = from_disk
    assert error is None and records is not None
    assert [(r[2], r[5], r[6]) for r in records] == [
        ("a", MODULE_SCOPE, True),
        ("b", FUNCTION_SCOPE, False),
    ]
    assert scan_file(str(p), b"import c\n")[0] == [(IMPORT, 0, "c", "", "c", MODULE_SCOPE, False)]


def test_a_file_that_cannot_be_scanned_says_why(tmp_path: Path) -> None:
    assert scan_file("m.py", b"x = (\n") == (
        None,
        "SyntaxError: '(' was never closed (line 1)",
    )
    records, error = scan_file(str(tmp_path / "gone.py"), None)
    assert records is None and error is not None and error.startswith("FileNotFoundError: ")
    assert scan_file("m.py", b"\xff = 1\n")[1].startswith("SyntaxError: ")  # type: ignore[union-attr]
    assert error_text(ValueError("bad")) == "ValueError: bad"


def test_a_chunk_reads_every_file_first_and_scans_each_alone(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.py", tmp_path / "bad.py"
    good.write_text("import a\n")
    bad.write_text("def (:\n")
    files = [(str(good), good.stat().st_size), (str(tmp_path / "gone.py"), 0), (str(bad), 7)]
    results = scan_chunk(files)
    assert results[0] == scan_file(str(good), None)
    assert results[1][0] is None and "FileNotFoundError" in (results[1][1] or "")
    assert results[2][0] is None and "SyntaxError" in (results[2][1] or "")


def test_read_bytes_reads_a_file_that_grew_since_its_stat(tmp_path: Path) -> None:
    p = tmp_path / "m.py"
    p.write_bytes(b"x" * 200_000)
    assert read_bytes(str(p), 10) == b"x" * 200_000
    assert read_bytes(str(p), 300_000) == b"x" * 200_000
    assert read_bytes(str(p), -1) == b"x" * 200_000


def test_framed_messages_go_through_a_pipe_whole() -> None:
    stream = io.BytesIO(frame(b"") + frame(b"hello") + frame(b"x" * 70_000) + b"\x05\x00")
    assert read_message(stream) == b""
    assert read_message(stream) == b"hello"
    assert read_message(stream) == b"x" * 70_000
    assert read_message(stream) is None  # a cut header: the end
    assert read_message(io.BytesIO(frame(b"hello")[:-1])) is None  # a cut message


def test_import_time_reads_count_what_runs_at_import_not_function_bodies() -> None:
    body = ast.parse(
        "@deco\ndef f(x: Ann = default):\n    return inside\nclass C(Base):\n    attr = value\n"
    ).body
    assert import_time_reads(body) == {"deco", "Ann", "default", "Base", "value"}
    assert import_time_reads(body, evaluate_annotations=False) == {
        "deco",
        "default",
        "Base",
        "value",
    }
