import { describe, expect, it, vi } from "vitest";
import { decodePayload } from "../codecs.js";
import { hierarchyMasks, levelOf, segmentColors, segmentMembers, toggleMembers } from "../segments.js";
import { createStore } from "../store.js";
import { fakeModel, randomResult } from "./helpers.js";

const KS = [2, 3, 6];

function decoded(opts = {}) {
  const r = randomResult({ segmentKs: KS, ...opts });
  return { r, data: decodePayload(r.meta, r.payload.slice().buffer) };
}

describe("decodeSegments", () => {
  it("reads the ladder's labels and per-level colours as encoded", () => {
    const { r, data } = decoded();
    const n = r.meta.n_nodes;
    expect(data.segments.ks).toEqual(KS);
    expect(data.segments.labels.length).toBe(KS.length * n);
    expect([...data.segments.labels]).toEqual([...r.segments.labels]);
    expect(data.segments.colors.map((c) => c.length)).toEqual(KS.map((k) => k * 3));
    expect([...data.segments.colors[1]]).toEqual(r.segments.colors[1].flat());
  });

  it("is null for a payload without a ladder", () => {
    const r = randomResult();
    expect(decodePayload(r.meta, r.payload.slice().buffer).segments).toBeNull();
  });

  it("rejects a ladder whose colours disagree with its ks", () => {
    const { r } = decoded();
    const meta = structuredClone(r.meta);
    meta.segments.colors[0].pop();
    expect(() => decodePayload(meta, r.payload.slice().buffer)).toThrow(/colours for k=2/);
  });
});

describe("segment helpers", () => {
  it("colour every node by its segment's colour and find every member of a segment", () => {
    const { r, data } = decoded();
    const n = r.meta.n_nodes;
    const level = levelOf(data.segments, 6);
    expect(level).toBe(2);
    expect(levelOf(data.segments, 5)).toBe(-1);
    const colors = segmentColors(data.segments, n, level);
    for (const i of [0, 7, n - 1]) {
      const label = r.segments.labels[level * n + i];
      expect([...colors.subarray(i * 3, i * 3 + 3)]).toEqual(r.segments.colors[level][label]);
    }
    const members = segmentMembers(data.segments, n, level, 7);
    const label = r.segments.labels[level * n + 7];
    const expected = [];
    for (let i = 0; i < n; i++) if (r.segments.labels[level * n + i] === label) expected.push(i);
    expect(members).toEqual(expected);
  });

  it("toggle a segment: adds it unless all of it is selected, then removes it", () => {
    expect(toggleMembers([1, 9], [2, 3]).sort()).toEqual([1, 2, 3, 9]);
    expect(toggleMembers([1, 2, 3], [2, 3])).toEqual([1]);
    expect(toggleMembers([2], [2, 3]).sort()).toEqual([2, 3]);
  });
});

describe("store in Segments mode", () => {
  function loaded(traits) {
    const r = randomResult({ segmentKs: KS });
    const model = fakeModel({ meta: r.meta, payload: r.payload.slice(), k: 3, ...traits });
    return { r, model, store: createStore(model), n: r.meta.n_nodes };
  }
  const membersOf = (r, n, k, node) => {
    const l = KS.indexOf(k);
    const out = [];
    for (let i = 0; i < n; i++) if (r.segments.labels[l * n + i] === r.segments.labels[l * n + node]) out.push(i);
    return out;
  };

  it("a click selects every node of the clicked node's segment at k", () => {
    const { r, model, store, n } = loaded({ color_mode: "segments" });
    store.pick(11);
    expect(model.get("selected")).toEqual(membersOf(r, n, 3, 11));
    expect(store.selected).toEqual(membersOf(r, n, 3, 11));
    expect(store.sim).not.toBeNull();
  });

  it("shift-click adds a second segment and removes it again", () => {
    const { r, store, n } = loaded({ color_mode: "segments" });
    store.pick(11);
    const first = membersOf(r, n, 3, 11);
    const other = [...Array(n).keys()].find((i) => !first.includes(i));
    store.pick(other, true);
    expect([...store.selected].sort((a, b) => a - b)).toEqual([...first, ...membersOf(r, n, 3, other)].sort((a, b) => a - b));
    store.pick(other, true);
    expect(store.selected).toEqual(first);
  });

  it("outside Segments mode a click selects one node", () => {
    const { store } = loaded({ color_mode: "rgb" });
    store.pick(11);
    expect(store.selected).toEqual([11]);
  });

  it("base colours follow the mode and k, with a style event", () => {
    const { r, model, store, n } = loaded({ color_mode: "rgb" });
    expect(store.baseColors).toBe(store.data.colors);
    const onStyle = vi.fn();
    store.on("style", onStyle);
    model.set("color_mode", "segments");
    const at3 = store.baseColors;
    expect([...at3.subarray(0, 3)]).toEqual(r.segments.colors[1][r.segments.labels[n]]);
    model.set("k", 6);
    expect(onStyle).toHaveBeenCalledTimes(2);
    expect([...store.baseColors.subarray(0, 3)]).toEqual(r.segments.colors[2][r.segments.labels[2 * n]]);
    model.set("k", 5); // off the ladder: plain RGB, and clicks pick single nodes
    expect(store.baseColors).toBe(store.data.colors);
    store.pick(4);
    expect(store.selected).toEqual([4]);
  });

  it("showSegments sets k and Segments mode in one save", () => {
    const { model, store } = loaded({ color_mode: "rgb" });
    store.showSegments(6);
    expect(model.get("color_mode")).toBe("segments");
    expect(model.get("k")).toBe(6);
    expect(model.saves).toBe(1);
    expect(store.segmentLevel).toBe(2);
  });

  it("marks small selections node by node, and not a large one", () => {
    const { store } = loaded({ color_mode: "segments", k: 2 });
    store.pick(0);
    expect(store.selected.length).toBeGreaterThan(64);
    expect(store.markedNodes).toEqual([]);
    store.setTrait("selected", [3, 5]);
    expect(store.markedNodes).toEqual([3, 5]);
  });
});

