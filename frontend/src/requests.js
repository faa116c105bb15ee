// The editor's requests to the kernel, and telling a slow one from a channel that waits.
//
// A request is a widget custom message {type: "request", id, op, ...}; the kernel answers
// each with exactly one {type: "reply", id, ok, result | error, beside_cells}. Where the
// frontend sends widget messages to a kernel subshell (JupyterLab 4.4+ and Notebook 7.4+
// with ipykernel 7, by default), the kernel answers beside a running cell and says so
// ("beside_cells": true). Elsewhere (an older frontend or kernel, VS Code, or comms over
// subshells turned off in the settings) a request waits until the running cell ends.
//
// The page cannot see which case it is in, nor whether a cell runs, so it asks when it
// matters: a request still unanswered after PENDING_MS makes the requester send a "ping"
// (answered by the kernel at once, wherever requests are served). A ping answered in time
// means the kernel is at work on the request (a slow reload, or one that waits for the
// cell and says so itself with a reload_waiting event, which the panel shows). A ping
// unanswered PENDING_MS later means the panel's messages themselves wait behind the
// running cell: onWaiting(op) is called, once, and the panel says so until the reply
// arrives. Request ids are numbers: ipykernel 7.4 remembers every reply whose id is a
// string.

const PENDING_MS = 400;

/**
 * ``request(op, fields, {quiet})`` sends {type: "request", id, op, ...fields} on the widget
 * and resolves with its one reply. ``onWaiting(op)`` is called when a request (unless
 * ``quiet``: one the user did not ask for) is found waiting for the running cell. Requests
 * do not wait for each other: a definition opens while a save is still out.
 */
export function requester(model, { onWaiting = null } = {}) {
  let next = 1;
  const out = new Map(); // id -> { resolve, timers }
  const onMessage = (msg) => {
    if (msg?.type !== "reply" || !out.has(msg.id)) return;
    const entry = out.get(msg.id);
    out.delete(msg.id);
    for (const timer of entry.timers) clearTimeout(timer);
    entry.resolve(msg);
  };
  model.on("msg:custom", onMessage);

  const send = (op, fields, resolve) => {
    const id = next++;
    const entry = { resolve, timers: [] };
    out.set(id, entry);
    model.send({ type: "request", id, op, ...fields });
    return entry;
  };

  /** After PENDING_MS, ping; if the ping is not back PENDING_MS later, the channel waits. */
  const watch = (op, entry) => {
    entry.timers.push(
      setTimeout(() => {
        let answered = false;
        send("ping", {}, () => {
          answered = true;
        });
        entry.timers.push(
          setTimeout(() => {
            if (!answered) onWaiting(op);
          }, PENDING_MS),
        );
      }, PENDING_MS),
    );
  };

  const request = (op, fields = {}, { quiet = false } = {}) =>
    new Promise((resolve) => {
      const entry = send(op, fields, resolve);
      if (onWaiting && !quiet) watch(op, entry);
    });
  request.close = () => {
    model.off("msg:custom", onMessage);
    for (const entry of out.values()) for (const timer of entry.timers) clearTimeout(timer);
    out.clear();
  };
  return request;
}
