"""One contender on its own copy of a code base, in its own process.

The driver starts ``python -m benchmarks.realprojects --worker JSON`` and talks to it in
JSON lines: the worker imports the project, sets its contender up, answers ``ready``, then
for each command on stdin (``apply``, ``revert``, ``rss``, ``profile``, ``quit``) prints one
line on the stdout it had at start (everything else a contender prints goes to stderr).

A ``first`` worker instead times the first reload of its fresh process (no graph cache,
a cache left on disk by an earlier process, or after ``warm_up()``), and a ``kernel``
worker the first ``%%hotreload`` cell right after ``%load_ext``: each answers once.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any, TextIO

from benchmarks.realprojects import contenders, edits
from benchmarks.realprojects.codebases import CODEBASES, CodeBase, module_names, path_of


class GcWatch:
    """Collections and their pauses while :attr:`on` (inside the timed regions)."""

    def __init__(self) -> None:
        self.on = False
        self.started = 0.0
        self.reset()
        gc.callbacks.append(self._callback)

    def reset(self) -> None:
        self.pauses: list[float] = []
        self.generations = [0, 0, 0]

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if not self.on:
            return
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.pauses.append((time.perf_counter() - self.started) * 1000)
            self.generations[info["generation"]] += 1

    def report(self) -> dict[str, Any]:
        return {
            "gc_ms": sum(self.pauses),
            "gc_max_ms": max(self.pauses, default=0.0),
            "gc_collections": list(self.generations),
        }


def rss_kib() -> int:
    """This process's resident set size, from ``/proc`` (0 where there is none)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Session:
    """The worker's state: the project, its contender, the probes, the original texts."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.codebase: CodeBase = CODEBASES[spec["codebase"]]
        self.root = Path(spec["root"])
        self.contender = contenders.make(spec["contender"])
        sys.dont_write_bytecode = False  # as in a user's kernel: the floor writes .pyc too
        if self.contender.needs_engine:
            import ipython_hotreload as hr

            assert hr.HotReloader  # the engine imported before the project, as in a kernel
        self.specs = [e for e in self.codebase.edits if e.kind in spec.get("edits", ["body"])]
        self.loaded, self.failed = import_project(self.codebase, self.root, spec.get("only"))
        self.files = {e.module: path_of(self.root, e.module) for e in self.specs}
        self.originals = {m: p.read_text() for m, p in self.files.items()}
        t0 = time.perf_counter()
        self.contender.setup(self.root, self.files)
        self.setup_ms = (time.perf_counter() - t0) * 1000
        self.probes = {e.kind: edits.Probe(e) for e in self.specs}
        self.gc = GcWatch()
        self.reloads = 0

    def ready(self) -> dict[str, Any]:
        out = {
            "ready": True,
            "version": self.contender.version(),
            "loaded": self.loaded,
            "failed": self.failed,
            "setup_ms": self.setup_ms,
            "rss_kib": rss_kib(),
        }
        if isinstance(self.contender, contenders.Autoreload):
            out.update(
                ipython=self.contender.version(),
                deduper=self.contender.deduper,
                bare_cell=self.contender.bare,
            )
        return out

    def timed(self, module: str, text: str) -> dict[str, Any]:
        self.gc.reset()
        self.gc.on = True
        try:
            measures = self.contender.apply(module, self.files[module], text)
        finally:
            self.gc.on = False
        self.reloads += 1
        return {**measures, **self.gc.report()}

    def apply(self, kind: str, edit: int) -> dict[str, Any]:
        spec = next(e for e in self.specs if e.kind == kind)
        text = edits.edit_text(spec, self.originals[spec.module], edit)
        out = self.timed(spec.module, text)
        return {**out, **self.probes[kind].check(edit).to_json()}

    def revert(self, kind: str) -> dict[str, Any]:
        spec = next(e for e in self.specs if e.kind == kind)
        return self.timed(spec.module, self.originals[spec.module])

    def handle(self, command: dict[str, Any]) -> dict[str, Any]:
        op = command["op"]
        if op == "apply":
            return self.apply(command["kind"], command["edit"])
        if op == "revert":
            return self.revert(command["kind"])
        if op == "rss":
            return {"rss_kib": rss_kib(), "reloads": self.reloads}
        if op == "profile":
            from benchmarks.realprojects import profile

            return {"text": profile.profile_edits(self, command["kind"], command["rounds"])}
        raise ValueError(f"unknown op {op!r}")


def import_project(
    codebase: CodeBase, root: Path, only: list[str] | None = None
) -> tuple[int, list[str]]:
    """Put ``root`` first on ``sys.path`` and import the project's modules (``only``
    these, if given); returns how many loaded and the names that failed (a dependency
    that is not installed)."""
    sys.path.insert(0, str(root))
    loaded, failed = 0, []
    for name in only or module_names(codebase, root):
        try:
            importlib.import_module(name)
            loaded += 1
        except Exception as exc:
            failed.append(f"{name} ({type(exc).__name__})")
    # Something imported before (IPython imports pygments) would have put the installed
    # copy's modules in the project's place.
    elsewhere = [
        name
        for name, module in list(sys.modules.items())
        if name.partition(".")[0] == codebase.package
        and not str(getattr(module, "__file__", None) or root).startswith(str(root))
    ]
    if elsewhere:
        raise RuntimeError(f"not the project's copy: {', '.join(sorted(elsewhere)[:5])}")
    return loaded, failed


def serve(spec: dict[str, Any], out: TextIO) -> None:
    """The command loop of a steady-state worker."""
    session = Session(spec)
    _send(out, session.ready())
    for line in sys.stdin:
        command = json.loads(line)
        if command["op"] == "quit":
            return
        try:
            reply = session.handle(command)
        except Exception as exc:
            traceback.print_exc()
            reply = {"error": f"{type(exc).__name__}: {exc}"[:400]}
        _send(out, reply)


def first_reload(spec: dict[str, Any]) -> dict[str, Any]:
    """The first reload (the body edit) of this fresh process, its scenario's way."""
    scenario = spec["scenario"]
    session = Session({**spec, "contender": "ours-warm" if scenario == "warm" else "ours"})
    kind = session.specs[0].kind
    if spec.get("profile"):
        from benchmarks.realprojects import profile

        return {"text": profile.profile_first(session, kind)}
    out = session.apply(kind, spec["edit"])
    later = [session.revert(kind)["ms"]]
    for k in range(1, 4):
        later.append(session.apply(kind, spec["edit"] + k)["ms"])
        later.append(session.revert(kind)["ms"])
    return {**out, "later": later, "setup_ms": session.setup_ms, "loaded": session.loaded}


