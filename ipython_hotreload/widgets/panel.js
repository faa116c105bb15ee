// ipython_hotreload panels: one ES module for the three panel kinds, picked by the model's
// "_panel" trait. Everything shown comes from the synced traits; the view never calls the
// kernel. Each view counts its renders in data-renders on its root element, so a test can
// prove a re-render happened from pushed state alone.

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

const EVENT_LABEL = {
  source_written: "written",
  recompiled: "recompiled",
  compile_failed: "failed",
  source_removed: "removed",
  worker_recompiled: "worker ok",
  worker_failed: "worker failed",
};

/** The project panel's cluster line: n workers current, m failed, with the errors. */
function clusterSection(cluster) {
  const workers = Object.entries(cluster?.workers ?? {});
  if (!workers.length) return null;
  const failed = workers.filter(([, w]) => w.state === "failed");
  return h(
    "div",
    { class: "hr-cluster", "data-current": cluster.current ?? 0, "data-failed": cluster.failed ?? 0 },
    h("strong", {}, "Cluster: "),
    `${plural(cluster.current ?? 0, "worker")} current, ${cluster.failed ?? 0} failed`,
    failed.length
      ? h(
          "ul",
          { class: "hr-cluster-failed" },
          failed.map(([address, w]) => h("li", { "data-worker": address }, `${address}: ${errorText(w.error)}`)),
        )
      : null,
  );
}

/** Build an element: h("td", { class: "x", "data-y": 1 }, child, "text", [more]). */
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

