// The editor of one FunctionsPanel: open a definition, save it (with the hash of the text
// it opened, so a change made elsewhere is a conflict, not an overwrite), undo the last
// reload. It lives beside the panel's view, which is redrawn on every event: the text,
// caret, undo history and outcome stay. Another definition opens while a save is still
// out (the kernel answers a read beside a reload): that save's outcome names what it saved.
import { codeEditor } from "./code.js";
import { conflictPanel } from "./conflict.js";
import { button, dedent, h } from "./dom.js";
import { requester } from "./requests.js";
import { channelWaitingText, failureText, savedText } from "./words.js";

function fromSource(result) {
  return { text: dedent(result?.source ?? ""), hash: result?.source_hash ?? null };
}

/**
 * ``view`` is the panel's view: its render count times a save, ``redraw()`` redraws it
 * (the banner above depends on what the outcome below shows). ``parts`` go under it.
 */
export class DefinitionEditor {
  constructor(model, root, view) {
    this.model = model;
    this.root = root;
    this.view = view;
    // A request that cannot reach the kernel while a cell runs says so under the editor; a
    // reload the kernel has and makes wait for the cell is the module's banner above.
    this.request = requester(model, { onWaiting: (op) => this.sayWaiting(op) });
    this.target = null; // "pkg.mod:Class.method"
    this.qualname = null;
    this.busy = false; // a save or an undo is waiting for its reply
    this.sending = null; // that save: {target, qualname, generation, text}
    this.opening = 0; // bumped per open: only the last one clicked opens
    this.pendingOpen = null; // the promise of the open still out
    this.openingTo = null; // ... and the definition it opens
    this.failureShown = null; // the failure (its "at") the outcome says: no banner repeats it
    this.base = null; // the text on disk this editor started from: {text (dedented), hash}
    this.generation = 0; // bumped with base: a late answer about an older base is dropped
    this.conflict = null; // {panel, disk} while the two texts are shown side by side
    this.seenEvent = model.get("last_event")?.n ?? 0;
    this.ownEvents = []; // the module's events while this editor's request is out
    this.saves = 0;
    this.undos = 0;
    this.build();
    this.code = codeEditor({
      parent: this.codeBox,
      onSave: () => this.save(),
      onChange: () => this.showDirty(),
      label: "definition source",
    });
    this.say(null);
  }

  build() {
    this.title = h("span", { class: "hr-editor-title" });
    this.unsaved = h("span", { class: "hr-chip hr-unsaved", hidden: true }, "unsaved");
    this.notice = h("div", { class: "hr-notice", role: "status", hidden: true });
    this.conflictBox = h("div", { class: "hr-conflict", hidden: true });
    this.codeBox = h("div", { class: "hr-code" });
    this.outcome = h("div", { class: "hr-outcome", role: "status", "aria-live": "polite", hidden: true });
    this.saveButton = button("Save", () => this.save(), { kind: "save", title: "Save (Ctrl+S)" });
    this.box = h(
      "div",
      // Lumino (JupyterLab, Notebook 7) ignores its shortcuts under this attribute, so
      // Ctrl+S, Shift+Enter, Escape and plain letters in the editor are the editor's.
      { class: "hr-editor", hidden: true, "data-lm-suppress-shortcuts": "true" },
      h(
        "div",
        { class: "hr-editor-bar" },
        this.title,
        this.unsaved,
        h("span", { class: "hr-spacer" }),
        this.saveButton,
        button("Close", () => this.close(), { kind: "close" }),
      ),
      this.notice,
      this.conflictBox,
      this.codeBox,
    );
    // Nor do other front ends' key handlers above it get the editor's keys.
    for (const type of ["keydown", "keypress", "keyup"]) {
      this.box.addEventListener(type, (ev) => ev.stopPropagation());
    }
  }

  get parts() {
    return [this.box, this.outcome];
  }

  isDirty() {
    return Boolean(this.conflict) || (this.base !== null && this.code.text() !== this.base.text);
  }

  showDirty() {
    const dirty = this.isDirty();
    this.box.dataset.dirty = String(dirty);
    this.unsaved.hidden = !dirty;
  }

  setBase(next) {
    this.base = next;
    this.generation += 1;
    delete this.box.dataset.diskChanged;
  }

