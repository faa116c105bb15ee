// What a module panel and an overview entry draw: banners, the function table, the header.
import { clock, h, ms, plural } from "./dom.js";
import { afterText, errorText, runningOldText, waitingText } from "./words.js";

const STATUS_LABEL = {
  ok: "live",
  failed: "reload failed",
  gone: "gone",
  missing: "not found",
  not_imported: "not imported",
};

const KIND_LABEL = {
  function: "def",
  async_function: "async def",
  method: "method",
  async_method: "async method",
  classmethod: "classmethod",
  staticmethod: "staticmethod",
  property: "property",
};

export const MODULE_KEYS = [
  "mod",
  "path",
  "status",
  "functions",
  "error",
  "recompiled_at",
  "recompiles",
  "note",
  "replaced",
  "source_hash",
  "changes",
  "mode",
  "mode_label",
  "full_reason",
  "reason",
  "own_ms",
  "waiting",
  "running_old",
  "last_event",
];

export function readModule(model) {
  const state = {};
  for (const key of MODULE_KEYS) state[key] = model.get(key);
  return state;
}

export function pill(status) {
  return h("span", { class: `hr-pill hr-pill-${status}` }, STATUS_LABEL[status] ?? status);
}

/** Marks for the rows of the last reload's change set, or null when the payload had none. */
function changeMarks(changes) {
  if (!changes) return null;
  const marks = new Map();
  for (const qualname of changes.added ?? []) marks.set(qualname, "added");
  for (const qualname of changes.changed ?? []) marks.set(qualname, "changed");
  return marks;
}

/** qualname -> the threads still running its old code. */
function runningOld(entries) {
  const threads = new Map();
  for (const { qualname, thread } of entries ?? []) {
    threads.set(qualname, [...(threads.get(qualname) ?? []), thread]);
  }
  return threads;
}

/**
 * The function table. With a change set (``changes``), added and changed rows are marked
 * until the next reload and removed functions are listed at the end; without one, rows new
 * or with a new signature since the previous render of this view flash once. Functions
 * whose old code still runs say in which thread. ``opts.open(fn)`` makes each row open
 * that function in the editor.
 */
export function functionTable(functions, previous, opts = {}) {
  const marks = changeMarks(opts.changes);
  const old = runningOld(opts.runningOld);
  const removed = opts.changes?.removed ?? [];
  if (!functions.length && !removed.length) {
    return h("div", { class: "hr-empty" }, "No functions.");
  }
  const rows = functions.map((fn) => {
    const dot = fn.qualname.lastIndexOf(".");
    const owner = dot >= 0 ? fn.qualname.slice(0, dot + 1) : "";
    const name = fn.qualname.slice(dot + 1);
    let mark = marks?.get(fn.qualname) ?? null;
    if (marks === null) {
      const before = previous?.get(fn.qualname);
      if (previous !== null && previous !== undefined && before === undefined) mark = "added";
      else if (before !== undefined && before !== fn.signature) mark = "changed";
    }
    const threads = old.get(fn.qualname);
    const cls = [
      "hr-fn-row",
      mark === "added" && "hr-new",
      mark === "changed" && "hr-changed",
      opts.open && "hr-openable",
      opts.current === fn.qualname && "hr-editing",
    ]
      .filter(Boolean)
      .join(" ");
    const row = h(
      "tr",
      {
        class: cls,
        "data-qualname": fn.qualname,
        "data-kind": fn.kind,
        "data-change": marks !== null && mark,
        "data-running-old": threads?.join(" "),
        title: opts.open && `Edit ${fn.qualname}`,
      },
      h(
        "td",
        { class: "hr-name" },
        owner && h("span", { class: "hr-owner" }, owner),
        h("span", { class: "hr-fn" }, name),
        marks !== null && mark && h("span", { class: `hr-mark hr-mark-${mark}` }, mark),
        threads && h("span", { class: "hr-mark hr-mark-old" }, runningOldText(threads)),
      ),
      h("td", { class: "hr-kind" }, h("span", { class: "hr-chip" }, KIND_LABEL[fn.kind] ?? fn.kind)),
      h("td", { class: "hr-sig" }, h("code", {}, fn.signature ?? "")),
      h("td", { class: "hr-line" }, fn.lineno ?? ""),
      h("td", { class: "hr-doc" }, fn.doc ?? ""),
    );
    if (opts.open) {
      row.tabIndex = 0;
      row.addEventListener("click", () => opts.open(fn));
      row.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter" || ev.key === " ") {
          ev.preventDefault();
          ev.stopPropagation();
          opts.open(fn);
        }
      });
    }
    return row;
  });
  for (const qualname of removed) {
    rows.push(
      h(
        "tr",
        { class: "hr-fn-row hr-removed", "data-qualname": qualname, "data-change": "removed" },
        h(
          "td",
          { class: "hr-name" },
          h("span", { class: "hr-fn" }, qualname),
          h("span", { class: "hr-mark hr-mark-removed" }, "removed"),
        ),
        h("td", { class: "hr-kind" }),
        h("td", { class: "hr-sig" }),
        h("td", { class: "hr-line" }),
        h("td", { class: "hr-doc" }, "removed by the last reload"),
      ),
    );
  }
  return h(
    "table",
    { class: "hr-table" },
    h(
      "thead",
      {},
      h("tr", {}, ["function", "kind", "signature", "line", "doc"].map((c) => h("th", {}, c))),
    ),
    h("tbody", {}, rows),
  );
}

