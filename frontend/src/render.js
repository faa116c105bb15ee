// Render one panel view: pick the panel by the model's "_panel" trait, redraw it from the
// traits (at most once per kernel message), count the renders in data-renders on its root
// element, so a test can prove a re-render happened from pushed state alone.
import { h } from "./dom.js";

export function renderer(panels) {
  return function render({ model, el }) {
    const kind = model.get("_panel");
    const panel = panels[kind] ?? Object.values(panels)[0];
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
      memory.unmount?.();
    };
  };
}
