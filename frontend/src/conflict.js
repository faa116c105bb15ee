// A save refused because the definition changed on disk: the text on disk now (read-only)
// beside yours (editable), their differences marked (@codemirror/merge), and the two ways
// out: take the file's version, or keep yours and save it over that text.
import { MergeView } from "@codemirror/merge";
import { editableExtensions, readOnlyExtensions } from "./code.js";
import { button, h } from "./dom.js";
import { followTheme } from "./theme.js";

/** Fill ``parent``; ``mine()`` is your side's text as it is now (you may edit it there). */
export function conflictPanel({ parent, qualname, disk, mine, onTakeDisk, onKeepMine }) {
  const merging = h("div", { class: "hr-merge" });
  parent.replaceChildren(
    h(
      "div",
      { class: "hr-conflict-head" },
      h(
        "span",
        { class: "hr-conflict-text" },
        h("strong", {}, "Changed on disk. "),
        `${qualname} changed since you opened it (another editor, the watcher or an undo). Take either text:`,
      ),
      h(
        "span",
        { class: "hr-conflict-actions" },
        button("Take the file's version", onTakeDisk, { kind: "theirs" }),
        button("Keep mine (save over it)", onKeepMine, { kind: "mine" }),
      ),
    ),
    h("div", { class: "hr-conflict-labels" }, h("span", {}, "On disk now"), h("span", {}, "Yours")),
    merging,
  );
  const merge = new MergeView({
    parent: merging,
    a: { doc: disk, extensions: readOnlyExtensions("the definition on disk now") },
    b: { doc: mine, extensions: editableExtensions("your text", onKeepMine) },
    orientation: "a-b",
    highlightChanges: true,
    gutter: true,
  });
  const unfollow = [followTheme(merge.a), followTheme(merge.b)];
  return {
    mine: () => merge.b.state.doc.toString(),
    destroy() {
      for (const stop of unfollow) stop();
      merge.destroy();
      parent.replaceChildren();
    },
  };
}
