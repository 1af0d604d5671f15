// The in-page stand-in for an anywidget model used by the exported HTML page: traits live in a
// plain object, and request_data replays the inlined payload chunks as custom messages.
import { base64ToBytes } from "./codecs.js";

/**
 * Builds a model over inlined state.
 * @param {{traits: object, chunks: string[]}} state the page's ncut-state JSON
 * @returns {{get: Function, set: Function, on: Function, off: Function, save_changes: Function, send: Function}}
 */
export function createPageModel(state) {
  const traits = { ...state.traits };
  const handlers = new Map();

  function fire(name, ...args) {
    for (const fn of [...(handlers.get(name) || [])]) fn(...args);
  }

  return {
    get: (name) => traits[name],
    set(name, value) {
      traits[name] = value;
      fire(`change:${name}`, value);
    },
    on(name, fn) {
      if (!handlers.has(name)) handlers.set(name, new Set());
      handlers.get(name).add(fn);
    },
    off(name, fn) {
      handlers.get(name)?.delete(fn);
    },
    save_changes() {},
    send(msg) {
      if (!msg || msg.type !== "request_data") return;
      const version = traits.meta && traits.meta.version;
      const chunks = state.chunks || [];
      // Asynchronous like a kernel reply, so listeners registered after send() still hear it.
      setTimeout(() => {
        chunks.forEach((b64, index) => {
          fire("msg:custom", { type: "data", version, index, count: chunks.length }, [base64ToBytes(b64)]);
        });
      }, 0);
    },
  };
}
