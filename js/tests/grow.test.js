import { describe, expect, it } from "vitest";
import { decodePayload } from "../codecs.js";
import { pageOf, pageRange, PAGE_SIZE } from "../gridlayout.js";
import { decodeGrown, grownMeta, receiveChunk } from "../grow.js";
import { nodeId, nodeInfo } from "../layout.js";
import { mapNodes } from "../regionmap.js";
import { hierarchyMasks } from "../segments.js";
import { createStore } from "../store.js";
import { fakeModel, randomResult } from "./helpers.js";

const SIDES = [4, 8];
const thumb = { bytes: new TextEncoder().encode("<svg xmlns='http://www.w3.org/2000/svg'/>"), mime: "image/svg+xml" };
const KS = [2, 3];

/** A fitted result of 2 images and one added chunk of `count` images after it. */
function grown(count = 2) {
  const base = randomResult({ nImages: 2, sides: SIDES, segmentKs: KS, seed: 3, thumbnails: [thumb, thumb] });
  const thumbs = Array.from({ length: count }, () => thumb);
  const add = randomResult({ nImages: count, sides: SIDES, segmentKs: KS, seed: 7, thumbnails: thumbs });
  const n0 = base.meta.n_nodes;
  const chunkMeta = {
    first_image: 2,
    n_nodes: add.meta.n_nodes,
    offsets: [n0, n0 + count * SIDES[0] * SIDES[0]],
    images: add.meta.images.map((img, i) => ({ ...img, name: `new${i}`, added: true })),
    arrays: add.meta.arrays,
    thumbnails: add.meta.thumbnails,
    total_bytes: add.meta.total_bytes,
  };
  return { base, add, chunk: { meta: chunkMeta, payload: add.payload } };
}

describe("a grown map's node layout", () => {
  it("leaves a never-grown meta exactly as it is", () => {
    const { base } = grown();
    expect(grownMeta(base.meta, [])).toBe(base.meta);
  });

  it("maps every node to one patch and back, old and added", () => {
    const { base, chunk } = grown(3);
    const meta = grownMeta(base.meta, [chunk]);
    expect(meta.images.length).toBe(5);
    expect(meta.n_nodes).toBe(base.meta.n_nodes + chunk.meta.n_nodes);
    const seen = new Set();
    meta.resolutions.forEach((res, r) => {
      for (let image = 0; image < 5; image++) {
        for (let row = 0; row < res.h; row++) {
          for (let col = 0; col < res.w; col++) {
            const node = nodeId(res, image, row, col);
            expect(nodeInfo(meta, node)).toEqual({ res: r, image, row, col });
            seen.add(node);
          }
        }
      }
    });
    expect(seen.size).toBe(meta.n_nodes);
    expect(Math.max(...seen)).toBe(meta.n_nodes - 1);
    // Old nodes keep their ids: the first payload's numbering.
    const r1 = base.meta.resolutions[1];
    expect(nodeId(meta.resolutions[1], 1, 2, 3)).toBe(r1.offset + 1 * 64 + 2 * 8 + 3);
    expect(nodeInfo(meta, meta.n_nodes)).toBeNull();
  });
});

describe("linking a grown map by pixel region", () => {
  it("maps an added image's patch to that image's patches in the other grid", () => {
    const { base, chunk } = grown(3);
    const meta = grownMeta(base.meta, [chunk]);
    const [coarse, fine] = meta.resolutions;
    const node = nodeId(coarse, 4, 1, 2); // image 4: the chunk's last image, 4x4 grid
    // The 8x8 grid's 2x2 patches under that 4x4 patch, in image 4's own block, and itself.
    const want = [node, ...[2, 3].flatMap((y) => [4, 5].map((x) => nodeId(fine, 4, y, x)))].sort((a, b) => a - b);
    expect(mapNodes([node], meta, meta)).toEqual(want);
  });
});

