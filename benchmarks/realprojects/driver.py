"""Driving the contenders' processes in turns, edit by edit, and collecting their replies.

For each code base: one worker process per contender, each on a copy of its own
(``worker.py``). In every round, each edit kind is applied by every contender in turn (the
order rotating from round to round, so a change in the machine's load falls on all alike),
then reverted by each in the same order; the first ``warmup`` rounds are not kept. Then
each process reloads (the body edit, in turns) until it has done ``reloads`` reloads, and
reports its RSS. Last, fresh processes time the first reload: no graph cache, the cache an
earlier process left on disk, after ``warm_up()``, and the first ``%%hotreload`` cell.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import run_all as h
from benchmarks.realprojects.codebases import CODEBASES, CodeBase, copy_project, path_of

STEADY = ("ours", "ours-ruff", "floor", "autoreload", "jurigged")
SCENARIOS = ("cold", "disk", "warm")


@dataclass
class Options:
    """How much to measure (``--quick`` makes it a smoke run)."""

    cache: Path
    rounds: int = 15
    warmup: int = 2
    reloads: int = 100
    first_samples: int = 3
    ruff: bool = True
    codebases: list[str] = field(default_factory=lambda: ["pygments", "networkx"])
    first_codebases: int = 2  # how many of them get the fresh processes' first reloads

    @classmethod
    def quick(cls, cache: Path) -> Options:
        return cls(
            cache=cache,
            rounds=3,
            warmup=1,
            reloads=40,
            first_samples=1,
            ruff=False,
            first_codebases=1,
        )


def _command(spec: dict[str, Any]) -> list[str]:
    return [sys.executable, "-m", "benchmarks.realprojects", "--worker", json.dumps(spec)]


def _env(xdg: Path) -> dict[str, str]:
    """A worker's environment: the repository importable, its own graph cache (``xdg``),
    bytecode written as in a user's kernel."""
    env = h.child_env()
    env["XDG_CACHE_HOME"] = str(xdg)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _log(workdir: Path, spec: dict[str, Any], name: str) -> Path:
    """Where a worker's stderr goes (the driver quotes its tail when the worker dies)."""
    log = workdir / "logs" / f"{spec['codebase']}-{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    return log


class Worker:
    """A worker process and its JSON-lines channel; its stderr goes to a log file."""

    def __init__(self, name: str, spec: dict[str, Any], workdir: Path) -> None:
        self.name = name
        self.log = _log(workdir, spec, name)
        env = _env(workdir / "xdg" / f"{spec['codebase']}-{name}")
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(
                _command(spec),
                cwd=h.REPO,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        self.dead: str | None = None

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(30)
            tail = self.log.read_text().strip().splitlines()[-4:]
            self.dead = f"exited {self.proc.returncode}: " + " | ".join(tail)
            raise RuntimeError(f"{self.name} {self.dead}")
        return dict(json.loads(line))

    def call(self, **command: Any) -> dict[str, Any]:
        if self.dead:
            return {"error": f"process gone ({self.dead})"}
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(command) + "\n")
            self.proc.stdin.flush()
            return self.read()
        except (OSError, RuntimeError) as exc:
            self.dead = self.dead or str(exc)
            return {"error": f"process gone ({self.dead})"}

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def one_shot(name: str, spec: dict[str, Any], workdir: Path, xdg: Path) -> dict[str, Any]:
    """A fresh worker that answers once (``first``, ``kernel``) with its own graph cache."""
    log = _log(workdir, spec, name)
    with log.open("w") as err:
        proc = subprocess.run(
            _command(spec),
            cwd=h.REPO,
            env=_env(xdg),
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            timeout=600,
        )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        tail = log.read_text().strip().splitlines()[-4:]
        return {"error": f"exited {proc.returncode}: " + " | ".join(tail)}
    return dict(json.loads(lines[-1]))


def contenders_of(codebase: CodeBase, opts: Options) -> dict[str, list[str]]:
    """Each steady-state contender and the edit kinds it takes part in."""
    kinds = [e.kind for e in codebase.edits]
    names = [n for n in STEADY if opts.ruff or n != "ours-ruff"]
    out = {n: list(kinds) for n in names}
    if codebase.bare:
        out["ours-bare"] = ["body"]
    return out


def steady(codebase: CodeBase, opts: Options, workdir: Path) -> dict[str, Any]:
    """The rounds, the reloads up to ``opts.reloads`` and the RSS of every contender."""
    plan = contenders_of(codebase, opts)
    workers: dict[str, Worker] = {}
    for name, kinds in plan.items():
        root = copy_project(codebase, opts.cache, workdir / codebase.key / name)
        spec: dict[str, Any] = {"codebase": codebase.key, "root": str(root), "edits": kinds}
        spec["contender"] = "ours" if name == "ours-bare" else name
        if name == "ours-bare":
            spec["only"] = list(codebase.bare)
        workers[name] = Worker(name, spec, workdir)
    out: dict[str, Any] = {"ready": {}, "applies": {}, "reverts": {}, "rss": {}}
    try:
        for name, worker in workers.items():  # they started together: wait for each
            try:
                out["ready"][name] = worker.read()
            except RuntimeError as exc:
                out["ready"][name] = {"error": str(exc)}
            out["applies"][name] = {k: [] for k in plan[name]}
            out["reverts"][name] = {k: [] for k in plan[name]}
        _progress(codebase, "processes ready")
        edit = _rounds(codebase, opts, plan, workers, out)
        _top_up(opts, workers, out, edit)
        _progress(codebase, f"{opts.reloads} reloads each, RSS read")
    finally:
        for worker in workers.values():
            worker.close()
    return out