function clock(at) {
  if (at === null || at === undefined) return null;
  return new Date(at * 1000).toLocaleTimeString([], {
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hour12: false,
  });
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function pill(status) {
  return h("span", { class: `hr-pill hr-pill-${status}` }, STATUS_LABEL[status] ?? status);
}

function errorText(error) {
  if (!error) return "";
  const where = error.lineno ? ` at line ${error.lineno}` : "";
  return `${error.type ?? "Error"}${where}: ${error.message ?? ""}`;
}

/** Marks for the rows of the last reload's change set, or null when the payload had none. */
function changeMarks(changes) {
  if (!changes) return null;
  const marks = new Map();
  for (const qualname of changes.added ?? []) marks.set(qualname, "added");
  for (const qualname of changes.changed ?? []) marks.set(qualname, "changed");
  return marks;
}

/**
 * The function table. With a change set (``changes``), added and changed rows are marked
 * until the next reload and removed functions are listed at the end; without one, rows new
 * or with a new signature since the previous render of this view flash once.
 * ``opts.open(fn)`` makes each row open that function in the editor.
 */
function functionTable(functions, previous, opts = {}) {
  const marks = changeMarks(opts.changes);
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
        title: opts.open && `Edit ${fn.qualname}`,
      },
      h(
        "td",
        { class: "hr-name" },
        owner && h("span", { class: "hr-owner" }, owner),
        h("span", { class: "hr-fn" }, name),
        marks !== null && mark && h("span", { class: `hr-mark hr-mark-${mark}` }, mark),
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

function ms(value) {
  if (value === null || value === undefined) return null;
  return value < 10 ? `${value.toFixed(1)} ms` : `${Math.round(value)} ms`;
}

/** "after demo.shapes (compile)" for a module that ran because another one changed. */
function afterText(reason) {
  if (!reason?.after) return null;
  return `after ${reason.after}` + (reason.label ? ` (${reason.label})` : "");
}

/** The body shared by a FunctionsPanel and an overview entry: banner, note, table. */
function moduleBody(state, previous, opts = {}) {
  const parts = [];
  if (state.status === "failed") {
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
    parts.push(functionTable(state.functions ?? [], previous, { changes: state.changes, ...opts }));
  }
  return parts;
}

function recompiledText(state) {
  const at = clock(state.recompiled_at);
  if (!at) return "not recompiled yet";
  return `recompiled ${at}` + (state.recompiles > 1 ? ` (${plural(state.recompiles, "time")})` : "");
}

/** The header's right-hand side: count, last recompile, why it ran, its own time, mode. */
function moduleMeta(state) {
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

/** ``path`` relative to ``cwd`` when it lies below it (what a user typed in %%hotreload). */
function shortPath(path, cwd) {
  if (!path) return path;
  const base = cwd ? cwd.replace(/[\\/]+$/, "") : "";
  if (base && (path.startsWith(`${base}/`) || path.startsWith(`${base}\\`))) {
    return path.slice(base.length + 1);
  }
  return path;
}

const MODULE_KEYS = [
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
];

function readModule(model) {
  const state = {};
  for (const key of MODULE_KEYS) state[key] = model.get(key);
  return state;
}

/** Remove the common leading indentation (a method's source comes indented). */
function dedent(text) {
  const lines = text.replace(/\s+$/, "").split("\n");
  const widths = lines.filter((l) => l.trim()).map((l) => l.match(/^[ \t]*/)[0].length);
  const cut = widths.length ? Math.min(...widths) : 0;
  return `${lines.map((l) => l.slice(cut)).join("\n")}\n`;
}

/** Replace the textarea's selection with ``text``, keeping the browser's own undo stack. */
function typeInto(area, text) {
  area.focus();
  if (!document.execCommand?.("insertText", false, text)) {
    area.setRangeText(text, area.selectionStart, area.selectionEnd, "end");
  }
}

/** Tab inserts spaces, Shift+Tab removes them, Enter keeps the indentation. */
function editKey(area, ev) {
  const value = area.value;
  const lineStart = value.lastIndexOf("\n", area.selectionStart - 1) + 1;
  const line = value.slice(lineStart, area.selectionStart);
  if (ev.key === "Tab" && !ev.shiftKey) {
    ev.preventDefault();
    typeInto(area, " ".repeat(4 - ((area.selectionStart - lineStart) % 4)));
  } else if (ev.key === "Tab") {
    ev.preventDefault();
    const lead = value.slice(lineStart).match(/^ {1,4}/)?.[0].length ?? 0;
    if (lead) {
      const caret = area.selectionStart;
      area.setSelectionRange(lineStart, lineStart + lead);
      typeInto(area, "");
      area.setSelectionRange(Math.max(lineStart, caret - lead), Math.max(lineStart, caret - lead));
    }
  } else if (ev.key === "Enter" && !ev.shiftKey && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
    ev.preventDefault();
    const indent = line.match(/^[ \t]*/)[0] + (/:\s*$/.test(line) ? "    " : "");
    typeInto(area, `\n${indent}`);
  }
}

/** The line of a textarea from 1, selected (a textarea cannot colour one line). */
function selectLine(area, lineno) {
  const lines = area.value.split("\n");
  if (!lineno || lineno > lines.length) return;
  const start = lines.slice(0, lineno - 1).reduce((n, l) => n + l.length + 1, 0);
  area.focus();
  area.setSelectionRange(start, start + lines[lineno - 1].length);
}

function savedText(result) {
  const saved = result?.recompiled?.[0];
  if (!saved) return "saved";
  const parts = [`saved ${saved.mod}`];
  const mode = saved.mode === "partial" ? `partial: ${plural(saved.rerun?.length ?? 0, "statement")}` : saved.mode;
  if (mode) parts.push(mode);
  const others = result.recompiled.length - 1;
  if (others > 0) parts.push(`${plural(others, "dependent")} re-executed`);
  const took = ms(saved.module_ms ?? saved.elapsed_ms);
  if (took) parts.push(took);
  return parts.join(" · ");
}

function failureText(error) {
  if (!error) return "failed";
  const where = [];
  if (error.editor_line) where.push(`line ${error.editor_line} of the editor`);
  if (error.lineno && error.path) where.push(`line ${error.lineno} of ${error.path.split(/[\\/]/).pop()}`);
  return `${error.type ?? "Error"}${where.length ? ` at ${where.join(", ")}` : ""}: ${error.message ?? ""}`;
}

/**
 * The editor of one FunctionsPanel: a textarea below the table that outlives re-renders
 * (the table is redrawn on every event; the text, caret and outcome stay). ``view`` is the
 * panel's view, for the render count a save is timed against.
 */
function makeEditor(model, root, view) {
  // requester() and waitingText() come from requests.js, shipped in front of this file.
  const request = requester(model, { onWaiting: (op) => say(waitingText(op), "waiting") });
  const title = h("span", { class: "hr-editor-title" });
  const outcome = h("div", { class: "hr-outcome", role: "status", "aria-live": "polite" });
  const area = h("textarea", {
    class: "hr-editor-text",
    spellcheck: "false",
    autocomplete: "off",
    autocapitalize: "off",
    wrap: "off",
    "aria-label": "definition source",
  });
  const save = h("button", { type: "button", class: "hr-button hr-save", title: "Save (Ctrl+S)" }, "Save");
  const close = h("button", { type: "button", class: "hr-button hr-close" }, "Close");
  const box = h(
    "div",
    // Lumino (JupyterLab, Notebook 7) ignores its shortcuts under this attribute, so
    // Ctrl+S, Shift+Enter and Escape in the editor are the editor's.
    { class: "hr-editor", hidden: true, "data-lm-suppress-shortcuts": "true" },
    h("div", { class: "hr-editor-bar" }, title, h("span", { class: "hr-spacer" }), save, close),
    area,
  );
  const editor = { box, outcome, target: null, qualname: null, busy: false };
  let saves = 0;

  const say = (text, kind) => {
    outcome.textContent = text ?? "";
    outcome.dataset.kind = kind ?? "";
    outcome.hidden = !text;
  };
  say(null);

  const load = async (qualname) => {
    const target = `${model.get("mod")}:${qualname}`;
    const reply = await request("source", { target });
    if (!reply.ok) return reply;
    editor.target = target;
    editor.qualname = qualname;
    title.textContent = qualname;
    area.value = dedent(reply.result.source ?? "");
    box.hidden = false;
    root.dataset.editing = qualname;
    return reply;
  };

  editor.open = async (fn) => {
    if (editor.busy) return;
    const reply = await load(fn.qualname);
    if (!reply.ok) {
      say(`Cannot open ${fn.qualname}: ${reply.error?.message ?? "no source"}`, "error");
      return;
    }
    say(null);
    view.redraw();
    area.focus();
    area.setSelectionRange(0, 0);
  };

  editor.save = async () => {
    if (editor.busy || !editor.target) return;
    editor.busy = true;
    save.disabled = true;
    const sent = area.value;
    const started = performance.now();
    const rendersBefore = view.renders;
    say("saving…", "busy");
    try {
      const reply = await request("reload_definition", { target: editor.target, content: sent });
      if (reply.ok) {
        if (area.value === sent && reply.result?.source?.source !== undefined) {
          area.value = dedent(reply.result.source.source);
        }
        say(savedText(reply.result), "ok");
        // Events come before the reply, so the panel has normally re-rendered already.
        const renderedAt = view.renders > rendersBefore ? view.lastDrawAt : performance.now();
        root.dataset.saveMs = (renderedAt - started).toFixed(1);
      } else {
        say(failureText(reply.error), "error");
        selectLine(area, reply.error?.editor_line);
      }
      saves += 1;
      root.dataset.saves = String(saves);
    } finally {
      editor.busy = false;
      save.disabled = false;
    }
  };

  editor.undo = async () => {
    if (editor.busy) return;
    editor.busy = true;
    say("undoing…", "busy");
    try {
      const reply = await request("undo");
      if (!reply.ok) {
        say(`Cannot undo: ${reply.error?.message ?? "failed"}`, "error");
        return;
      }
      const mods = (reply.result?.recompiled ?? []).map((p) => p.mod);
      say(`undid the last reload${mods.length ? ` (${mods.join(", ")})` : ""}`, "ok");
      if (editor.qualname) {
        const again = await load(editor.qualname);
        if (!again.ok) say(`undid the last reload; ${editor.qualname} is gone now`, "ok");
      }
    } finally {
      editor.busy = false;
      root.dataset.undos = String(Number(root.dataset.undos ?? 0) + 1);
    }
  };

  editor.close = () => {
    box.hidden = true;
    editor.target = editor.qualname = null;
    delete root.dataset.editing;
    say(null);
    view.redraw();
  };

  area.addEventListener("keydown", (ev) => {
    ev.stopPropagation();
    if ((ev.ctrlKey || ev.metaKey) && (ev.key === "s" || ev.key === "S")) {
      ev.preventDefault();
      editor.save();
    } else {
      editKey(area, ev);
    }
  });
  // Typing must not reach the notebook's command-mode keys either.
  area.addEventListener("keypress", (ev) => ev.stopPropagation());
  save.addEventListener("click", () => editor.save());
  close.addEventListener("click", () => editor.close());
  editor.dispose = () => request.close();
  return editor;
}

const PANELS = {
  functions: {
    traits: [...MODULE_KEYS, "cwd", "editable"],
    draw(model, root, memory) {
      const state = readModule(model);
      root.dataset.mod = state.mod;
      root.dataset.status = state.status;
      const functions = state.functions ?? [];
      const editor = memory.editor;
      const editable = Boolean(editor) && state.status !== "gone" && state.status !== "missing";
      const undo =
        editor &&
        h("button", { type: "button", class: "hr-button hr-undo", title: "Revert the last reload" }, "Undo");
      undo?.addEventListener("click", () => editor.undo());
      const content = [
        h(
          "div",
          { class: "hr-header" },
          h("span", { class: "hr-title" }, state.mod),
          pill(state.status),
          moduleMeta(state),
          undo,
        ),
        moduleBody(state, memory.previous ?? null, {
          open: editable ? (fn) => editor.open(fn) : null,
          current: editor?.qualname,
        }),
        state.path &&
          h("div", { class: "hr-footer", title: state.path }, shortPath(state.path, model.get("cwd"))),
      ];
      memory.previous = new Map(functions.map((fn) => [fn.qualname, fn.signature]));
      return content;
    },
    mount(model, root, memory, view) {
      if (!model.get("editable")) return [];
      memory.editor = makeEditor(model, root, view);
      return [memory.editor.outcome, memory.editor.box];
    },
  },

  events: {
    traits: ["events", "total", "limit"],
    draw(model, root) {
      const events = model.get("events") ?? [];
      const total = model.get("total") ?? 0;
      root.dataset.count = String(events.length);
      const rows = events.map((ev) => {
        let detail = ev.path ?? "";
        if (ev.kind === "recompiled" && ev.summary) {
          const n = ev.summary.functions;
          const parts = [
            n === null || n === undefined
              ? afterText(ev.summary) ?? "re-executed as a dependent"
              : plural(n, "function"),
            ev.summary.mode_label,
            ms(ev.summary.own_ms ?? ev.summary.elapsed_ms),
          ];
          detail = parts.filter(Boolean).join(" · ");
        } else if (ev.kind === "compile_failed" || ev.kind === "worker_failed") {
          detail = errorText(ev.error);
        }
        return h(
          "li",
          {
            class: `hr-event hr-event-${ev.kind}`,
            "data-kind": ev.kind,
            "data-mod": ev.mod,
            "data-after": ev.summary?.after,
          },
          h("span", { class: "hr-time" }, clock(ev.at)),
          h("span", { class: `hr-chip hr-chip-${ev.kind}` }, EVENT_LABEL[ev.kind] ?? ev.kind),
          h("span", { class: "hr-mod" }, ev.mod ?? "?"),
          h("span", { class: "hr-detail", title: ev.path ?? "" }, detail),
        );
      });
      const shown = total > events.length ? `${events.length} of ${total}` : `${events.length}`;
      return [
        h(
          "div",
          { class: "hr-header" },
          h("span", { class: "hr-title" }, "Hot-reload events"),
          h("span", { class: "hr-meta" }, `${shown} · newest first`),
        ),
        rows.length
          ? h("ol", { class: "hr-events" }, rows)
          : h("div", { class: "hr-empty" }, "No events yet: reload a module and it shows up here."),
      ];
    },
  },

  overview: {
    traits: ["modules", "roots", "cluster"],
    draw(model, root, memory) {
      const modules = model.get("modules") ?? [];
      const roots = model.get("roots") ?? [];
      memory.open ??= new Set();
      memory.previous ??= new Map();
      root.dataset.count = String(modules.length);
      const items = modules.map((state) => {
        const details = h(
          "details",
          {
            class: "hr-module",
            "data-mod": state.mod,
            "data-status": state.status,
            "data-after": state.recompiled_at && state.reason?.after,
            open: memory.open.has(state.mod) || state.status === "failed",
          },
          h("summary", {}, h("span", { class: "hr-title" }, state.mod), pill(state.status), moduleMeta(state)),
          h("div", { class: "hr-module-body" }, moduleBody(state, memory.previous.get(state.mod) ?? null)),
        );
        details.addEventListener("toggle", () => {
          if (details.open) memory.open.add(state.mod);
          else memory.open.delete(state.mod);
        });
        return details;
      });
      memory.previous = new Map(
        modules.map((s) => [s.mod, new Map((s.functions ?? []).map((f) => [f.qualname, f.signature]))]),
      );
      return [
        h(
          "div",
          { class: "hr-header" },
          h("span", { class: "hr-title" }, "Project modules"),
          h("span", { class: "hr-meta", title: roots.join("\n") }, plural(modules.length, "module")),
        ),
        clusterSection(model.get("cluster")),
        items.length
          ? h("div", { class: "hr-modules" }, items)
          : h("div", { class: "hr-empty" }, "No project module is loaded yet."),
      ];
    },
  },
};

export default {
  render({ model, el }) {
    const kind = model.get("_panel");
    const panel = PANELS[kind] ?? PANELS.functions;
    const root = h("div", { class: `hr-root hr-panel-${kind}`, "data-panel": kind });
    // The view is redrawn from the traits; what mount() adds (the editor) lives beside it.
    const body = h("div", { class: "hr-view" });
    root.append(body);
    el.append(root);
    const memory = {};
    let pending = false;
    const view = { renders: 0, lastDrawAt: 0 };

    const draw = () => {
      pending = false;
      view.renders += 1;
      body.replaceChildren(...panel.draw(model, root, memory).flat(Infinity).filter(Boolean));
      root.dataset.renders = String(view.renders);
      view.lastDrawAt = performance.now();
    };
    // One kernel message can change several traits; draw once for all of them.
    const schedule = () => {
      if (pending) return;
      pending = true;
      queueMicrotask(draw);
    };
    view.redraw = schedule;

    root.append(...(panel.mount?.(model, root, memory, view) ?? []));
    draw();
    for (const trait of panel.traits) model.on(`change:${trait}`, schedule);
    return () => {
      for (const trait of panel.traits) model.off(`change:${trait}`, schedule);
      memory.editor?.dispose();
    };
  },
};
