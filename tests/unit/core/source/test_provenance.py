"""The import audit hook notes what the import system read, and nothing else."""

from __future__ import annotations

import os

from ipython_hotreload.core.source import provenance
from tests.conftest import Project


def test_the_stamp_of_an_imported_file_is_noted_and_a_plain_read_is_not(
    project: Project,
) -> None:
    provenance.record_imports()
    path = project.write("noted.py", "X = 1\n")
    other = project.write("read_only.py", "Y = 1\n")
    project.import_("noted")
    st = os.stat(path)
    assert provenance.import_stamp(str(path)) == (st.st_mtime_ns, st.st_size)
    with open(other) as fh:  # the user's own read says nothing about an import
        fh.read()
    assert provenance.import_stamp(str(other)) is None


def test_the_hook_never_fails_an_open() -> None:
    before = provenance.hook_errors
    provenance._on_audit("open", (None, "r", 0))  # what no import sends: ignored
    provenance._on_audit("open", ("/no/such/dir/x.py", "r", 0))
    provenance._on_audit("exec", ("anything",))
    assert provenance.hook_errors == before
