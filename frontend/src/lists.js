// The event log and the project overview: drawn from the synced traits alone, no editor
// (their bundle carries no CodeMirror).
import { clock, h, ms, plural } from "./dom.js";
import { moduleBody, moduleMeta, pill } from "./table.js";
import { afterText, errorText, waitingText } from "./words.js";

const EVENT_LABEL = {
  source_written: "written",
  recompiled: "recompiled",
  compile_failed: "failed",
  source_removed: "removed",
  reload_waiting: "waiting",
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

/** One event log row's detail text; ``later`` says whether its module has a newer event. */
function eventDetail(ev, later) {
  if (ev.kind === "recompiled" && ev.summary) {
    const n = ev.summary.functions;
    return [
      n === null || n === undefined ? (afterText(ev.summary) ?? "re-executed as a dependent") : plural(n, "function"),
      ev.summary.mode_label,
      ms(ev.summary.own_ms ?? ev.summary.elapsed_ms),
    ]
      .filter(Boolean)
      .join(" · ");
  }
  if (ev.kind === "compile_failed" || ev.kind === "worker_failed") return errorText(ev.error);
  if (ev.kind === "reload_waiting") return waitingText(ev.summary?.reason, later);
  return ev.path ?? "";
}

export const LIST_PANELS = {
  events: {
    traits: ["events", "total", "limit"],
    draw(model, root) {
      const events = model.get("events") ?? [];
      const total = model.get("total") ?? 0;
      root.dataset.count = String(events.length);
      const newer = new Set(); // modules with an event newer than the row being drawn
      const rows = events.map((ev) => {
        const later = newer.has(ev.mod);
        newer.add(ev.mod);
        return h(
          "li",
          {
            class: `hr-event hr-event-${ev.kind}${later ? " hr-event-past" : ""}`,
            "data-kind": ev.kind,
            "data-mod": ev.mod,
            "data-after": ev.summary?.after,
          },
          h("span", { class: "hr-time" }, clock(ev.at)),
          h("span", { class: `hr-chip hr-chip-${ev.kind}` }, EVENT_LABEL[ev.kind] ?? ev.kind),
          h("span", { class: "hr-mod" }, ev.mod ?? "?"),
          h("span", { class: "hr-detail", title: ev.path ?? "" }, eventDetail(ev, later)),
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
            "data-waiting": state.waiting ? "true" : null,
            "data-after": state.recompiled_at && state.reason?.after,
            open: memory.open.has(state.mod) || state.status === "failed" || Boolean(state.waiting),
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