/** How the last reload updated the module, as a chip: patched, partial: N statements, full. */
function modeChip(state) {
  if (!state.mode_label) return null;
  const reason = state.mode === "full" && state.full_reason ? state.full_reason : null;
  return h(
    "span",
    { class: `hr-chip hr-mode hr-mode-${state.mode ?? "other"}`, "data-mode": state.mode, title: reason },
    reason ? `${state.mode_label} (${reason})` : state.mode_label,
  );
}

/**
 * The body shared by a FunctionsPanel and an overview entry: banner, note, table. One
 * banner at a time, the latest event's: a failure still pending, a reload waiting for the
 * running cell, a removed module. ``opts.failureShown`` is the failure (its ``at``) that the
 * editor's outcome already says: no banner repeats it.
 */
export function moduleBody(state, previous, opts = {}) {
  const parts = [];
  if (state.waiting) {
    parts.push(
      h(
        "div",
        { class: "hr-banner hr-banner-waiting", role: "status" },
        h("strong", {}, "Waiting"),
        h("span", { class: "hr-waiting" }, waitingText(state.waiting.reason)),
      ),
    );
  }
  if (state.status === "failed" && !(opts.failureShown && opts.failureShown === state.error?.at)) {
    parts.push(
      h(
        "div",
        { class: "hr-banner hr-banner-failed", role: "alert" },
        h("strong", {}, "Reload failed"),
        h("span", { class: "hr-error" }, errorText(state.error)),
        h("span", { class: "hr-hint" }, "The previous code keeps running."),
      ),
    );
  } else if (state.status === "gone") {
    parts.push(
      h(
        "div",
        { class: "hr-banner hr-banner-gone" },
        h("strong", {}, "Gone"),
        h("span", {}, "The module was removed; its old objects are no longer updated."),
      ),
    );
  } else if (state.status === "missing") {
    parts.push(
      h(
        "div",
        { class: "hr-banner hr-banner-missing" },
        h("strong", {}, "Not found"),
        h("span", { class: "hr-error" }, state.note || errorText(state.error)),
      ),
    );
  }
  if (state.note && (state.status === "ok" || state.status === "not_imported")) {
    parts.push(h("div", { class: "hr-note" }, state.note));
  }
  if (state.replaced?.length) {
    parts.push(
      h("div", { class: "hr-note" }, "Replaced, not patched in place: ", state.replaced.join(", ")),
    );
  }
  if (state.status !== "gone" && state.status !== "missing") {
    parts.push(
      functionTable(state.functions ?? [], previous, {
        changes: state.changes,
        runningOld: state.running_old,
        open: opts.open,
        current: opts.current,
      }),
    );
  }
  return parts;
}

function recompiledText(state) {
  const at = clock(state.recompiled_at);
  if (!at) return "not recompiled yet";
  return `recompiled ${at}` + (state.recompiles > 1 ? ` (${plural(state.recompiles, "time")})` : "");
}

/** The header's right-hand side: count, last recompile, why it ran, its own time, mode. */
export function moduleMeta(state) {
  const text = [
    plural((state.functions ?? []).length, "function"),
    recompiledText(state),
    state.recompiled_at ? afterText(state.reason) : null,
    state.recompiled_at ? ms(state.own_ms) : null,
  ]
    .filter(Boolean)
    .join(" · ");
  return [h("span", { class: "hr-meta" }, text), state.recompiled_at && modeChip(state)];
}
