// How events, failures and outcomes are said, in one place.
import { baseName, ms, plural } from "./dom.js";

/** "ZeroDivisionError at line 2: division by zero": the type once (the kernel normalises). */
export function errorText(error) {
  if (!error) return "";
  const where = error.lineno ? ` at line ${error.lineno}` : "";
  const message = error.message ? `: ${error.message}` : "";
  return `${error.type ?? "Error"}${where}${message}`;
}

/** "after demo.shapes (compile)" for a module that ran because another one changed. */
export function afterText(reason) {
  if (!reason?.after) return null;
  return `after ${reason.after}` + (reason.label ? ` (${reason.label})` : "");
}

/** A reload the kernel received and makes wait for the running cell (reload_waiting). */
export function waitingText(reason, done = false) {
  const head = done ? "waited for the running cell" : "waiting for the running cell";
  return reason ? `${head}: ${reason}` : head;
}

/**
 * What the editor says while its request cannot even reach the kernel: this frontend sends
 * the panel's messages to the kernel's main shell, which takes them between cells. (A
 * reload the kernel has and makes wait for the cell is the module's waitingText.) An open
 * made while a save is out names both.
 */
export function channelWaitingText(op, { saving = null, opening = null } = {}) {
  const what =
    saving && opening
      ? `The save of ${saving} and opening ${opening} wait`
      : `${{ source: "Opening", reload_definition: "The save", undo: "The undo" }[op] ?? "The request"} waits`;
  return `${what} for the running cell to finish (this frontend sends the panel's requests to the kernel between cells).`;
}

export function runningOldText(threads) {
  return `running the old version in ${threads.join(", ")}`;
}

/** The outcome of a save: "saved demo.shapes · patched · 1 dependent re-executed · 3.1 ms". */
export function savedText(result) {
  const saved = result?.recompiled?.[0];
  if (!saved) return "saved";
  const parts = [`saved ${saved.mod}`];
  const mode = saved.mode === "partial" ? `partial: ${plural(saved.rerun?.length ?? 0, "statement")}` : saved.mode;
  if (mode) parts.push(mode);
  const others = result.recompiled.length - 1;
  if (others > 0) parts.push(`${plural(others, "dependent")} re-executed`);
  const took = ms(saved.module_ms ?? saved.elapsed_ms);
  if (took) parts.push(took);
  // Other modules' failed edits still pending (SPEC 1.8), as the %%hotreload summary says.
  for (const p of result.pending ?? []) {
    parts.push(`${p.mod} still has a failed edit` + (p.lineno ? ` (line ${p.lineno})` : ""));
  }
  return parts.join(" · ");
}

/**
 * A failed save, said once: what failed inside the reload ("ZeroDivisionError at line 2 of
 * the editor (line 14 of shapes.py): division by zero"), or the kernel's own sentence for
 * text that was not written ("the new definition of f does not parse ...").
 */
export function failureText(error) {
  if (!error) return "failed";
  const where = [];
  if (error.editor_line) where.push(`line ${error.editor_line} of the editor`);
  const file = error.lineno && error.path ? `line ${error.lineno} of ${baseName(error.path)}` : null;
  if (error.cause) {
    const at = where.length ? ` at ${where[0]}${file ? ` (${file})` : ""}` : file ? ` at ${file}` : "";
    const message = error.cause.message ? `: ${error.cause.message}` : "";
    return `${error.cause.type}${at}${message}; the previous code keeps running`;
  }
  const lead = where.length ? `${where[0]}: ` : "";
  if (error.type === "HotReloadError" || error.type === "ReloadError") return `${lead}${error.message ?? "failed"}`;
  return `${lead}${error.type ?? "Error"}: ${error.message ?? ""}`;
}
