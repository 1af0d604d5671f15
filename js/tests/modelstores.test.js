import { describe, expect, it } from "vitest";
import { createStoreRegistry } from "../modelstores.js";
import { fakeModel, randomResult } from "./helpers.js";

/** What anywidget hands initialize and each render: a new object over the same model. */
function proxy(model) {
  return {
    get: (name) => model.get(name),
    set: (name, value) => model.set(name, value),
    on: (name, fn) => model.on(name, fn),
    off: (name, fn) => model.off(name, fn),
    save_changes: () => model.save_changes(),
    send: (msg) => model.send(msg),
  };
}

function loadedModel(seed = 1) {
  const r = randomResult({ seed, version: seed });
  return fakeModel({ meta: r.meta, payload: r.payload });
}

describe("createStoreRegistry", () => {
  it("gives every display of a model the store initialize made (one decode, one similarity)", () => {
    const model = loadedModel();
    const registry = createStoreRegistry();
    const { store } = registry.open(proxy(model));
    const first = registry.find(proxy(model));
    const second = registry.find(proxy(model));
    expect(first).toEqual({ store, owned: false });
    expect(second.store).toBe(store);
    second.store.pick(4);
    expect(store.selected).toEqual([4]);
  });

  it("keeps finding it after the model's results change", () => {
    const model = loadedModel();
    const registry = createStoreRegistry();
    const { store } = registry.open(proxy(model));
    const neu = randomResult({ seed: 9, version: 9 });
    model.set("meta", neu.meta);
    model.set("payload", neu.payload);
    expect(store.data.meta.version).toBe(9);
    expect(registry.find(proxy(model)).store).toBe(store);
  });

  it("never mixes two models up", () => {
    const a = loadedModel(1);
    const b = loadedModel(2);
    const registry = createStoreRegistry();
    const storeA = registry.open(proxy(a)).store;
    const storeB = registry.open(proxy(b)).store;
    expect(registry.find(proxy(a)).store).toBe(storeA);
    expect(registry.find(proxy(b)).store).toBe(storeB);
  });

  it("lets a render own a store where initialize made none, and forgets closed ones", () => {
    const model = loadedModel();
    const registry = createStoreRegistry();
    const { close } = registry.open(proxy(model));
    close();
    expect(model.listenerCount()).toBe(0);
    const found = registry.find(proxy(model));
    expect(found.owned).toBe(true);
    expect(registry.find(proxy(model)).store).not.toBe(found.store);
  });
});
