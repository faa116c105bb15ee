// Small DOM and text functions shared by every panel.

/** Build an element: h("td", { class: "x", "data-y": 1 }, child, "text", [more]). */
export function h(tag, props, ...children) {
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

/** A button that runs ``onClick``; ``kind`` adds a modifier class (hr-button-<kind>). */
export function button(label, onClick, { kind = null, title = null } = {}) {
  const el = h("button", { type: "button", class: `hr-button${kind ? ` hr-button-${kind}` : ""}`, title }, label);
  el.addEventListener("click", (ev) => {
    ev.preventDefault();
    onClick();
  });
  return el;
}

export function clock(at) {
  if (at === null || at === undefined) return null;
  return new Date(at * 1000).toLocaleTimeString([], {
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hour12: false,
  });
}

export function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

export function ms(value) {
  if (value === null || value === undefined) return null;
  return value < 10 ? `${value.toFixed(1)} ms` : `${Math.round(value)} ms`;
}

/** ``path`` relative to ``cwd`` when it lies below it (what a user typed in %%hotreload). */
export function shortPath(path, cwd) {
  if (!path) return path;
  const base = cwd ? cwd.replace(/[\\/]+$/, "") : "";
  if (base && (path.startsWith(`${base}/`) || path.startsWith(`${base}\\`))) {
    return path.slice(base.length + 1);
  }
  return path;
}

export function baseName(path) {
  return path ? path.split(/[\\/]/).pop() : path;
}

/** Remove the common leading indentation (a method's source comes indented). */
export function dedent(text) {
  const lines = text.replace(/\s+$/, "").split("\n");
  const widths = lines.filter((l) => l.trim()).map((l) => l.match(/^[ \t]*/)[0].length);
  const cut = widths.length ? Math.min(...widths) : 0;
  return `${lines.map((l) => l.slice(cut)).join("\n")}\n`;
}
