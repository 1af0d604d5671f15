import { afterEach, describe, expect, it, vi } from "vitest";
import { createSimilarity, selectionScore } from "../similarity.js";
import { createStore } from "../store.js";
import { fakeModel, randomResult } from "./helpers.js";

/** A payload as Jupyter hands it over: a DataView at a non-zero byteOffset of a larger buffer. */
function asDataView(payload, pad = 3) {
  const backing = new Uint8Array(payload.length + pad);
  backing.set(payload, pad);
  return new DataView(backing.buffer, pad, payload.length);
}

function loaded(traits = {}, opts = {}) {
  const r = randomResult(opts);
  const model = fakeModel({ meta: r.meta, payload: asDataView(r.payload), ...traits });
  const store = createStore(model);
  return { r, model, store };
}

afterEach(() => vi.restoreAllMocks());

describe("createStore: payload", () => {
  it("decodes a payload present at creation (a saved notebook, a second display)", () => {
    const { r, model, store } = loaded();
    expect(store.data.nNodes).toBe(r.meta.n_nodes);
    // Nothing but the one question about added images (js/grow.js): the payload is never requested.
    expect(model.sent).toEqual([{ type: "appended_have", count: 0 }]);
  });

  it("decodes once meta and payload agree, whichever changes first", () => {
    const r = randomResult();
    const model = fakeModel();
    const store = createStore(model);
    const onData = vi.fn();
    store.on("data", onData);
    model.set("payload", asDataView(r.payload));
    expect(store.data).toBeNull();
    model.set("meta", r.meta);
    expect(onData).toHaveBeenCalledTimes(1);
    expect(store.data.nNodes).toBe(r.meta.n_nodes);
  });

  it("waits for the new payload when a new meta arrives first", () => {
    const old = randomResult({ version: 1, sides: [4] });
    const neu = randomResult({ version: 2, sides: [8], seed: 5 });
    const model = fakeModel({ meta: old.meta, payload: asDataView(old.payload) });
    const store = createStore(model);
    model.set("meta", neu.meta);
    expect(store.data.meta.version).toBe(1);
    model.set("payload", asDataView(neu.payload));
    expect(store.data.meta.version).toBe(2);
    expect(store.data.nNodes).toBe(neu.meta.n_nodes);
  });

  it("never decodes the same version twice (views and camera stay as they are)", () => {
    const { r, model, store } = loaded();
    const onData = vi.fn();
    store.on("data", onData);
    const first = store.data;
    model.set("payload", asDataView(r.payload, 5));
    model.set("meta", { ...r.meta });
    expect(onData).not.toHaveBeenCalled();
    expect(store.data).toBe(first);
  });

  it("drops the data when the results are cleared", () => {
    const { model, store } = loaded();
    model.set("meta", {});
    expect(store.data).toBeNull();
  });

  it("reports a payload that does not decode instead of throwing", () => {
    const r = randomResult();
    const bad = { ...r.meta, arrays: { ...r.meta.arrays, eigvecs: { ...r.meta.arrays.eigvecs, dtype: "float64" } } };
    vi.spyOn(console, "error").mockImplementation(() => {});
    const store = createStore(fakeModel({ meta: bad, payload: asDataView(r.payload) }));
    expect(store.data).toBeNull();
    expect(store.decodeError).toMatch(/float64/);
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
    const want = selectionScore(createSimilarity(store.data.eigvecs, store.data.eigScale, 6), [17], [], 6);
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
    const two = selectionScore(createSimilarity(store.data.eigvecs, store.data.eigScale, 6), [1], [], 2);
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

  it("keeps a click in the browser once the kernel is gone", () => {
    const { model, store } = loaded();
    store.kernelReachable = false;
    const onSim = vi.fn();
    store.on("similarity", onSim);
    store.pick(5);
    expect(store.selected).toEqual([5]);
    expect(onSim).toHaveBeenCalledTimes(1);
    expect(model.saves).toBe(0);
  });

  it("removes its model listeners on destroy", () => {
    const model = fakeModel();
    const store = createStore(model);
    expect(model.listenerCount()).toBeGreaterThan(0);
    store.destroy();
    expect(model.listenerCount()).toBe(0);
  });
});

describe("createStore: negatives", () => {
  it("Alt-click marks a negative, suppresses what is nearer it, and keeps the selection", () => {
    const { model, store } = loaded({ threshold: 0 });
    store.clickNode(3, {});
    const before = store.sim.filter((s) => s >= 0).length;
    store.clickNode(40, { altKey: true });
    expect(store.selected).toEqual([3]);
    expect(model.get("negative")).toEqual([40]);
    expect(store.negative).toEqual([40]);
    expect(store.sim.filter((s) => s >= 0).length).toBeLessThan(before);
    expect(store.sim[40]).toBe(-2);
    store.clickNode(40, { altKey: true }); // toggles off
    expect(store.negative).toEqual([]);
    expect(store.sim.filter((s) => s >= 0).length).toBe(before);
  });

  it("the toolbar toggle makes plain clicks negative; a fresh selection drops negatives; Clear clears both", () => {
    const { model, store } = loaded();
    store.clickNode(3, {});
    store.setNegativeMode(true);
    store.clickNode(7, {});
    expect(store.negative).toEqual([7]);
    store.setNegativeMode(false);
    store.clickNode(9, { shiftKey: true });
    expect(store.selected).toEqual([3, 9]);
    expect(store.negative).toEqual([7]);
    store.clickNode(10, {});
    expect(store.negative).toEqual([]);
    store.clickNode(11, { altKey: true });
    store.clear();
    expect(model.get("selected")).toEqual([]);
    expect(model.get("negative")).toEqual([]);
  });

  it("a negative click on a selected node moves it out of the selection", () => {
    const { store } = loaded();
    store.clickNode(3, {});
    store.clickNode(5, { shiftKey: true });
    store.clickNode(5, { altKey: true });
    expect(store.selected).toEqual([3]);
    expect(store.negative).toEqual([5]);
  });
});

describe("createStore: saving large selections", () => {
  it("sends a list over 10,000 ids after the frame that draws it, once, and small ones at once", async () => {
    const { model, store } = loaded();
    const big = Array.from({ length: 10001 }, (_, i) => i % store.data.nNodes);
    store.setTrait("selected", big);
    expect(model.get("selected")).toBe(big); // the views already have it
    expect(model.saves).toBe(0);
    store.setTrait("negative", big); // coalesced with the pending save
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(model.saves).toBe(1);
    store.pick(3);
    expect(model.saves).toBe(2);
  });
});

describe("createStore: ids from the kernel", () => {
  it("keeps each valid id once, first occurrence first, and skips out-of-range ones with a warning", () => {
    const { model, store } = loaded();
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    model.set("selected", [5, 3, 5, -1, store.data.nNodes, 2.5, 3]);
    expect(store.selected).toEqual([5, 3]);
    expect(warn).toHaveBeenCalledTimes(3);
    warn.mockRestore();
  });
});
