"""What each loaded module runs (SPEC §1.5): the text the reloader ran, or the file, when it
vouches for being the text the module was imported from; and, while a file is saved, the
bytes it held just before."""

from __future__ import annotations

import importlib
import marshal
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from ipython_hotreload.core.paths import read_source
from ipython_hotreload.core.source import provenance
from ipython_hotreload.core.source import running as running_module
from ipython_hotreload.core.source.running import RunningSources, digest, pack_readings
from ipython_hotreload.core.source.statements import Readings
from ipython_hotreload.core.source.texts import Source

UNKNOWN = "the source the module runs is not known exactly"


@pytest.fixture
def root(tmp_path: Path, clean_modules: None) -> Path:
    provenance.record_imports()
    sys.path.insert(0, str(tmp_path))
    return tmp_path


def imported(root: Path, name: str, text: str) -> tuple[types.ModuleType, Path]:
    path = root / f"{name}.py"
    path.write_text(text)
    importlib.invalidate_caches()
    return importlib.import_module(name), path


def runs(sources: RunningSources, name: str, module: types.ModuleType, path: Path) -> str | None:
    """The text ``name`` runs, as a plan reads it (None: not known)."""
    running = sources.running(name, module, path)
    assert (running.index is None) == (running.why is not None)
    return running.index.text if running.index is not None else None


def test_a_file_read_by_the_import_system_vouches_for_its_module(root: Path) -> None:
    module, path = imported(root, "fresh", "X = 1\n")
    sources = RunningSources()
    assert sources.text("fresh") is None
    assert runs(sources, "fresh", module, path) == "X = 1\n"
    assert sources.text("fresh") == b"X = 1\n"  # noted: the next edit is compared with it


def test_a_file_edited_since_its_import_vouches_for_nothing(root: Path) -> None:
    module, path = imported(root, "edited", "X = 1\n")
    path.write_text("X = 100\n")
    sources = RunningSources()
    running = sources.running("edited", module, path)
    assert running.index is None and running.why == UNKNOWN
    assert sources.text("edited") is None


def test_a_file_older_than_the_process_vouches_for_itself(root: Path) -> None:
    path = root / "old.py"
    path.write_text("X = 1\n")
    module = types.ModuleType("old")  # made, not imported: no import stamp
    module.__file__ = str(path)
    sources = RunningSources()
    assert runs(sources, "old", module, path) is None  # written since the process started
    os.utime(path, ns=(10**9, 10**9))
    assert provenance.PROCESS_STARTED_NS > 10**9
    assert runs(sources, "old", module, path) == "X = 1\n"


def test_what_the_reloader_ran_is_what_the_module_runs(root: Path) -> None:
    module, path = imported(root, "ran", "X = 1\n")
    sources = RunningSources()
    sources.ran("ran", b"X = 2\n", read_source(path)[1])
    assert runs(sources, "ran", module, path) == "X = 2\n"
    sources.forget("ran")
    assert sources.text("ran") is None
    assert runs(sources, "ran", module, path) == "X = 1\n"  # the file vouches again


def test_a_module_the_import_system_ran_again_runs_that_text(root: Path) -> None:
    module, path = imported(root, "again", "X = 1\n")
    sources = RunningSources()
    sources.ran("again", b"X = 2\n", (1, 6))  # run by the reloader, from an older stamp
    path.write_text("X = 33\n")
    importlib.reload(module)  # e.g. %autoreload: the import system read the file since
    assert module.X == 33
    assert runs(sources, "again", module, path) == "X = 33\n"


def test_the_bytes_before_a_write_are_what_the_saved_file_runs(root: Path) -> None:
    module, path = imported(root, "saved", "X = 1\n")
    before, stamp = read_source(path)
    sources = RunningSources()
    sources.expect_write(path, before, stamp)
    path.write_text("X = 2  # the new text, written\n")
    new = Source("saved", path, path.read_bytes(), full=True)
    assert not sources.runs_text(new, module)
    assert sources.runs_text(Source("saved", path, before, full=True), module)
    assert runs(sources, "saved", module, path) == "X = 1\n"
    after_write = RunningSources()
    after_write.expect_write(path, before, stamp)
    after_write.written()  # the reload is over: the bytes before say nothing any more
    assert runs(after_write, "saved", module, path) is None
    assert not after_write.runs_text(Source("saved", path, before, full=True), module)


