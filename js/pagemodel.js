// The in-page stand-in for an anywidget model used by the exported HTML page: traits live in a
// plain object; the payload trait is the inlined base64, decoded once.
import { base64ToBytes } from "./codecs.js";

/**
 * Builds a model over inlined state.
 * @param {{traits: object, payload: string}} state the page's ncut-state JSON
 * @returns {{get: Function, set: Function, on: Function, off: Function, save_changes: Function, send: Function}}
 */
export function createPageModel(state) {
  const traits = {
    ...state.traits,
    payload: base64ToBytes(state.payload || ""),
    // Images added to the map: each chunk's meta and its payload bytes (docs/wire-format.md).
    appended: (state.appended || []).map((c) => ({ meta: c.meta, payload: base64ToBytes(c.payload) })),
  };
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
    // No kernel to talk to.
    send() {},
  };
}
