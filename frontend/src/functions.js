// The FunctionsPanel: one module's functions, its last reload, and the editor.
import { button, h, shortPath } from "./dom.js";
import { DefinitionEditor } from "./editor.js";
import { MODULE_KEYS, moduleBody, moduleMeta, pill, readModule } from "./table.js";

export const FUNCTIONS_PANEL = {
  traits: [...MODULE_KEYS, "cwd", "editable"],
  draw(model, root, memory) {
    const state = readModule(model);
    root.dataset.mod = state.mod;
    root.dataset.status = state.status;
    if (state.waiting) root.dataset.waiting = "true";
    else delete root.dataset.waiting;
    const functions = state.functions ?? [];
    const editor = memory.editor;
    const editable = Boolean(editor) && state.status !== "gone" && state.status !== "missing";
    const content = [
      h(
        "div",
        { class: "hr-header" },
        h("span", { class: "hr-title" }, state.mod),
        pill(state.status),
        moduleMeta(state),
        editor && button("Undo", () => editor.undo(), { kind: "undo", title: "Revert the last reload" }),
      ),
      moduleBody(state, memory.previous ?? null, {
        open: editable ? (fn) => editor.open(fn) : null,
        current: editor?.qualname,
        failureShown: editor?.failureShown,
      }),
      state.path &&
        h("div", { class: "hr-footer", title: state.path }, shortPath(state.path, model.get("cwd"))),
    ];
    memory.previous = new Map(functions.map((fn) => [fn.qualname, fn.signature]));
    return content;
  },
  mount(model, root, memory, view) {
    if (!model.get("editable")) return [];
    const editor = new DefinitionEditor(model, root, view);
    memory.editor = editor;
    const onEvent = () => editor.onModuleEvent(model.get("last_event"));
    model.on("change:last_event", onEvent);
    memory.unmount = () => {
      model.off("change:last_event", onEvent);
      editor.dispose();
    };
    return editor.parts;
  },
};