def test_the_bytes_before_a_write_count_only_when_their_stamp_vouches(root: Path) -> None:
    module, path = imported(root, "unvouched", "X = 1\n")
    sources = RunningSources()
    future = time.time_ns() + 10**12  # not older than the process, nor the stamp the import read
    sources.expect_write(path, b"X = 1\n", (future, 6))
    assert runs(sources, "unvouched", module, path) is None
    assert not sources.runs_text(Source("unvouched", path, b"X = 1\n", full=True), module)


def test_remember_notes_a_vouched_text_and_never_replaces_a_known_one(root: Path) -> None:
    module, path = imported(root, "noted", "X = 1\n")
    sources = RunningSources()
    sources.remember("noted", module, path)
    assert sources.text("noted") == b"X = 1\n"
    sources.ran("noted", b"X = 5\n")
    sources.remember("noted", module, path)
    assert sources.text("noted") == b"X = 5\n"
    other, other_path = imported(root, "noted_edited", "Y = 1\n")
    other_path.write_text("Y = 22\n")
    sources.remember("noted_edited", other, other_path)
    assert sources.text("noted_edited") is None


def test_a_new_text_is_spliced_from_the_last_index_of_its_module(root: Path) -> None:
    path = root / "spliced.py"
    sources = RunningSources()
    first = Source("spliced", path, b"X = 1\n\n\ndef f():\n    return 1\n", full=True)
    first.text = first.data.decode()
    assert sources.splice(first) is None  # no index of the module yet
    index = sources.index(first)
    assert [s.name for s in index.statements] == [None, "f"]
    second = Source("spliced", path, b"X = 1\n\n\ndef f():\n    return 2\n", full=True)
    second.text = second.data.decode()
    spliced = sources.splice(second)
    assert spliced is not None and spliced.index.text == second.text
    sources.forget("spliced")
    assert sources.splice(second) is None


def test_what_a_file_mentions_is_kept_once_the_module_is_known_to_run_it(root: Path) -> None:
    module, path = imported(root, "summarised", "import os as helper\nX = helper.getcwd()\n")
    sources = RunningSources()
    from_file = sources.mentions("summarised", path)
    assert from_file.may_mention("helper")
    sources.remember("summarised", module, path)  # the same bytes, now known to run
    assert sources.mentions("summarised", path) is from_file
    sources.ran("summarised", b"Y = 1\n")  # other bytes: summarised afresh
    assert not sources.mentions("summarised", path).may_mention("helper")


def test_a_dependents_readings_are_kept_per_text_without_a_syntax_tree(root: Path) -> None:
    module, path = imported(root, "reader", "import os\nX = os.sep\ndef f():\n    return 1\n")
    sources = RunningSources()
    readings = sources.readings("reader", module, path)
    assert readings is not None and not hasattr(readings, "tree")
    assert readings.reads_any({"os.sep"}, set()) and not readings.reads_any({"os.name"}, set())
    assert sources.readings("reader", module, path) is readings  # read once per text
    sources.ran("reader", b"import os\nY = os.name\n")
    again = sources.readings("reader", module, path)
    assert again is not None and again.reads_any({"os.name"}, set())


def test_no_readings_for_a_module_whose_text_is_not_known(root: Path) -> None:
    module, path = imported(root, "unknown_text", "X = 1\n")
    os.utime(path, ns=(time.time_ns() + 10**9,) * 2)  # the file changed since the import
    sources = RunningSources()
    assert sources.readings("unknown_text", module, path) is None
    assert sources.running("unknown_text", module, path).why == UNKNOWN


def test_readings_are_kept_on_disk_for_the_next_session(root: Path) -> None:
    text = "import os\nX = os.sep\n"
    module, path = imported(root, "kept_reader", text)
    cache = root / "cache" / "readings.marshal"
    first = RunningSources(cache)
    assert first.readings("kept_reader", module, path) is not None
    writer = first.save_cache_behind()
    assert writer is not None
    writer.join(10)
    assert first.save_cache_behind() is None  # nothing new since
    # The next session takes them by the text's digest: planted ones show they are used.
    planted = Readings([(frozenset({"planted"}), frozenset(), frozenset())], {}, {}, {}, [], set())
    entries = {(digest(text.encode()), ""): pack_readings(planted)}
    stamp, saved = marshal.loads(cache.read_bytes())
    assert set(saved) == set(entries)
    cache.write_bytes(marshal.dumps((stamp, entries)))
    second = RunningSources(cache)
    got = second.readings("kept_reader", module, path)
    assert got is not None and got.reads_any({"planted"}, set())
    # Another text of the module is read afresh.
    second.ran("kept_reader", b"import os\nY = os.name\n")
    again = second.readings("kept_reader", module, path)
    assert again is not None and again.reads_any({"os.name"}, set())
    assert not again.reads_any({"planted"}, set())


