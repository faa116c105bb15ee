// ipython_hotreload panels: one ES module for the three panel kinds, picked by the model's
// "_panel" trait. Everything shown comes from the synced traits; the view never calls the
// kernel. Each view counts its renders in data-renders on its root element, so a test can
// prove a re-render happened from pushed state alone.

const STATUS_LABEL = {
  ok: "live",
  failed: "reload failed",
  gone: "gone",
  missing: "not loaded",
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

/** The function table; rows new since the previous render of this view are marked. */
function functionTable(functions, previous) {
  if (!functions.length) return h("div", { class: "hr-empty" }, "No functions.");
  const rows = functions.map((fn) => {
    const dot = fn.qualname.lastIndexOf(".");
    const owner = dot >= 0 ? fn.qualname.slice(0, dot + 1) : "";
    const name = fn.qualname.slice(dot + 1);
    const before = previous?.get(fn.qualname);
    const fresh = previous !== null && before === undefined;
    const changed = before !== undefined && before !== fn.signature;
    const cls = ["hr-fn-row", fresh && "hr-new", changed && "hr-changed"].filter(Boolean).join(" ");
    return h(
      "tr",
      { class: cls, "data-qualname": fn.qualname, "data-kind": fn.kind },
      h(
        "td",
        { class: "hr-name" },
        owner && h("span", { class: "hr-owner" }, owner),
        h("span", { class: "hr-fn" }, name),
      ),
      h("td", { class: "hr-kind" }, h("span", { class: "hr-chip" }, KIND_LABEL[fn.kind] ?? fn.kind)),
      h("td", { class: "hr-sig" }, h("code", {}, fn.signature ?? "")),
      h("td", { class: "hr-line" }, fn.lineno ?? ""),
      h("td", { class: "hr-doc" }, fn.doc ?? ""),
    );
  });
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

/** The body shared by a FunctionsPanel and an overview entry: banner, note, table. */
function moduleBody(state, previous) {
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
        h("strong", {}, "Not loaded"),
        h("span", { class: "hr-error" }, errorText(state.error)),
      ),
    );
  }
  if (state.note && state.status === "ok") parts.push(h("div", { class: "hr-note" }, state.note));
  if (state.replaced?.length) {
    parts.push(
      h("div", { class: "hr-note" }, "Replaced, not patched in place: ", state.replaced.join(", ")),
    );
  }
  if (state.status !== "gone" && state.status !== "missing") {
    parts.push(functionTable(state.functions ?? [], previous));
  }
  return parts;
}

function recompiledText(state) {
  const at = clock(state.recompiled_at);
  if (!at) return "not recompiled yet";
  return `recompiled ${at}` + (state.recompiles > 1 ? ` (${plural(state.recompiles, "time")})` : "");
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

function readModule(model) {
  const keys = ["mod", "path", "status", "functions", "error", "recompiled_at", "recompiles"];
  const state = {};
  for (const key of [...keys, "note", "replaced", "source_hash"]) state[key] = model.get(key);
  return state;
}

const PANELS = {
  functions: {
    traits: [
      "mod",
      "path",
      "status",
      "functions",
      "error",
      "recompiled_at",
      "recompiles",
      "note",
      "replaced",
      "cwd",
    ],
    draw(model, root, memory) {
      const state = readModule(model);
      root.dataset.mod = state.mod;
      root.dataset.status = state.status;
      const functions = state.functions ?? [];
      const content = [
        h(
          "div",
          { class: "hr-header" },
          h("span", { class: "hr-title" }, state.mod),
          pill(state.status),
          h(
            "span",
            { class: "hr-meta" },
            `${plural(functions.length, "function")} · ${recompiledText(state)}`,
          ),
        ),
        moduleBody(state, memory.previous ?? null),
        state.path &&
          h("div", { class: "hr-footer", title: state.path }, shortPath(state.path, model.get("cwd"))),
      ];
      memory.previous = new Map(functions.map((fn) => [fn.qualname, fn.signature]));
      return content;
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
          detail = n === null ? "re-executed as a dependent" : plural(n, "function");
          if (ev.summary.elapsed_ms !== null && ev.summary.elapsed_ms !== undefined) {
            detail += ` · ${Math.round(ev.summary.elapsed_ms)} ms`;
          }
        } else if (ev.kind === "compile_failed" || ev.kind === "worker_failed") {
          detail = errorText(ev.error);
        }
        return h(
          "li",
          { class: `hr-event hr-event-${ev.kind}`, "data-kind": ev.kind, "data-mod": ev.mod },
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
            open: memory.open.has(state.mod) || state.status === "failed",
          },
          h(
            "summary",
            {},
            h("span", { class: "hr-title" }, state.mod),
            pill(state.status),
            h(
              "span",
              { class: "hr-meta" },
              `${plural((state.functions ?? []).length, "function")} · ${recompiledText(state)}`,
            ),
          ),
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
    el.append(root);
    const memory = {};
    let renders = 0;
    let pending = false;

    const draw = () => {
      pending = false;
      renders += 1;
      root.replaceChildren(...panel.draw(model, root, memory).flat(Infinity).filter(Boolean));
      root.dataset.renders = String(renders);
    };
    // One kernel message can change several traits; draw once for all of them.
    const schedule = () => {
      if (pending) return;
      pending = true;
      queueMicrotask(draw);
    };

    draw();
    for (const trait of panel.traits) model.on(`change:${trait}`, schedule);
    return () => {
      for (const trait of panel.traits) model.off(`change:${trait}`, schedule);
    };
  },
};
