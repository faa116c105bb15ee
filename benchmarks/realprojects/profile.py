"""``--profile EDIT``: where our reload's time goes on a real code base.

In one worker (ours, formatter None): two warm-up rounds of the edit, then ``rounds``
reloads timed with the collector watched (the collections each ran and their pauses), then
``rounds`` more under cProfile, only the reload call itself profiled (the checks and the
reverts are not). ``first`` profiles the first reload of a fresh process instead.
"""

from __future__ import annotations

import cProfile
import io
import pstats
from typing import Any

from benchmarks import run_all as h
from benchmarks.realprojects import edits

TOP_CUMULATIVE = 35
TOP_OWN = 25


def profile_edits(session: Any, kind: str, rounds: int) -> str:
    """The report for ``rounds`` reloads of edit ``kind`` (and its reverts, unprofiled)."""
    spec = next(e for e in session.specs if e.kind == kind)
    edit = 50_000
    for _ in range(2):
        session.apply(kind, edit)
        session.revert(kind)
        edit += 1
    plain = []
    for _ in range(rounds):
        plain.append(session.apply(kind, edit))
        session.revert(kind)
        edit += 1
    profiler = cProfile.Profile()
    module, path = spec.module, session.files[spec.module]
    for _ in range(rounds):
        text = edits.edit_text(spec, session.originals[module], edit)
        profiler.runcall(session.contender.apply, module, path, text)
        session.revert(kind)
        edit += 1
    return _timings(plain, f"{rounds} reloads of the {kind} edit") + _stats(profiler)


def profile_first(session: Any, kind: str) -> str:
    """The report for the first reload of this fresh process."""
    spec = next(e for e in session.specs if e.kind == kind)
    text = edits.edit_text(spec, session.originals[spec.module], 1)
    profiler = cProfile.Profile()
    profiler.runcall(session.contender.apply, spec.module, session.files[spec.module], text)
    return f"the first reload of a fresh process (the {kind} edit)\n" + _stats(profiler)


def _timings(replies: list[dict[str, Any]], what: str) -> str:
    bad = [r["error"] for r in replies if "error" in r]
    ok = [r for r in replies if "error" not in r]
    if not ok:
        return f"{what}: all failed: {bad[:1]}\n"
    times = sorted(r["ms"] for r in ok)
    gens = [sum(r["gc_collections"][g] for r in ok) for g in range(3)]
    pauses = sorted((r["gc_max_ms"] for r in ok), reverse=True)
    lines = [
        f"{what}, unprofiled: median {h.median(times):.2f} ms, min {times[0]:.2f}, "
        f"max {times[-1]:.2f}" + (f"; {len(bad)} failed: {bad[0]}" if bad else ""),
        f"collections during them: gen0 {gens[0]}, gen1 {gens[1]}, gen2 {gens[2]}; "
        f"pauses {sum(r['gc_ms'] for r in ok):.1f} ms in all, longest "
        + ", ".join(f"{p:.1f}" for p in pauses[:5])
        + " ms",
        "per reload (ms, gc ms): "
        + ", ".join(f"{r['ms']:.1f} ({r['gc_ms']:.1f})" for r in replies if "ms" in r),
        "",
    ]
    return "\n".join(lines)


def _stats(profiler: cProfile.Profile) -> str:
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.strip_dirs()
    stats.sort_stats("cumulative").print_stats(TOP_CUMULATIVE)
    stats.sort_stats("tottime").print_stats(TOP_OWN)
    return stream.getvalue()
