"""The driver's data as the marks' rows (``run_all.row``), a table of every contender's
medians and stale counts, and the stale counts by kind."""

from __future__ import annotations

from typing import Any

from benchmarks import run_all as h
from benchmarks.realprojects.codebases import CODEBASES, CodeBase, EditSpec

FIRST_COLD_MS = 400.0
FIRST_WARM_X = 3.0
FLOOR_LIMIT = {"body": 1.5, "method": 1.5}  # the other edits' floor rows only report
WORST_X = 5.0
DEPENDENTS_SPREAD = 0.10
RSS_MIB = 30.0

_LABEL = {
    "ours": "ours",
    "ours-ruff": "ours (ruff)",
    "floor": "floor",
    "autoreload": "%autoreload 2 work",
    "autoreload-cell": "%autoreload 2 cell",
    "jurigged": "jurigged",
    "ours-bare": "ours, hub only loaded",
}


class Series:
    """One contender's replies for one edit kind (failed ones kept apart)."""

    def __init__(self, replies: list[dict[str, Any]], key: str = "ms") -> None:
        self.replies = replies
        self.ok = [r for r in replies if "error" not in r]
        self.errors = sorted({r["error"] for r in replies if "error" in r})
        self.times = [float(r[key]) for r in self.ok if key in r]

    @property
    def median(self) -> float | None:
        return h.median(self.times) if self.times else None

    def not_applied(self) -> int:
        return sum(not r.get("applied", True) for r in self.ok)

    def stale(self) -> dict[str, list[int]]:
        """Per category, the most stale seen in a round (and the total checked)."""
        worst: dict[str, list[int]] = {}
        for r in self.ok:
            for cat, (n, total) in r.get("stale", {}).items():
                if cat not in worst or n > worst[cat][0]:
                    worst[cat] = [n, total]
        return worst


def per_round(ours: Series, theirs: Series, key: str = "ms") -> float | None:
    """The median of the round-by-round ratios (the two took turns in each round)."""
    pairs = [
        (a["ms"], b[key])
        for a, b in zip(ours.replies, theirs.replies, strict=False)
        if "error" not in a and "error" not in b and key in b
    ]
    return h.median([a / b for a, b in pairs]) if pairs else None


def rows(results: dict[str, Any]) -> list[h.Row]:
    """Every mark's row, code base by code base."""
    out: list[h.Row] = []
    for key, data in results.items():
        if key in CODEBASES:
            out += _codebase_rows(CODEBASES[key], data)
    return out


def _codebase_rows(cb: CodeBase, data: dict[str, Any]) -> list[h.Row]:
    steady, first = data["steady"], data["first"]
    n = steady["ready"].get("ours", {}).get("loaded")
    out: list[h.Row] = []
    for spec in cb.edits:
        out += _edit_rows(cb, spec, n, steady)
    full = Series(steady["applies"].get("ours", {}).get("body", []))
    bare = Series(steady["applies"].get("ours-bare", {}).get("body", []))
    out += _dependents_rows(cb, n, full, bare)
    if first:  # (a quick run times them on the first code base only)
        out += _first_rows(cb, n, first, full.median)
    out.append(_rss_row(cb, n, steady))
    return out


def _edit_rows(cb: CodeBase, spec: EditSpec, n: Any, steady: dict[str, Any]) -> list[h.Row]:
    """One edit's rows: ours against each contender, and our worst reload."""
    what = f"{cb.key} {cb.version}: {spec.what}"
    applies = steady["applies"]
    ours = Series(applies.get("ours", {}).get(spec.kind, []))

    def compare(
        name: str, label: str, limit: float | None, strict: bool = False, key: str = "ms"
    ) -> h.Row:
        theirs = Series(applies.get(name, {}).get(spec.kind, []), key)
        ratio = per_round(ours, theirs, key)
        parts = [_failures(ours), _failures(theirs, label)]
        parts.append(f"per-round ratio {ratio:.2f}x" if ratio else "")
        note = "; ".join(filter(None, parts))
        if limit is None:
            return h.row(
                what, n, ours.median, theirs.median, compared_with=label, mark="report", note=note
            )
        return h.ratio_row(
            what, n, ours.median, theirs.median, label, limit, strict=strict, note=note
        )

    out = [compare("floor", "floor: write + importlib.reload", FLOOR_LIMIT.get(spec.kind))]
    auto = steady["ready"].get("autoreload", {})
    label = f"%autoreload 2 (IPython {auto.get('ipython', '?')}, deduperreload "
    label += "on" if auto.get("deduper") else "off"
    out.append(compare("autoreload", label + "): reload work", 1.0, True, "work_ms"))
    cell = compare("autoreload", label + "): whole triggering cell", None)
    cell["note"] = "; ".join(filter(None, [cell["note"], _bare_cell(auto)]))
    out.append(cell)
    version = steady["ready"].get("jurigged", {}).get("version", "?")
    out.append(compare("jurigged", f"jurigged {version}: write + CodeFile.refresh", 1.0, True))
    if "ours-ruff" in applies:
        out.append(compare("ours-ruff", "ours, formatter ruff (the default)", None))
    # Every reload of this module's edit counts: applies, reverts, the reloads up to 100.
    extra = steady.get("extra", {}).get("ours", []) if spec.kind == "body" else []
    reverts = steady["reverts"].get("ours", {}).get(spec.kind, [])
    out.append(_worst_row(what, n, Series(ours.replies + reverts + extra)))
    return out