def kernel_first(spec: dict[str, Any]) -> dict[str, Any]:
    """``%load_ext ipython_hotreload`` in a fresh shell (the working directory the project's
    root, formatter None), then at once the ``%%hotreload`` cell of the body edit: it waits
    for whatever the extension's background warm-up has not finished."""
    import ipython_hotreload as hr

    assert hr.HotReloader  # (imported, not made: %load_ext comes after the imports)
    codebase = CODEBASES[spec["codebase"]]
    root = Path(spec["root"])
    sys.dont_write_bytecode = False
    import_project(codebase, root)
    # IPython only now: it imports pygments, which must be the project's copy.
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    os.chdir(root)
    config = Config()
    config.HistoryManager.enabled = False
    config.HotReload.formatter = None
    shell = InteractiveShell.instance(config=config)
    body = codebase.edit("body")
    path = path_of(root, body.module)
    text = edits.edit_text(body, path.read_text(), spec["edit"])
    cell = f"%%hotreload {path.relative_to(root)} --quiet\n{text}"
    from benchmarks import run_all as h

    with h.quiet_stdout():
        t0 = time.perf_counter()
        shell.run_line_magic("load_ext", "ipython_hotreload")
        t1 = time.perf_counter()
        result = shell.run_cell(cell, store_history=False)
        t2 = time.perf_counter()
    if not result.success:
        raise RuntimeError(f"the %%hotreload cell failed: {result.error_in_exec!r}")
    applied = edits.runs(edits.resolve(f"{body.module}:{body.target}"), spec["edit"])
    return {"load_ms": (t1 - t0) * 1000, "ms": (t2 - t1) * 1000, "applied": applied}


def main(spec: dict[str, Any]) -> None:
    """Entry point of ``--worker``: the protocol on the original stdout, prints on stderr."""
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    mode = spec.get("mode", "serve")
    if mode == "serve":
        serve(spec, out)
        return
    try:
        result = first_reload(spec) if mode == "first" else kernel_first(spec)
    except Exception as exc:
        traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {exc}"[:400]}
    _send(out, result)


def _send(out: TextIO, message: dict[str, Any]) -> None:
    out.write(json.dumps(message) + "\n")
    out.flush()