def test_an_unreadable_readings_cache_is_no_cache(
    root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    module, path = imported(root, "fresh_reader", "import os\nX = os.sep\n")
    cache = root / "readings.marshal"
    cache.write_bytes(b"not marshal at all")
    sources = RunningSources(cache)
    got = sources.readings("fresh_reader", module, path)
    assert got is not None and got.reads_any({"os.sep"}, set())
    assert "unreadable readings cache" in caplog.text
    assert not sources.seed("d", "", ("wrong", "shape"))


def test_a_process_that_exits_at_once_still_leaves_its_readings(tmp_path: Path) -> None:
    # The cache is written behind, by a daemon thread: the exit waits for it.
    (tmp_path / "quick.py").write_text("import os\nX = [os.sep] * 3\n" * 200)
    cache = tmp_path / "readings.marshal"
    script = (
        "import sys, importlib; sys.path.insert(0, sys.argv[1])\n"
        "from pathlib import Path\n"
        "from ipython_hotreload.core.source import provenance\n"
        "from ipython_hotreload.core.source.running import RunningSources\n"
        "provenance.record_imports()\n"
        "m = importlib.import_module('quick')\n"
        "s = RunningSources(Path(sys.argv[2]))\n"
        "assert s.readings('quick', m, Path(m.__file__)) is not None\n"
        "assert s.save_cache_behind() is not None\n"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path), str(cache)], check=True)
    _, entries = marshal.loads(cache.read_bytes())
    assert len(entries) == 1


def test_a_session_started_from_the_cache_still_finds_the_dependents(tmp_path: Path) -> None:
    # Two kernels in turn, with different string hashes, sharing the cache: what the first
    # kept must not make the second skip a dependent that reads what changed.
    (tmp_path / "hub.py").write_text("SIZE = 1\n")
    (tmp_path / "dep.py").write_text("from hub import SIZE\nDOUBLE = SIZE * 2\n")
    script = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from ipython_hotreload.core.engine import HotReloader\n"
        "r = HotReloader(roots=[sys.argv[1]], formatter=None)\n"
        "import hub, dep\n"
        "r.reload(sys.argv[1] + '/hub.py', f'SIZE = {sys.argv[2]}\\n')\n"
        "assert dep.DOUBLE == 2 * int(sys.argv[2]), dep.DOUBLE\n"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    for seed, size in (("1", "5"), ("2", "7"), ("3", "9")):
        env["PYTHONHASHSEED"] = seed
        subprocess.run([sys.executable, "-c", script, str(tmp_path), size], env=env, check=True)
    assert (tmp_path / "cache" / "ipython_hotreload" / "readings.marshal").exists()


def test_the_cache_keeps_the_most_recently_read_texts(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(running_module, "CACHE_ENTRIES", 2)
    cache = root / "readings.marshal"
    texts = {name: f"import os\n{name.upper()} = os.sep\n" for name in ("ra", "rb", "rc")}
    made = {name: imported(root, name, text) for name, text in texts.items()}
    first = RunningSources(cache)
    for name in ("ra", "rb"):
        assert first.readings(name, *made[name]) is not None
    writer = first.save_cache_behind()
    assert writer is not None
    writer.join(10)
    # The next session reads `ra` again, then `rc`: `rb`, read least recently, goes.
    second = RunningSources(cache)
    for name in ("ra", "rc"):
        assert second.readings(name, *made[name]) is not None
    writer = second.save_cache_behind()
    assert writer is not None
    writer.join(10)
    _, saved = marshal.loads(cache.read_bytes())
    assert {key[0] for key in saved} == {digest(texts[n].encode()) for n in ("ra", "rc")}
