// The editor's requests: {type: "request", id, op, ...} on the widget, one reply each.

/** ``request(op, fields)`` resolves with the kernel's one reply to it. */
export function requester(model) {
  let next = 1;
  const waiting = new Map();
  const onMessage = (msg) => {
    if (msg?.type !== "reply" || !waiting.has(msg.id)) return;
    const resolve = waiting.get(msg.id);
    waiting.delete(msg.id);
    resolve(msg);
  };
  model.on("msg:custom", onMessage);
  const request = (op, fields = {}) =>
    new Promise((resolve) => {
      const id = next++;
      waiting.set(id, resolve);
      model.send({ type: "request", id, op, ...fields });
    });
  request.close = () => model.off("msg:custom", onMessage);
  return request;
}
