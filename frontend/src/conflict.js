// Two texts of one definition side by side: the one on disk now (read-only) and yours
// (editable), their differences marked (@codemirror/merge).
import { MergeView } from "@codemirror/merge";
import { followTheme } from "./theme.js";
import { editableExtensions, readOnlyExtensions } from "./code.js";

/** A merge view in ``parent``; ``mine()`` is your side's text as it is now. */
export function conflictView({ parent, disk, mine, onSave }) {
  const merge = new MergeView({
    parent,
    a: { doc: disk, extensions: readOnlyExtensions("the definition on disk now") },
    b: { doc: mine, extensions: editableExtensions("your text", onSave) },
    orientation: "a-b",
    highlightChanges: true,
    gutter: true,
  });
  const unfollow = [followTheme(merge.a), followTheme(merge.b)];
  return {
    mine: () => merge.b.state.doc.toString(),
    focus: () => merge.b.focus(),
    destroy() {
      for (const stop of unfollow) stop();
      merge.destroy();
    },
  };
}