  /** The outcome under the editor; ``failureAt`` names the failure it shows (no banner then). */
  say(text, kind = null, failureAt = null) {
    this.outcome.textContent = text ?? "";
    this.outcome.dataset.kind = text ? (kind ?? "") : "";
    this.outcome.hidden = !text;
    if (this.failureShown !== failureAt) {
      this.failureShown = failureAt;
      this.view.redraw();
    }
  }

  showNotice(kind, text, actions) {
    this.notice.dataset.kind = kind;
    this.notice.replaceChildren(h("span", { class: "hr-notice-text" }, text), ...actions);
    this.notice.hidden = false;
  }

  hideNotice() {
    this.notice.hidden = true;
    this.notice.replaceChildren();
    delete this.notice.dataset.kind;
  }

  setBusy(busy) {
    this.busy = busy;
    this.saveButton.disabled = busy;
    if (busy) this.box.dataset.busy = "true";
    else delete this.box.dataset.busy;
  }

  /** Your text beside the one on disk now; take either. */
  openConflict(disk) {
    this.closeConflict();
    this.hideNotice();
    this.conflict = {
      disk,
      panel: conflictPanel({
        parent: this.conflictBox,
        qualname: this.qualname,
        disk: disk.text,
        mine: this.code.text(),
        onTakeDisk: () => this.takeDisk(disk),
        onKeepMine: () => this.keepMine(),
      }),
    };
    this.conflictBox.hidden = false;
    this.codeBox.hidden = true;
    this.box.dataset.conflict = "true";
    this.showDirty();
    this.say(`not saved: ${this.qualname} changed on disk since you opened it; compare the two and take either`, "conflict");
  }

  closeConflict() {
    this.conflict?.panel.destroy();
    this.conflict = null;
    this.conflictBox.hidden = true;
    this.codeBox.hidden = false;
    delete this.box.dataset.conflict;
  }

  takeDisk(disk) {
    this.closeConflict();
    this.hideNotice();
    this.setBase(disk);
    this.code.replace(disk.text); // one undoable change: Ctrl+Z brings your text back
    this.showDirty();
    this.say(`took the file's version of ${this.qualname} (Ctrl+Z in the editor brings yours back)`, "ok");
    this.code.view.focus();
  }

  keepMine() {
    const mine = this.conflict.panel.mine();
    const { disk } = this.conflict;
    this.closeConflict();
    this.setBase(disk); // save over exactly the text on disk now
    this.code.replace(mine);
    this.save();
  }

  /** The definition is gone from the file: saving adds yours back. */
  gone(why) {
    this.showNotice("gone", `${this.qualname} is no longer in the file (${why}).`, [
      button("Save mine (adds it back)", () => {
        this.hideNotice();
        this.setBase({ text: this.base?.text ?? "", hash: null });
        this.save();
      }),
      button("Close the editor", () => this.closeNow()),
    ]);
  }

  /** After a reload from elsewhere: follow the text on disk, or say it changed. */
  async checkDisk() {
    if (!this.target) return;
    const asked = { qualname: this.qualname, generation: this.generation };
    const reply = await this.request("source", { target: this.target }, { quiet: true });
    if (this.qualname !== asked.qualname || this.generation !== asked.generation) return;
    if (!reply.ok) {
      this.gone(reply.error?.message ?? "removed or renamed elsewhere");
      return;
    }
    const disk = fromSource(reply.result);
    if (disk.hash === this.base?.hash) return;
    if (!this.isDirty()) {
      this.setBase(disk);
      this.code.replace(disk.text);
      this.showDirty();
      return;
    }
    this.box.dataset.diskChanged = "true";
    this.showNotice(
      "disk",
      `${this.qualname} changed on disk since you opened it (another editor, the watcher or an undo); your text is not saved.`,
      [
        button("Compare", () => this.openConflict(disk), { kind: "compare" }),
        button("Load the file's version", () => this.takeDisk(disk), { kind: "load" }),
      ],
    );
  }