describe("hierarchyMasks", () => {
  it("gives one mask per level over the node's own grid, 1 exactly where its segment is", () => {
    const { r, data } = decoded();
    const n = r.meta.n_nodes;
    const res = r.meta.resolutions[1];
    const image = 1;
    const node = res.offset + image * res.h * res.w + 3 * res.w + 2;
    const levels = hierarchyMasks(data.segments, n, res, image, node);
    expect(levels.map((l) => l.k)).toEqual(KS);
    levels.forEach(({ label, mask }, l) => {
      expect(mask.length).toBe(res.h * res.w);
      expect(label).toBe(r.segments.labels[l * n + node]);
      expect(mask[3 * res.w + 2]).toBe(1);
      for (let p = 0; p < mask.length; p++) {
        const other = res.offset + image * res.h * res.w + p;
        expect(mask[p]).toBe(r.segments.labels[l * n + other] === label ? 1 : 0);
      }
    });
  });
});

describe("store.anchor", () => {
  it("is the clicked node, even when the click selects its whole segment, and -1 once cleared", () => {
    const r = randomResult({ segmentKs: KS });
    const model = fakeModel({ meta: r.meta, payload: r.payload.slice(), k: 2, color_mode: "segments" });
    const store = createStore(model);
    store.pick(9);
    expect(store.anchor).toBe(9);
    expect(store.selected.length).toBeGreaterThan(1);
    store.clear();
    expect(store.anchor).toBe(-1);
    model.set("selected", [4, 6]); // from Python: the first selected node
    expect(store.anchor).toBe(4);
  });
});

describe("segmentEdges", () => {
  it("lists exactly the unit edges between 4-neighbours with different labels", async () => {
    const { segmentEdges } = await import("../segments.js");
    const res = { offset: 6, h: 3, w: 4 };
    const grid = [0, 0, 1, 1, 0, 2, 2, 1, 0, 2, 2, 2]; // image 1's labels, row-major
    const nNodes = 6 + 2 * 12;
    const labels = new Uint8Array(nNodes * 2);
    labels.set(grid, nNodes + 6 + 12); // level 1, image 1
    const edges = segmentEdges({ labels }, nNodes, 1, res, 1);
    const want = [];
    for (let r = 0; r < 3; r++) for (let c = 0; c + 1 < 4; c++) if (grid[r * 4 + c] !== grid[r * 4 + c + 1]) want.push([c + 1, r, c + 1, r + 1]);
    for (let r = 0; r + 1 < 3; r++) for (let c = 0; c < 4; c++) if (grid[r * 4 + c] !== grid[(r + 1) * 4 + c]) want.push([c, r + 1, c + 1, r + 1]);
    const got = [];
    for (let i = 0; i < edges.length; i += 4) got.push(edges.slice(i, i + 4));
    expect(got).toEqual(want);
    expect(want.length).toBe(7);
    expect(segmentEdges({ labels }, nNodes, 0, res, 1)).toEqual([]); // level 0: one segment
  });
});