describe("decodeGrown", () => {
  it("keeps the first payload's values and appends the chunk's with the first payload's scales", () => {
    const { base, add, chunk } = grown();
    const alone = decodePayload(base.meta, base.payload.buffer);
    const data = decodeGrown(base.meta, base.payload.buffer, [chunk]);
    const n0 = base.meta.n_nodes;
    expect(data.nNodes).toBe(n0 + add.meta.n_nodes);
    expect(data.positions.subarray(0, n0 * 3)).toEqual(alone.positions);
    expect(data.colors.subarray(0, n0 * 3)).toEqual(alone.colors);
    expect(data.eigvecs.subarray(0, n0 * base.meta.k)).toEqual(alone.eigvecs);
    const addedAlone = decodePayload({ ...add.meta }, add.payload.buffer);
    expect(data.eigvecs.subarray(n0 * base.meta.k)).toEqual(addedAlone.eigvecs);
    // Positions of added nodes dequantize in the first payload's box.
    const q = new Uint16Array(add.payload.buffer, add.meta.arrays.positions.offset, 3);
    const lo = base.meta.pos_min;
    const hi = base.meta.pos_max;
    expect(data.positions[n0 * 3]).toBeCloseTo(lo[0] + (q[0] / 65535) * (hi[0] - lo[0]), 5);
    expect(data.thumbnails.length).toBe(4);
    // Segment labels: per level, the first payload's then the chunk's.
    const nAll = data.nNodes;
    KS.forEach((_, l) => {
      expect(data.segments.labels.subarray(l * nAll, l * nAll + n0)).toEqual(alone.segments.labels.subarray(l * n0, (l + 1) * n0));
      expect(data.segments.labels.subarray(l * nAll + n0, (l + 1) * nAll)).toEqual(addedAlone.segments.labels.subarray(l * add.meta.n_nodes, (l + 1) * add.meta.n_nodes));
    });
    // The hierarchy of an added node reads its own grid.
    const res = data.meta.resolutions[0];
    const node = nodeId(res, 3, 1, 1);
    const masks = hierarchyMasks(data.segments, nAll, res, 3, node);
    expect(masks[0].label).toBe(data.segments.labels[node]);
    expect(masks[0].mask[1 * 4 + 1]).toBe(1);
  });

  it("refuses a chunk that does not follow the nodes before it", () => {
    const { base, chunk } = grown();
    const bad = { ...chunk, meta: { ...chunk.meta, first_image: 3 } };
    expect(() => decodeGrown(base.meta, base.payload.buffer, [bad])).toThrow(/added chunk 0/);
  });
});

describe("receiveChunk and the store", () => {
  it("appends a chunk once, without saving it, and the store decodes every node", () => {
    const { base, chunk } = grown();
    const model = fakeModel({ meta: base.meta, payload: base.payload, appended: [] });
    const store = createStore(model);
    // A new store asks the kernel for chunks it may have missed before its code loaded.
    expect(model.sent).toEqual([{ type: "appended_have", count: 0 }]);
    expect(store.data.nNodes).toBe(base.meta.n_nodes);
    model.fire("msg:custom", { type: "append", meta: chunk.meta }, [new DataView(chunk.payload.buffer)]);
    model.fire("msg:custom", { type: "append", meta: chunk.meta }, [new DataView(chunk.payload.buffer)]);
    expect(model.get("appended").length).toBe(1);
    expect(model.saves).toBe(0);
    expect(store.data.nNodes).toBe(base.meta.n_nodes + chunk.meta.n_nodes);
    expect(store.data.meta.images[3].added).toBe(true);
    // A click on an added node highlights; ids stay valid.
    const added = nodeId(store.data.meta.resolutions[1], 3, 0, 0);
    store.pick(added);
    expect(store.selected).toEqual([added]);
    expect(store.sim[added]).toBe(1);
    expect(receiveChunk(model, { type: "other" }, [])).toBe(false);
  });

  it("drops the appended trait from Jupyter's queue of changes to send", () => {
    const { chunk } = grown();
    const raw = { _buffered_state_diff: {} };
    const values = { appended: [] };
    const handlers = new Set();
    const model = {
      get: (k) => values[k],
      set(k, v) {
        values[k] = v;
        for (const fn of handlers) fn(raw, v);
        raw._buffered_state_diff[k] = v; // what Jupyter's WidgetModel.set does after Backbone's
      },
      on: (_, fn) => handlers.add(fn),
      off: (_, fn) => handlers.delete(fn),
    };
    receiveChunk(model, { type: "append", meta: chunk.meta }, [chunk.payload]);
    expect(values.appended.length).toBe(1);
    expect("appended" in raw._buffered_state_diff).toBe(false);
  });
});

describe("paging", () => {
  it("shows today's single page up to PAGE_SIZE images and pages above", () => {
    expect(pageRange(20, 0)).toEqual({ page: 0, pages: 1, first: 0, end: 20 });
    expect(pageRange(520, 3)).toEqual({ page: 3, pages: 11, first: 3 * PAGE_SIZE, end: 4 * PAGE_SIZE });
    expect(pageRange(520, 99).end).toBe(520);
    expect(pageRange(520, -1).page).toBe(0);
    expect(pageOf(519)).toBe(10);
  });
});