  /** Open ``qualname``; true once it shows. */
  async switchTo(qualname) {
    const target = `${this.model.get("mod")}:${qualname}`;
    const opening = ++this.opening;
    const open = this.request("source", { target }).then((reply) => this.opened(opening, qualname, target, reply));
    this.pendingOpen = open;
    this.openingTo = qualname;
    try {
      return await open;
    } finally {
      if (this.pendingOpen === open) this.pendingOpen = this.openingTo = null;
    }
  }

  opened(opening, qualname, target, reply) {
    if (opening !== this.opening) return false; // another function was clicked meanwhile
    if (!reply.ok) {
      this.say(`Cannot open ${qualname}: ${reply.error?.message ?? "no source"}`, "error");
      return false;
    }
    this.closeConflict();
    this.hideNotice();
    this.target = target;
    this.qualname = qualname;
    this.title.textContent = qualname;
    this.setBase(fromSource(reply.result));
    this.code.reset(this.base.text);
    this.box.hidden = false;
    this.root.dataset.editing = qualname;
    this.sayPending();
    this.showDirty();
    this.view.redraw();
    this.code.focus(0);
    return true;
  }

  sayWaiting(op) {
    const both = op === "source" && this.sending ? { saving: this.sending.qualname, opening: this.openingTo } : {};
    this.say(channelWaitingText(op, both), "waiting");
  }

  /** The outcome while nothing new is said: the save still out, if one is. */
  sayPending() {
    if (!this.sending) this.say(null);
    else if (this.sending.target === this.target) this.say("saving…", "busy");
    else this.say(`saving ${this.sending.qualname}…`, "busy");
  }

  /** The text of this editor is the save still out: it is not lost by opening another. */
  isBeingSaved() {
    const sending = this.sending;
    return Boolean(sending) && !this.conflict && sending.target === this.target && this.code.text() === sending.text;
  }

  /** Unsaved text is never dropped without asking. */
  askFirst(action, proceed) {
    const q = this.qualname;
    this.showNotice("unsaved", `${q} has unsaved changes.`, [
      button(
        `Discard them and ${action}`,
        () => {
          this.hideNotice();
          proceed();
        },
        { kind: "discard" },
      ),
      button(
        `Keep editing ${q}`,
        () => {
          this.hideNotice();
          this.code.view.focus();
        },
        { kind: "keep" },
      ),
    ]);
  }

  async open(fn) {
    if (this.qualname === fn.qualname && !this.box.hidden) {
      this.code.view.focus();
      return;
    }
    if (this.isDirty() && !this.isBeingSaved()) this.askFirst(`open ${fn.qualname}`, () => this.switchTo(fn.qualname));
    else await this.switchTo(fn.qualname);
  }

  async save() {
    if (this.busy || !this.target || this.conflict) return;
    this.setBusy(true);
    this.ownEvents = [];
    const sent = this.code.text();
    const sending = { target: this.target, qualname: this.qualname, generation: this.generation, text: sent };
    this.sending = sending;
    const started = performance.now();
    const rendersBefore = this.view.renders;
    this.say("saving…", "busy");
    try {
      const fields = { target: this.target, content: sent };
      if (this.base?.hash) fields.expected_hash = this.base.hash;
      const reply = await this.request("reload_definition", fields);
      await this.openSettled(); // a function clicked meanwhile: its reply comes first
      this.sending = null;
      if (this.target !== sending.target || this.generation !== sending.generation) {
        this.answeredElsewhere(sending, reply);
      } else if (reply.ok) {
        this.saved(reply.result, sent, started, rendersBefore);
      } else {
        this.refused(reply.error);
      }
      this.saves += 1;
      this.root.dataset.saves = String(this.saves);
    } finally {
      this.sending = null;
      this.setBusy(false);
      this.showDirty();
    }
  }

  /** Until no open is out (a click made while waiting for it may start another). */
  async openSettled() {
    let open;
    while ((open = this.pendingOpen)) {
      await open;
      if (this.pendingOpen === open) break;
    }
  }