def _failures(s: Series, label: str = "ours") -> str:
    parts = []
    if s.errors:
        parts.append(f"{label} failed {len(s.replies) - len(s.ok)}/{len(s.replies)}: {s.errors[0]}")
    if s.not_applied():
        parts.append(f"{label}: edit not applied in {s.not_applied()}/{len(s.ok)}")
    return "; ".join(parts)


def _bare_cell(auto: dict[str, Any]) -> str:
    bare = auto.get("bare_cell")
    return f"a bare run_cell('pass') takes {h.median(bare):.2f} ms" if bare else ""


def _worst_row(what: str, n: Any, s: Series) -> h.Row:
    if not s.times:
        return h.row(what + ": worst reload", n, None, met=False, note="not measured")
    worst = max(s.ok, key=lambda r: r["ms"])
    median = h.median(s.times)
    gcs = [r for r in s.ok if r.get("gc_collections", [0, 0, 0])[2]]
    note = (
        f"ours over {len(s.times)} reloads; the worst had {worst.get('gc_ms', 0):.1f} ms of "
        f"collections (gen {worst.get('gc_collections')}); {len(gcs)} reloads ran a full "
        f"collection, longest pause {max((r['gc_max_ms'] for r in s.ok), default=0):.1f} ms"
    )
    return h.ratio_row(
        what + ": worst reload", n, worst["ms"], median, "ours, median", WORST_X, note=note
    )


def _dependents_rows(cb: CodeBase, n: Any, full: Series, bare: Series) -> list[h.Row]:
    if not cb.bare:
        return []
    if full.median is None or bare.median is None:
        return [h.row(f"{cb.key}: same body edit without its dependents", n, None, met=False)]
    ratio = full.median / bare.median
    return [
        h.row(
            f"{cb.key} {cb.version}: the body edit with the whole project loaded vs with only "
            f"{', '.join(cb.bare)} (and what it imports) loaded",
            n,
            full.median,
            bare.median,
            compared_with=_LABEL["ours-bare"],
            mark=f"within {DEPENDENTS_SPREAD:.0%}",
            met=abs(ratio - 1) <= DEPENDENTS_SPREAD,
            note=f"per-round ratio {per_round(full, bare) or 0:.2f}x; the dependents import "
            "it and subclass its classes, none reads the edited method at import time",
        )
    ]


def _first_rows(
    cb: CodeBase, n: Any, first: dict[str, list[dict[str, Any]]], steady_ms: float | None
) -> list[h.Row]:
    out = []
    for scenario, label in (
        ("cold", "no graph cache"),
        ("disk", "the graph cache an earlier process left on disk"),
        ("warm", "after warm_up() (and its analysis prefetch)"),
        ("kernel", "first %%hotreload cell right after %load_ext, no cache"),
    ):
        s = Series(first.get(scenario, []))
        what = f"{cb.key}: first reload in a fresh process, {label}"
        note = "; ".join(filter(None, [f"{len(s.times)} fresh processes", _failures(s)]))
        if s.ok and "gc_ms" in s.ok[0]:
            gc_ms = h.median([r["gc_ms"] for r in s.ok])
            note += f"; of which {gc_ms:.0f} ms in the collector"
        later = [x for r in s.ok for x in r.get("later", [])]
        if later:
            note += f"; reloads 2-8 there: median {h.median(later):.1f} ms"
        if scenario == "warm" and s.ok:
            note += f"; warm_up itself {h.median([r['setup_ms'] for r in s.ok]):.0f} ms"
        if scenario == "kernel" and s.ok:
            note += f"; %load_ext {h.median([r['load_ms'] for r in s.ok]):.1f} ms"
        if scenario == "cold":
            met = None if s.median is None else s.median <= FIRST_COLD_MS
            out.append(
                h.row(what, n, s.median, mark=f"<= {FIRST_COLD_MS:.0f} ms", met=met, note=note)
            )
        elif scenario == "kernel":
            out.append(
                h.row(
                    what,
                    n,
                    s.median,
                    steady_ms,
                    compared_with="ours, steady body edit",
                    mark="report",
                    note=note,
                )
            )
        else:
            out.append(
                h.ratio_row(
                    what,
                    n,
                    s.median,
                    steady_ms,
                    "ours, steady body edit (median)",
                    FIRST_WARM_X,
                    note=note,
                )
            )
    return out