def _rounds(
    codebase: CodeBase,
    opts: Options,
    plan: dict[str, list[str]],
    workers: dict[str, Worker],
    out: dict[str, Any],
) -> int:
    edit = 1
    for r in range(opts.warmup + opts.rounds):
        for spec in codebase.edits:
            who = [n for n in plan if spec.kind in plan[n]]
            shift = r % len(who)
            order = who[shift:] + who[:shift]
            replies = {n: workers[n].call(op="apply", kind=spec.kind, edit=edit) for n in order}
            reverts = {n: workers[n].call(op="revert", kind=spec.kind) for n in order}
            if r >= opts.warmup:
                for n in order:
                    out["applies"][n][spec.kind].append({**replies[n], "edit": edit})
                    out["reverts"][n][spec.kind].append(reverts[n])
            edit += 1
        _progress(codebase, f"round {r + 1}/{opts.warmup + opts.rounds}")
    return edit


_STARTED = time.perf_counter()


def _progress(codebase: CodeBase, what: str) -> None:
    print(f"[{time.perf_counter() - _STARTED:4.0f} s] {codebase.key}: {what}", file=sys.stderr)


def _top_up(opts: Options, workers: dict[str, Worker], out: dict[str, Any], edit: int) -> None:
    """Body edits in turns until every process has reloaded ``opts.reloads`` times (these
    reloads join the body edit's series for the worst-against-median row), then RSS."""
    names = [n for n in workers if n != "ours-bare"]
    done = {n: workers[n].call(op="rss").get("reloads", opts.reloads) for n in names}
    out["extra"] = {n: [] for n in names}
    while any(done[n] < opts.reloads for n in names):
        for n in names:
            if done[n] >= opts.reloads:
                continue
            reply = workers[n].call(op="apply", kind="body", edit=edit)
            out["extra"][n].append(reply)
            workers[n].call(op="revert", kind="body")
            done[n] += 2
        edit += 1
    for n in names:
        out["rss"][n] = workers[n].call(op="rss")


def first_reloads(codebase: CodeBase, opts: Options, workdir: Path) -> dict[str, Any]:
    """Fresh processes, in turns: the first reload with no graph cache, with the cache left
    by an earlier process, after ``warm_up()``; and the first ``%%hotreload`` cell."""
    root = copy_project(codebase, opts.cache, workdir / codebase.key / "first")
    body = codebase.edit("body")
    path = path_of(root, body.module)
    original = path.read_text()
    stamp = path.stat()
    disk = workdir / "xdg" / f"{codebase.key}-first-disk"
    out: dict[str, list[dict[str, Any]]] = {s: [] for s in (*SCENARIOS, "kernel")}
    spec = {"codebase": codebase.key, "root": str(root), "edits": ["body"]}
    for s in range(opts.first_samples):
        for scenario in (*SCENARIOS, "kernel"):
            # The first cold process primes the disk cache the "disk" ones start from.
            xdg = disk if scenario == "disk" or (scenario == "cold" and s == 0) else None
            xdg = xdg or workdir / "xdg" / f"{codebase.key}-first-{scenario}-{s}"
            mode = "kernel" if scenario == "kernel" else "first"
            run_spec = {**spec, "mode": mode, "scenario": scenario, "edit": 1000 + s}
            out[scenario].append(one_shot(f"first-{scenario}-{s}", run_spec, workdir, xdg))
            # Put the file back as it was, its time too: a kernel opened on a project that
            # was just written to (within a second) cannot vouch for what its modules run,
            # and re-executes them whole the first time; a user's files are older.
            path.write_text(original)
            os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
        _progress(codebase, f"first reloads, sample {s + 1}/{opts.first_samples}")
    shutil.rmtree(workdir / "xdg", ignore_errors=True)
    return out


def run(opts: Options, workdir: Path) -> dict[str, Any]:
    """Every code base's measurements, as JSON-friendly data (``report.py`` reads it)."""
    results: dict[str, Any] = {"options": {"rounds": opts.rounds, "warmup": opts.warmup}}
    for k, key in enumerate(opts.codebases):
        codebase = CODEBASES[key]
        results[key] = {"steady": steady(codebase, opts, workdir), "first": {}}
        if k < opts.first_codebases:
            results[key]["first"] = first_reloads(codebase, opts, workdir)
    return results
