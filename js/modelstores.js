// One store per model, however many displays it has. anywidget hands `initialize` and every `render`
// a fresh proxy of the model, so a proxy cannot key the store (each display used to build, decode
// and compute similarity in a store of its own). Every proxy of one model does return the very same
// trait objects, though, and no two models share them (each deserializes its own state): the
// model's current `meta` and `payload` objects tell which store a render belongs to.
import { createStore } from "./store.js";

function sameModel(a, b) {
  const meta = a.get("meta");
  return typeof meta === "object" && meta !== null && meta === b.get("meta") && a.get("payload") === b.get("payload");
}

/**
 * @returns {{open: (model: object) => {store: object, close: () => void},
 *   find: (model: object) => {store: object, owned: boolean}}}
 */
export function createStoreRegistry() {
  const open = new Set(); // {store, model}
  return {
    /** The store `initialize` makes for a model: it lives until `close` (the model's end). */
    open(model) {
      const entry = { store: createStore(model), model };
      open.add(entry);
      return {
        store: entry.store,
        close() {
          open.delete(entry);
          entry.store.destroy();
        },
      };
    },
    /**
     * The store of the model behind this render's proxy; where there is none (a host that skips
     * `initialize`), a new one the render owns and destroys. Such a store listens through the
     * render's proxy, which anywidget unbinds with the render, so it is never shared.
     */
    find(model) {
      for (const entry of open) if (sameModel(entry.model, model)) return { store: entry.store, owned: false };
      return { store: createStore(model), owned: true };
    },
  };
}
