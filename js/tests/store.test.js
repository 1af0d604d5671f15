import { afterEach, describe, expect, it, vi } from "vitest";
import { splitPayload } from "../dev/encode.js";
import { createSimilarity } from "../similarity.js";
import { createStore } from "../store.js";
import { fakeModel, randomResult } from "./helpers.js";

function deliver(model, version, parts, order = parts.map((_, i) => i)) {
  for (const i of order) model.fire("msg:custom", { type: "data", version, index: i, count: parts.length }, [parts[i]]);
}

function loaded(traits = {}, opts = {}) {
  const r = randomResult(opts);
  const model = fakeModel({ meta: r.meta, ...traits });
  const store = createStore(model);
  deliver(model, r.meta.version, splitPayload(r.payload, 64));
  return { r, model, store };
}

afterEach(() => vi.restoreAllMocks());

describe("createStore: payload", () => {
  it("asks for the data once on creation", () => {
    const model = fakeModel();
    createStore(model);
    expect(model.sent).toEqual([{ type: "request_data" }]);
  });

  it("decodes once all chunks of the meta's version arrived, in any order", () => {
    const r = randomResult();
    const model = fakeModel({ meta: r.meta });
    const store = createStore(model);
    const onData = vi.fn();
    store.on("data", onData);
    const parts = splitPayload(r.payload, 50);
    const order = parts.map((_, i) => i).reverse();
    deliver(model, 1, parts, order.slice(0, -1));
    expect(store.data).toBeNull();
    deliver(model, 1, parts, order.slice(-1));
    expect(onData).toHaveBeenCalledTimes(1);
    expect(store.data.nNodes).toBe(r.meta.n_nodes);
  });

  it("decodes chunks that arrived before their meta when the meta comes", () => {
    const r = randomResult();
    const model = fakeModel();
    const store = createStore(model);
    deliver(model, 1, splitPayload(r.payload, 100));
    expect(store.data).toBeNull();
    model.set("meta", r.meta);
    expect(store.data.nNodes).toBe(r.meta.n_nodes);
  });

  it("lets a newer version supersede a partial older one, and ignores late old chunks", () => {
    const old = randomResult({ version: 1, sides: [4] });
    const neu = randomResult({ version: 2, sides: [8], seed: 5 });
    const model = fakeModel({ meta: old.meta });
    const store = createStore(model);
    const oldParts = splitPayload(old.payload, 40);
    deliver(model, 1, oldParts, [0]);
    model.set("meta", neu.meta);
    const newParts = splitPayload(neu.payload, 40);
    deliver(model, 2, newParts, newParts.map((_, i) => i).slice(0, -1));
    deliver(model, 1, oldParts, oldParts.map((_, i) => i).slice(1));
    deliver(model, 2, newParts, [newParts.length - 1]);
    expect(store.data.meta.version).toBe(2);
    expect(store.data.nNodes).toBe(neu.meta.n_nodes);
  });

  it("reports a payload that does not decode instead of throwing", () => {
    const r = randomResult();
    const model = fakeModel({ meta: { ...r.meta, total_bytes: r.meta.total_bytes + 8 } });
    vi.spyOn(console, "error").mockImplementation(() => {});
    const store = createStore(model);
    deliver(model, 1, [r.payload]);
    expect(store.data).toBeNull();
    expect(store.decodeError).toMatch(/total_bytes/);
  });

  it("ignores messages that are not data", () => {
    const model = fakeModel();
    const store = createStore(model);
    model.fire("msg:custom", { type: "other" }, []);
    expect(store.data).toBeNull();
  });
});

describe("createStore: selection and similarity", () => {
  it("turns a click into the selected trait and a similarity event", () => {
    const { r, model, store } = loaded({}, { k: 6 });
    const onSim = vi.fn();
    store.on("similarity", onSim);
    store.pick(17);
    expect(model.get("selected")).toEqual([17]);
    expect(model.saves).toBe(1);
    expect(onSim).toHaveBeenCalledTimes(1);
    const want = createSimilarity(store.data.eigvecs, store.data.eigScale, 6).compute([17], 6);
    expect(store.sim).toEqual(want);
    expect(store.sim[17]).toBeCloseTo(1, 5);
    expect(r.meta.n_nodes).toBe(store.sim.length);
  });

  it("shift-click adds and removes; clear empties", () => {
    const { model, store } = loaded();
    store.pick(3);
    store.pick(9, true);
    expect(model.get("selected")).toEqual([3, 9]);
    store.pick(3, true);
    expect(model.get("selected")).toEqual([9]);
    store.clear();
    expect(model.get("selected")).toEqual([]);
    expect(store.sim).toBeNull();
  });

  it("applies a selection Python set before the data arrived", () => {
    const { store } = loaded({ selected: [4, 5] });
    expect(store.selected).toEqual([4, 5]);
    expect(store.sim).toBeInstanceOf(Float32Array);
  });

  it("ignores out-of-range ids from Python with a warning", () => {
    const { model, store } = loaded();
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    model.set("selected", [2, -1, store.data.nNodes, 1.5]);
    expect(store.selected).toEqual([2]);
    expect(warn).toHaveBeenCalledTimes(3);
  });

  it("recomputes with n_eig_view, clamped to 1..k", () => {
    const { model, store } = loaded({ n_eig_view: 6 }, { k: 6 });
    store.pick(1);
    const all = Float32Array.from(store.sim);
    model.set("n_eig_view", 2);
    expect(store.nEig).toBe(2);
    const two = createSimilarity(store.data.eigvecs, store.data.eigScale, 6).compute([1], 2);
    expect(store.sim).toEqual(two);
    expect(store.sim).not.toEqual(all);
    model.set("n_eig_view", 50);
    expect(store.nEig).toBe(6);
  });

  it("emits style for threshold and color mode without recomputing", () => {
    const { model, store } = loaded();
    const onStyle = vi.fn();
    const onSim = vi.fn();
    store.on("style", onStyle);
    store.on("similarity", onSim);
    model.set("threshold", 0.8);
    model.set("color_mode", "similarity");
    expect(onStyle).toHaveBeenCalledTimes(2);
    expect(onSim).not.toHaveBeenCalled();
    expect(store.threshold).toBe(0.8);
    expect(store.colorMode).toBe("similarity");
  });

  it("removes its model listeners on destroy", () => {
    const model = fakeModel();
    const store = createStore(model);
    expect(model.listenerCount()).toBeGreaterThan(0);
    store.destroy();
    expect(model.listenerCount()).toBe(0);
  });
});
