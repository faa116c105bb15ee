// The editor of one FunctionsPanel: open a definition, save it (with the hash of the text
// it opened, so a change made elsewhere is a conflict, not an overwrite), undo the last
// reload. It lives beside the panel's view, which is redrawn on every event: the text,
// caret, undo history and outcome stay.
import { codeEditor } from "./code.js";
import { conflictView } from "./conflict.js";
import { button, dedent, h } from "./dom.js";
import { requester } from "./requests.js";
import { failureText, savedText } from "./words.js";

// After this long without a reply the kernel is busy in a cell: say so.
const WAIT_NOTICE_MS = 1000;

function fromSource(result) {
  return { text: dedent(result?.source ?? ""), hash: result?.source_hash ?? null };
}

/**
 * ``view`` is the panel's view: its render count times a save, ``redraw()`` redraws it
 * (the banner above depends on what the outcome below shows).
 */
export function makeEditor(model, root, view) {
  const request = requester(model);
  const title = h("span", { class: "hr-editor-title" });
  const unsaved = h("span", { class: "hr-chip hr-unsaved", hidden: true }, "unsaved");
  const notice = h("div", { class: "hr-notice", role: "status", hidden: true });
  const conflictBox = h("div", { class: "hr-conflict", hidden: true });
  const codeBox = h("div", { class: "hr-code" });
  const outcome = h("div", { class: "hr-outcome", role: "status", "aria-live": "polite", hidden: true });
  const editor = { target: null, qualname: null, busy: false, failureShown: null };
  const saveButton = button("Save", () => editor.save(), { kind: "save", title: "Save (Ctrl+S)" });
  const closeButton = button("Close", () => editor.close(), { kind: "close" });
  const box = h(
    "div",
    // Lumino (JupyterLab, Notebook 7) ignores its shortcuts under this attribute, so
    // Ctrl+S, Shift+Enter, Escape and plain letters in the editor are the editor's.
    { class: "hr-editor", hidden: true, "data-lm-suppress-shortcuts": "true" },
    h("div", { class: "hr-editor-bar" }, title, unsaved, h("span", { class: "hr-spacer" }), saveButton, closeButton),
    notice,
    conflictBox,
    codeBox,
  );
  // Nothing typed here is the notebook's business (its own key handlers sit above).
  for (const type of ["keydown", "keypress", "keyup"]) box.addEventListener(type, (ev) => ev.stopPropagation());

  let base = null; // the text on disk this editor started from: {text (dedented), hash}
  let generation = 0; // bumped whenever base changes: a late answer about an older base is dropped
  let conflict = null; // {view, disk}
  let seenEvent = model.get("last_event")?.n ?? 0;
  let ownEvents = [];
  let saves = 0;
  let undos = 0;

  const isDirty = () => Boolean(conflict) || (base !== null && code.text() !== base.text);
  const showDirty = () => {
    const dirty = isDirty();
    box.dataset.dirty = String(dirty);
    unsaved.hidden = !dirty;
  };
  const code = codeEditor({ parent: codeBox, onSave: () => editor.save(), onChange: showDirty, label: "definition source" });

  const setBase = (next) => {
    base = next;
    generation += 1;
    delete box.dataset.diskChanged;
  };

  /** The outcome under the editor; ``failureAt`` names the failure it shows (no banner then). */
  const say = (text, kind = null, failureAt = null) => {
    outcome.textContent = text ?? "";
    outcome.dataset.kind = text ? (kind ?? "") : "";
    outcome.hidden = !text;
    if (editor.failureShown !== failureAt) {
      editor.failureShown = failureAt;
      view.redraw();
    }
  };
  say(null);

  const hideNotice = () => {
    notice.hidden = true;
    notice.replaceChildren();
    delete notice.dataset.kind;
  };
  const showNotice = (kind, text, actions) => {
    notice.dataset.kind = kind;
    notice.replaceChildren(h("span", { class: "hr-notice-text" }, text), ...actions);
    notice.hidden = false;
  };

  const setBusy = (busy) => {
    editor.busy = busy;
    saveButton.disabled = busy;
    if (busy) box.dataset.busy = "true";
    else delete box.dataset.busy;
  };

  const closeConflict = () => {
    conflict?.view.destroy();
    conflict = null;
    conflictBox.replaceChildren();
    conflictBox.hidden = true;
    codeBox.hidden = false;
    delete box.dataset.conflict;
  };

  const takeDisk = (disk) => {
    closeConflict();
    hideNotice();
    setBase(disk);
    code.replace(disk.text); // one undoable change: Ctrl+Z brings your text back
    showDirty();
    say(`took the file's version of ${editor.qualname} (Ctrl+Z in the editor brings yours back)`, "ok");
    code.view.focus();
  };

  const keepMine = () => {
    const mine = conflict.view.mine();
    const disk = conflict.disk;
    closeConflict();
    setBase(disk); // save over exactly the text on disk now
    code.replace(mine);
    editor.save();
  };

  /** Your text beside the one on disk now; take either. */
  const openConflict = (disk) => {
    closeConflict();
    hideNotice();
    const q = editor.qualname;
    const parent = h("div", { class: "hr-merge" });
    conflictBox.replaceChildren(
      h(
        "div",
        { class: "hr-conflict-head" },
        h(
          "span",
          { class: "hr-conflict-text" },
          h("strong", {}, "Changed on disk. "),
          `${q} changed since you opened it (another editor, the watcher or an undo). Take either text:`,
        ),
        h(
          "span",
          { class: "hr-conflict-actions" },
          button("Take the file's version", () => takeDisk(disk), { kind: "theirs" }),
          button("Keep mine (save over it)", keepMine, { kind: "mine" }),
        ),
      ),
      h("div", { class: "hr-conflict-labels" }, h("span", {}, "On disk now"), h("span", {}, "Yours")),
      parent,
    );
    conflictBox.hidden = false;
    codeBox.hidden = true;
    box.dataset.conflict = "true";
    conflict = { disk, view: conflictView({ parent, disk: disk.text, mine: code.text(), onSave: keepMine }) };
    showDirty();
    say(`not saved: ${q} changed on disk since you opened it; compare the two and take either`, "conflict");
  };

  /** The definition is gone from the file: saving adds yours back. */
  const gone = (why) => {
    const q = editor.qualname;
    showNotice("gone", `${q} is no longer in the file (${why}).`, [
      button("Save mine (adds it back)", () => {
        hideNotice();
        setBase({ text: base?.text ?? "", hash: null });
        editor.save();
      }),
      button("Close the editor", () => closeNow()),
    ]);
  };

  /** After a reload from elsewhere: follow the text on disk, or say it changed. */
  const checkDisk = async () => {
    if (!editor.target) return;
    const asked = { qualname: editor.qualname, generation };
    const reply = await request("source", { target: editor.target });
    if (editor.qualname !== asked.qualname || generation !== asked.generation) return;
    if (!reply.ok) {
      gone(reply.error?.message ?? "removed or renamed elsewhere");
      return;
    }
    const disk = fromSource(reply.result);
    if (disk.hash === base?.hash) return;
    if (!isDirty()) {
      setBase(disk);
      code.replace(disk.text);
      showDirty();
      return;
    }
    box.dataset.diskChanged = "true";
    showNotice(
      "disk",
      `${editor.qualname} changed on disk since you opened it (another editor, the watcher or an undo); your text is not saved.`,
      [button("Compare", () => openConflict(disk), { kind: "compare" }), button("Load the file's version", () => takeDisk(disk), { kind: "load" })],
    );
  };

  const switchTo = async (qualname) => {
    const target = `${model.get("mod")}:${qualname}`;
    const reply = await request("source", { target });
    if (!reply.ok) {
      say(`Cannot open ${qualname}: ${reply.error?.message ?? "no source"}`, "error");
      return;
    }
    closeConflict();
    hideNotice();
    editor.target = target;
    editor.qualname = qualname;
    title.textContent = qualname;
    setBase(fromSource(reply.result));
    code.reset(base.text);
    box.hidden = false;
    root.dataset.editing = qualname;
    say(null);
    showDirty();
    view.redraw();
    code.focus(0);
  };

  /** Unsaved text is never dropped without asking. */
  const askFirst = (action, proceed) => {
    const q = editor.qualname;
    showNotice("unsaved", `${q} has unsaved changes.`, [
      button(`Discard them and ${action}`, () => {
        hideNotice();
        proceed();
      }, { kind: "discard" }),
      button(`Keep editing ${q}`, () => {
        hideNotice();
        code.view.focus();
      }, { kind: "keep" }),
    ]);
  };

  editor.open = async (fn) => {
    if (editor.busy) return;
    if (editor.qualname === fn.qualname && !box.hidden) {
      code.view.focus();
      return;
    }
    if (isDirty()) askFirst(`open ${fn.qualname}`, () => switchTo(fn.qualname));
    else await switchTo(fn.qualname);
  };

  editor.save = async () => {
    if (editor.busy || !editor.target || conflict) return;
    setBusy(true);
    ownEvents = [];
    const sent = code.text();
    const started = performance.now();
    const rendersBefore = view.renders;
    say("saving…", "busy");
    const slow = setTimeout(() => {
      if (editor.busy) say("waiting for the running cell to finish…", "waiting");
    }, WAIT_NOTICE_MS);
    try {
      const fields = { target: editor.target, content: sent };
      if (base?.hash) fields.expected_hash = base.hash;
      const reply = await request("reload_definition", fields);
      if (reply.ok) {
        if (reply.result?.source) setBase(fromSource(reply.result.source));
        hideNotice();
        if (code.text() === sent) code.replace(base.text); // the text as written (re-indented, formatted)
        say(savedText(reply.result), "ok");
        // Events come before the reply, so the panel has normally re-rendered already.
        const renderedAt = view.renders > rendersBefore ? view.lastDrawAt : performance.now();
        root.dataset.saveMs = (renderedAt - started).toFixed(1);
      } else if (reply.error?.type === "ConflictError") {
        if (reply.error.current === null || reply.error.current === undefined) {
          say(`not saved: ${editor.qualname} is gone from the file since you opened it`, "conflict");
          gone("removed or renamed elsewhere");
        } else {
          openConflict(fromSource({ source: reply.error.current, source_hash: reply.error.current_hash }));
        }
      } else {
        // A failure this save caused is said here, once: the banner above stands down.
        const failed = ownEvents.some((ev) => ev.kind === "compile_failed");
        say(failureText(reply.error), "error", failed ? (model.get("error")?.at ?? null) : null);
        code.markLine(reply.error?.editor_line ?? null);
      }
      saves += 1;
      root.dataset.saves = String(saves);
    } finally {
      clearTimeout(slow);
      setBusy(false);
      showDirty();
    }
  };

  editor.undo = async () => {
    if (editor.busy) return;
    setBusy(true);
    say("undoing…", "busy");
    try {
      const reply = await request("undo");
      if (!reply.ok) {
        say(`Cannot undo: ${reply.error?.message ?? "failed"}`, "error");
        return;
      }
      const mods = (reply.result?.recompiled ?? []).map((p) => p.mod);
      say(`undid the last reload${mods.length ? ` (${mods.join(", ")})` : ""}`, "ok");
      await checkDisk(); // a clean editor follows; unsaved text is marked "changed on disk"
    } finally {
      setBusy(false);
      undos += 1;
      root.dataset.undos = String(undos);
    }
  };

  const closeNow = () => {
    closeConflict();
    hideNotice();
    box.hidden = true;
    editor.target = editor.qualname = null;
    setBase(null);
    delete root.dataset.editing;
    say(null);
    showDirty();
    view.redraw();
  };

  editor.close = () => {
    if (isDirty()) askFirst("close", closeNow);
    else closeNow();
  };

  /** The module's latest event (model trait last_event): one banner per reload. */
  editor.onModuleEvent = (ev) => {
    if (!ev || ev.n <= seenEvent) return;
    seenEvent = ev.n;
    if (editor.busy) {
      ownEvents.push(ev); // this editor's own save or undo: its reply says how it went
      return;
    }
    say(null); // a new reload: the last one's message goes
    if (ev.kind === "recompiled") checkDisk();
  };

  editor.parts = [box, outcome];
  editor.dispose = () => {
    closeConflict();
    code.destroy();
    request.close();
  };
  return editor;
}