  /**
   * The reply to a save whose definition the editor left meanwhile (another one opened, or
   * this one opened again): said with its name; a refused text is one click from coming
   * back, so leaving never loses it.
   */
  answeredElsewhere(sending, reply) {
    const { qualname } = sending;
    if (reply.ok) {
      this.say(`${qualname}: ${savedText(reply.result)}`, "ok");
    } else {
      const error = reply.error;
      const conflict = error?.type === "ConflictError";
      const failed = this.ownEvents.some((ev) => ev.kind === "compile_failed");
      const failureAt = failed ? (this.model.get("error")?.at ?? null) : null;
      const why = conflict ? "it changed on disk since you opened it" : failureText(error);
      this.say(`${qualname} was not saved: ${why}`, conflict ? "conflict" : "error", failureAt);
      this.showNotice("refused", `Your text of ${qualname} was not saved.`, [
        button(`Back to ${qualname} with your text`, () => this.backTo(sending, error, failureAt), { kind: "back" }),
      ]);
    }
    if (this.target) this.checkDisk(); // the reload may have changed what is open now
  }

  /** Reopen a definition with the text of its refused save, as if it had never left. */
  backTo(sending, error, failureAt) {
    const go = async () => {
      this.hideNotice();
      if (!(await this.switchTo(sending.qualname))) return;
      this.code.replace(sending.text);
      this.showDirty();
      if (error?.type === "ConflictError") this.openConflict(this.base);
      else {
        this.say(failureText(error), "error", failureAt);
        this.code.markLine(error?.editor_line ?? null);
      }
    };
    if (this.isDirty()) this.askFirst(`go back to ${sending.qualname}`, go);
    else go();
  }

  saved(result, sent, started, rendersBefore) {
    if (result?.source) this.setBase(fromSource(result.source));
    this.hideNotice();
    if (this.code.text() === sent) this.code.replace(this.base.text); // as written: re-indented, formatted
    this.say(savedText(result), "ok");
    // Events come before the reply, so the panel has normally re-rendered already.
    const renderedAt = this.view.renders > rendersBefore ? this.view.lastDrawAt : performance.now();
    this.root.dataset.saveMs = (renderedAt - started).toFixed(1);
  }

  refused(error) {
    if (error?.type === "ConflictError") {
      if (error.current === null || error.current === undefined) {
        this.say(`not saved: ${this.qualname} is gone from the file since you opened it`, "conflict");
        this.gone("removed or renamed elsewhere");
      } else {
        this.openConflict(fromSource({ source: error.current, source_hash: error.current_hash }));
      }
      return;
    }
    // A failure this save caused is said here, once: the banner above stands down.
    const failed = this.ownEvents.some((ev) => ev.kind === "compile_failed");
    this.say(failureText(error), "error", failed ? (this.model.get("error")?.at ?? null) : null);
    this.code.markLine(error?.editor_line ?? null);
  }

  async undo() {
    if (this.busy) return;
    this.setBusy(true);
    this.say("undoing…", "busy");
    try {
      const reply = await this.request("undo");
      if (!reply.ok) {
        this.say(`Cannot undo: ${reply.error?.message ?? "failed"}`, "error");
        return;
      }
      const mods = (reply.result?.recompiled ?? []).map((p) => p.mod);
      this.say(`undid the last reload${mods.length ? ` (${mods.join(", ")})` : ""}`, "ok");
      await this.checkDisk(); // a clean editor follows; unsaved text is marked "changed on disk"
    } finally {
      this.setBusy(false);
      this.undos += 1;
      this.root.dataset.undos = String(this.undos);
    }
  }

  closeNow() {
    this.closeConflict();
    this.hideNotice();
    this.box.hidden = true;
    this.target = this.qualname = null;
    this.setBase(null);
    delete this.root.dataset.editing;
    this.say(null);
    this.showDirty();
    this.view.redraw();
  }

  close() {
    if (this.isDirty()) this.askFirst("close", () => this.closeNow());
    else this.closeNow();
  }

  /** The module's latest event (model trait last_event): one message per reload. */
  onModuleEvent(ev) {
    if (!ev || ev.n <= this.seenEvent) return;
    this.seenEvent = ev.n;
    if (this.busy) {
      this.ownEvents.push(ev); // this editor's own save or undo: its reply says how it went
      return;
    }
    this.say(null); // a new reload: the last one's message goes
    if (ev.kind === "recompiled") this.checkDisk();
  }

  dispose() {
    this.closeConflict();
    this.code.destroy();
    this.request.close();
  }
}
