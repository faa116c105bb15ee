"""Editing one definition through the engine (SPEC §1.6), the history and undo (SPEC §1.7),
through the engine and on its own."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

import ipython_hotreload as hr
from ipython_hotreload.core.batch import CommittedBatch, CommittedFile, Origin
from ipython_hotreload.core.edit.history import History
from tests.conftest import Project

MOD = """\
X = 1


class C:
    def m(self):
        return 1


def f():
    return X
"""


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def mod(project: Project) -> Project:
    project.write("pkg/__init__.py")
    project.write("pkg/mod.py", MOD)
    project.import_("pkg.mod")
    return project


# -- source_of / reload_definition ---------------------------------------------------------


def test_source_of_gives_the_exact_text_and_lines_by_module_or_by_file(mod: Project) -> None:
    expected = {
        "mod": "pkg.mod",
        "path": str(mod.path("pkg/mod.py")),
        "qualname": "C.m",
        "lineno": 5,
        "end_lineno": 6,
        "source": "    def m(self):\n        return 1\n",
        "source_hash": sha(b"    def m(self):\n        return 1\n"),
    }
    assert mod.reloader.source_of("pkg.mod:C.m") == expected
    assert mod.reloader.source_of(f"{mod.path('pkg/mod.py')}::C.m") == expected
    with pytest.raises(hr.HotReloadError, match=r"no definition C\.nope"):
        mod.reloader.source_of("pkg.mod:C.nope")
    with pytest.raises(hr.HotReloadError, match="spelt right"):
        mod.reloader.source_of("pkg.mdo:f")


def test_reload_definition_patches_the_method_and_keeps_the_rest_of_the_file(mod: Project) -> None:
    module = sys.modules["pkg.mod"]
    instance, f = module.C(), module.f
    result = mod.reloader.reload_definition("pkg.mod:C.m", "def m(self):\n    return 2\n")
    assert instance.m() == 2 and module.f is f
    assert mod.path("pkg/mod.py").read_text() == MOD.replace("return 1", "return 2")
    [payload] = result["recompiled"]
    assert payload["mod"] == "pkg.mod"
    assert payload["source_hash"] == sha(mod.path("pkg/mod.py").read_bytes())
    assert result["definition"] == {
        "qualname": "C.m",
        "lineno": 5,
        "end_lineno": 6,
        "added": False,
        "formatted_lines": 0,
    }
    assert mod.kinds() == [("source_written", "pkg.mod"), ("recompiled", "pkg.mod")]


def test_a_new_function_is_added_and_runs(mod: Project) -> None:
    mod.reloader.reload_definition("pkg.mod:g", "def g():\n    return X + 1\n")
    assert sys.modules["pkg.mod"].g() == 2
    assert mod.path("pkg/mod.py").read_text() == MOD + "\n\ndef g():\n    return X + 1\n"


def test_a_bad_definition_writes_nothing_and_broadcasts_nothing(mod: Project) -> None:
    before = mod.path("pkg/mod.py").read_bytes()
    for target, content in [
        ("pkg.mod:C.m", "def m(self:\n"),
        ("pkg.mod:C.m", "X = 2\n"),
        ("pkg.mod:Nope.m", "def m(self): pass\n"),
    ]:
        with pytest.raises(hr.HotReloadError, match="nothing was written"):
            mod.reloader.reload_definition(target, content)
    assert mod.path("pkg/mod.py").read_bytes() == before
    assert mod.events == [] and mod.reloader.history() == []


def test_a_failing_definition_rolls_back_and_keeps_the_text_on_disk(mod: Project) -> None:
    with pytest.raises(hr.ReloadError):
        mod.reloader.reload_definition("pkg.mod:C", "class C(Missing):\n    pass\n")
    assert sys.modules["pkg.mod"].C().m() == 1
    assert "class C(Missing)" in mod.path("pkg/mod.py").read_text()


def test_a_definition_changed_since_it_was_read_is_a_conflict_and_nothing_is_written(
    mod: Project,
) -> None:
    opened = mod.reloader.source_of("pkg.mod:C.m")
    # Another editor changes the method, and the watcher (or a cell) reloads it.
    mod.reloader.reload_definition("pkg.mod:C.m", "def m(self):\n    return 'theirs'\n")
    on_disk = mod.path("pkg/mod.py").read_bytes()
    with pytest.raises(hr.ConflictError) as caught:
        mod.reloader.reload_definition(
            "pkg.mod:C.m", "def m(self):\n    return 'mine'\n", expected_hash=opened["source_hash"]
        )
    assert caught.value.current == "    def m(self):\n        return 'theirs'\n"
    assert mod.path("pkg/mod.py").read_bytes() == on_disk
    assert sys.modules["pkg.mod"].C().m() == "theirs"


def test_a_change_elsewhere_in_the_file_is_no_conflict(mod: Project) -> None:
    opened = mod.reloader.source_of("pkg.mod:C.m")
    mod.reloader.reload_definition("pkg.mod:f", "def f():\n    return X + 10\n")
    mod.reloader.reload_definition(
        "pkg.mod:C.m", "def m(self):\n    return 3\n", expected_hash=opened["source_hash"]
    )
    assert sys.modules["pkg.mod"].C().m() == 3 and sys.modules["pkg.mod"].f() == 11


def test_a_definition_removed_since_it_was_read_is_a_conflict_with_no_current_text(
    mod: Project,
) -> None:
    opened = mod.reloader.source_of("pkg.mod:f")
    mod.reload("pkg/mod.py", MOD.replace("def f():\n    return X\n", ""))
    with pytest.raises(hr.ConflictError, match="is gone") as caught:
        mod.reloader.reload_definition(
            "pkg.mod:f", "def f():\n    return 0\n", expected_hash=opened["source_hash"]
        )
    assert caught.value.current is None
    assert "def f" not in mod.path("pkg/mod.py").read_text()


def test_only_the_new_definition_is_formatted(mod: Project) -> None:
    mod.write("pkg/mod.py", MOD + "\nugly  =  [1,2]\n")
    mod.reloader.formatter = "ruff"
    result = mod.reloader.reload_definition("pkg.mod:f", "def f( ):\n    return   X\n")
    text = mod.path("pkg/mod.py").read_text()
    assert "def f():\n    return X\n" in text and "ugly  =  [1,2]" in text
    assert result["definition"]["formatted_lines"] == 2


# -- history -------------------------------------------------------------------------------


def test_every_committed_reload_is_an_entry_with_exact_hashes(mod: Project) -> None:
    path = mod.path("pkg/mod.py")
    v0 = path.read_bytes()
    mod.reload("pkg/mod.py", MOD.replace("X = 1", "X = 2"))
    v1 = path.read_bytes()
    mod.reloader.reload_definition("pkg.mod:f", "def f():\n    return 0\n")
    new = mod.reload("pkg/new.py", "Y = 1\n")
    assert new["recompiled"][0]["mod"] == "pkg.new"
    entries = mod.reloader.history()
    assert [e["origin"] for e in entries] == ["reload", "definition", "reload"]
    assert [e["id"] for e in entries] == sorted((e["id"] for e in entries), reverse=True)
    assert entries[2]["files"] == [
        {"path": str(path), "before_hash": sha(v0), "after_hash": sha(v1)}
    ]
    assert entries[0]["files"][0]["before_hash"] is None  # a new file
    assert entries[0]["mods"] == ["pkg.new"]


def test_history_is_bounded_by_history_limit(mod: Project) -> None:
    mod.reloader.history_limit = 3
    for n in range(5):
        mod.reload("pkg/mod.py", f"X = {n}\n")
    assert len(mod.reloader.history()) == 3
    assert mod.reloader.history()[0]["id"] - mod.reloader.history()[-1]["id"] == 2


def test_entries_share_the_bytes_of_a_text_they_all_hold(mod: Project) -> None:
    # Going back and forth between two texts: each entry's "before" is the last one's
    # "after", read back from disk; the history keeps one copy of each text, not one per slot.
    for n in range(6):
        mod.reload("pkg/mod.py", MOD if n % 2 else "X = 2\n", format=False)
    entries = list(mod.reloader._history._entries)
    texts = [t for e in entries for g in e.files for t in (g.before, g.after)]
    assert len(texts) == 12 and len({bytes(t) for t in texts if t is not None}) == 2
    assert len({id(t) for t in texts}) == 2


# -- undo ----------------------------------------------------------------------------------


def test_undo_writes_back_the_exact_bytes_and_undoing_the_undo_redoes(mod: Project) -> None:
    path = mod.path("pkg/mod.py")
    v0 = path.read_bytes()
    instance = sys.modules["pkg.mod"].C()
    mod.reloader.reload_definition("pkg.mod:C.m", "def m(self):\n    return 2\n")
    v1 = path.read_bytes()
    mod.events.clear()
    result = mod.reloader.undo()
    assert path.read_bytes() == v0 and instance.m() == 1
    assert [p["mod"] for p in result["recompiled"]] == ["pkg.mod"]
    assert mod.kinds() == [("source_written", "pkg.mod"), ("recompiled", "pkg.mod")]
    newest = mod.reloader.history()[0]
    assert newest["origin"] == "undo" and newest["undoes"] == [result["undone"][0]]
    mod.reloader.undo()
    assert path.read_bytes() == v1 and instance.m() == 2


def test_undo_steps_goes_back_several_entries_at_once(mod: Project) -> None:
    path = mod.path("pkg/mod.py")
    v0 = path.read_bytes()
    for n in (2, 3, 4):
        mod.reload("pkg/mod.py", MOD.replace("X = 1", f"X = {n}"))
    result = mod.reloader.undo(steps=2)
    assert sys.modules["pkg.mod"].X == 2 and len(result["undone"]) == 2
    # Newest first, entries not yet undone: the undo just made, then the first reload.
    mod.reloader.undo(steps=2)
    assert path.read_bytes() == v0 and sys.modules["pkg.mod"].X == 1
    with pytest.raises(hr.HotReloadError, match="positive number"):
        mod.reloader.undo(steps=0)
    with pytest.raises(hr.HotReloadError, match="cannot undo 99 steps"):
        mod.reloader.undo(steps=99)


def test_undo_refuses_a_file_changed_on_disk_since_unless_forced(mod: Project) -> None:
    path = mod.path("pkg/mod.py")
    v0 = path.read_bytes()
    mod.reload("pkg/mod.py", MOD.replace("X = 1", "X = 2"))
    path.write_text(MOD.replace("X = 1", "X = 3"))
    with pytest.raises(hr.HotReloadError, match=f"{path} changed on disk"):
        mod.reloader.undo()
    assert path.read_text() == MOD.replace("X = 1", "X = 3")
    mod.reloader.undo(force=True)
    assert path.read_bytes() == v0 and sys.modules["pkg.mod"].X == 1


def test_undo_of_a_created_file_removes_it_and_purges_its_module(mod: Project) -> None:
    mod.reload("pkg/new.py", "Y = 1\n")
    assert "pkg.new" in sys.modules
    mod.events.clear()
    mod.reloader.undo()
    assert not mod.path("pkg/new.py").exists() and "pkg.new" not in sys.modules
    assert ("source_removed", "pkg.new") in mod.kinds()
    mod.reloader.undo()  # redo: the file and its module are back
    assert mod.path("pkg/new.py").read_text() == "Y = 1\n" and sys.modules["pkg.new"].Y == 1


def test_a_failed_undo_puts_the_files_back_and_changes_nothing(mod: Project) -> None:
    mod.write("pkg/support.py", "H = 1\n")
    mod.write("pkg/mod.py", "from pkg.support import H\nX = H\n")
    mod.reloader.purge_module("pkg.mod")
    mod.import_("pkg.mod")
    mod.reload("pkg/mod.py", "X = 2\n")
    # The text an undo would restore imports a module that is gone since.
    mod.path("pkg/support.py").unlink()
    mod.reloader.purge_module("pkg.support")
    entries = mod.reloader.history()
    with pytest.raises(hr.ReloadError, match="support"):
        mod.reloader.undo()
    assert mod.path("pkg/mod.py").read_text() == "X = 2\n"
    assert sys.modules["pkg.mod"].X == 2
    assert mod.reloader.history() == entries  # no entry, nothing marked undone


def test_nothing_to_undo() -> None:
    reloader = hr.HotReloader(roots=[], formatter=None)
    try:
        with pytest.raises(hr.HotReloadError, match="nothing to undo"):
            reloader.undo()
    finally:
        reloader.close()


# -- the history on its own ------------------------------------------------------------------


def committed(
    origin: Origin,
    *files: tuple[str, Path, bytes | None, bytes | None],
    purged: tuple[str, ...] = (),
) -> CommittedBatch:
    return CommittedBatch(
        origin,
        tuple(CommittedFile(*f) for f in files),
        purged,
        {"recompiled": [{"mod": f[0]} for f in files]},
    )


def test_entries_are_newest_first_as_json_and_bounded_by_the_limit_of_the_moment(
    tmp_path: Path,
) -> None:
    limit = [10]
    history = History(lambda: limit[0])
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    history.record(committed("reload", ("a", a, b"A0", b"A1")))
    history.record(committed("definition", ("b", b, None, b"B1"), purged=("gone",)))
    history.record(committed("reload"))  # no file: nothing to put back, no entry
    first, second = history.entries()[1], history.entries()[0]
    assert first["files"] == [{"path": str(a), "before_hash": sha(b"A0"), "after_hash": sha(b"A1")}]
    assert (second["origin"], second["mods"], second["undoes"], second["undone"]) == (
        "definition",
        ["b", "gone"],
        [],
        False,
    )
    assert second["id"] == first["id"] + 1 and second["files"][0]["before_hash"] is None
    entry = history.entry(first["id"])
    assert entry is not None and entry.files[0].before == b"A0" and history.entry(999) is None
    limit[0] = 1
    history.record(committed("reload", ("a", a, b"A1", b"A2")))
    assert [e["origin"] for e in history.entries()] == ["reload"]


def test_a_change_first_made_by_another_editor_cannot_be_undone(tmp_path: Path) -> None:
    history = History(lambda: 10)
    a = tmp_path / "a.py"
    a.write_bytes(b"A1")
    history.record(committed("watch", ("a", a, None, b"A1")))  # its text before: unknown
    [entry] = history.entries()
    with pytest.raises(hr.HotReloadError, match=f"cannot undo entry {entry['id']}: the text of"):
        history.undo(lambda files, origin: {"recompiled": []})
    assert a.read_bytes() == b"A1"


@pytest.mark.parametrize("steps", [0, -1, True, 1.5, "1"])
def test_undo_takes_a_positive_whole_number_of_steps(steps: object) -> None:
    with pytest.raises(hr.HotReloadError, match="positive number of steps"):
        History(lambda: 10).undo(lambda files, origin: {"recompiled": []}, steps)  # type: ignore[arg-type]


def test_an_undo_of_several_entries_writes_back_the_oldest_text_and_is_one_entry(
    mod: Project,
) -> None:
    history = History(lambda: 10)
    mod.reloader.add_batch_listener(history.record)
    path = mod.path("pkg/mod.py")
    v0 = path.read_bytes()
    mod.reload("pkg/mod.py", MOD.replace("X = 1", "X = 2"))
    mod.reload("pkg/new.py", "Y = 1\n")
    ids = [e["id"] for e in history.entries()]
    result = history.undo(mod.reloader.reload_files, 2)
    assert result["undone"] == ids and path.read_bytes() == v0
    assert not mod.path("pkg/new.py").exists() and "pkg.new" not in sys.modules
    newest = history.entries()[0]
    assert newest["origin"] == "undo" and newest["undoes"] == ids
    assert {f["path"] for f in newest["files"]} == {str(path), str(mod.path("pkg/new.py"))}
    assert all(e["undone"] for e in history.entries()[1:])