def _rss_row(cb: CodeBase, n: Any, steady: dict[str, Any]) -> h.Row:
    rss = {k: v.get("rss_kib", 0) / 1024 for k, v in steady.get("rss", {}).items() if v}
    reloads = steady.get("rss", {}).get("ours", {}).get("reloads", "?")
    what = f"{cb.key}: RSS after {reloads} reloads, ours vs the floor's process"
    if "ours" not in rss or "floor" not in rss:
        return h.row(what, n, None, met=False, note="not measured")
    extra = rss["ours"] - rss["floor"]
    at_start = {k: v.get("rss_kib", 0) / 1024 for k, v in steady["ready"].items()}
    others = ", ".join(f"{_LABEL.get(k, k)} {v:.0f}" for k, v in rss.items())
    return h.row(
        what,
        n,
        None,
        mark=f"<= floor + {RSS_MIB:.0f} MiB",
        met=extra <= RSS_MIB,
        note=f"ours {rss['ours']:.0f} MiB vs floor {rss['floor']:.0f} MiB: {extra:+.0f} MiB "
        f"(after setup: ours {at_start.get('ours', 0):.0f}, floor "
        f"{at_start.get('floor', 0):.0f}); all, MiB: {others}",
    )


# -- the contenders' table ------------------------------------------------------------------------


def contenders_table(results: dict[str, Any]) -> str:
    """Medians (ms) and stale counts of every contender, edit by edit."""
    names = ["ours", "ours-ruff", "floor", "autoreload", "autoreload-cell", "jurigged"]
    head = "| code base | edit | " + " | ".join(_LABEL[n] for n in names) + " |"
    lines = [head, "|" + "---|" * (len(names) + 2)]
    for key, data in results.items():
        if key not in CODEBASES:
            continue
        applies = data["steady"]["applies"]
        for spec in CODEBASES[key].edits:
            cells = []
            for name in names:
                real = "autoreload" if name == "autoreload-cell" else name
                metric = "work_ms" if name == "autoreload" else "ms"
                s = Series(applies.get(real, {}).get(spec.kind, []), metric)
                cells.append(_cell(s, name != "autoreload-cell"))
            lines.append(f"| {key} | {spec.kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(s: Series, with_stale: bool) -> str:
    if not s.replies:
        return "-"
    if not s.times:
        return f"failed ({s.errors[0][:60]})" if s.errors else "-"
    text = f"{s.median:.2f}"
    if s.errors:
        text += f" ({len(s.replies) - len(s.ok)} failed)"
    if with_stale:
        text += "; " + stale_text(s)
    return text


def stale_text(s: Series) -> str:
    """``stale 0`` or ``stale 2/3: refs 2/2`` (only the categories with something stale),
    and whether the edit itself failed to show."""
    worst = s.stale()
    total = sum(v[0] for v in worst.values())
    checked = sum(v[1] for v in worst.values())
    parts = [f"{cat} {v[0]}/{v[1]}" for cat, v in worst.items() if v[0]]
    names = sorted({n for r in s.ok for n in r.get("stale_names", [])})
    if names:
        parts.append("(" + ", ".join(n.partition(":")[2] or n for n in names) + ")")
    text = f"stale {total}/{checked}" + (": " + ", ".join(parts) if parts else "")
    if s.not_applied():
        text += f"; NOT APPLIED {s.not_applied()}/{len(s.ok)}"
    return text


def summary(results: dict[str, Any]) -> str:
    """What each process loaded, and what could not be imported."""
    lines = []
    for key, data in results.items():
        if key not in CODEBASES:
            continue
        ready = data["steady"]["ready"]
        ours = ready.get("ours", {})
        failed = ours.get("failed", [])
        lines.append(
            f"- {key} {CODEBASES[key].version}: {ours.get('loaded')} modules imported in every "
            f"process ({len(failed)} not importable here: {', '.join(failed) or 'none'}); "
            f"{CODEBASES[key].shape}."
        )
    return "\n".join(lines)
