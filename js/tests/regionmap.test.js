import { describe, expect, it } from "vitest";
import { mapNodes, overlapRange } from "../regionmap.js";

/** Pixels of cell i of an n-cell axis on an axis of L pixels (L a multiple of n): a set of ints. */
function pixels(i, n, L) {
  const step = L / n;
  return new Set(Array.from({ length: step }, (_, p) => i * step + p));
}

/** Brute force: cells j of m whose pixel sets intersect cell i of n, on an n*m-pixel axis. */
function bruteRange(i, n, m) {
  const L = n * m;
  const mine = pixels(i, n, L);
  const out = [];
  for (let j = 0; j < m; j++) if ([...pixels(j, m, L)].some((p) => mine.has(p))) out.push(j);
  return out;
}

function layout(grids, nImages = 2) {
  let offset = 0;
  const resolutions = grids.map(([h, w]) => {
    const r = { label: `${h}x${w}`, h, w, offset };
    offset += nImages * h * w;
    return r;
  });
  const images = Array.from({ length: nImages }, (_, i) => ({ name: `i${i}`, width: 224, height: 224 }));
  return { images, resolutions, n_nodes: offset };
}

describe("overlapRange", () => {
  it("is exactly the brute-force pixel overlap, for grids of any size (14 px vs 16 px patches too)", () => {
    for (const [n, m] of [[16, 14], [14, 16], [16, 32], [32, 16], [7, 3], [3, 7], [5, 5], [1, 9], [9, 1], [13, 17]]) {
      for (let i = 0; i < n; i++) {
        const [lo, hi] = overlapRange(i, n, m);
        const want = bruteRange(i, n, m);
        expect([lo, hi]).toEqual([want[0], want[want.length - 1]]);
        expect(hi - lo + 1).toBe(want.length);
      }
    }
  });
});

describe("mapNodes", () => {
  it("maps a patch to every overlapping patch of the same image at every target resolution", () => {
    const src = layout([[16, 16], [32, 32]]);
    const dst = layout([[14, 14], [28, 28]]);
    for (const [res, image, row, col] of [[0, 1, 5, 9], [1, 0, 31, 0], [0, 0, 0, 15]]) {
      const r = src.resolutions[res];
      const node = r.offset + image * r.h * r.w + row * r.w + col;
      const want = [];
      for (const d of dst.resolutions) {
        for (const y of bruteRange(row, r.h, d.h)) {
          for (const x of bruteRange(col, r.w, d.w)) want.push(d.offset + image * d.h * d.w + y * d.w + x);
        }
      }
      expect(mapNodes([node], src, dst)).toEqual(want.sort((a, b) => a - b));
    }
  });

  it("maps non-square grids by rows and columns separately; unions are sorted and unique", () => {
    const src = layout([[4, 8]], 1);
    const dst = layout([[3, 5]], 1);
    // (1, 0) of the 4x8 grid overlaps rows 0..1 of 3x5 at col 0; (0, 0) overlaps (0, 0) again: once.
    expect(mapNodes([8, 0], src, dst)).toEqual([0, 5]);
    // (0, 1): x in [1/8, 2/8) meets cols 0 and 1 of 5.
    expect(mapNodes([1], src, dst)).toEqual([0, 1]);
    // (3, 7): the last row and column -> (2, 4).
    expect(mapNodes([31], src, dst)).toEqual([14]);
    // (1, 3): rows 0..1 (y in [1/4, 2/4) meets [0, 1/3) and [1/3, 2/3)), cols 1..2.
    expect(mapNodes([11], src, dst)).toEqual([1, 2, 6, 7]);
  });

  it("on identical layouts includes the node itself, and the same region at the other resolution", () => {
    const meta = layout([[2, 2], [4, 4]], 1);
    // Node 3 is (1, 1) at 2x2 -> itself, and rows/cols 2..3 at 4x4 (offset 4).
    expect(mapNodes([3], meta, meta)).toEqual([3, 4 + 10, 4 + 11, 4 + 14, 4 + 15]);
  });

  it("skips ids outside the source layout and gives nothing for no ids", () => {
    const meta = layout([[2, 2]], 1);
    expect(mapNodes([], meta, meta)).toEqual([]);
    expect(mapNodes([99], meta, meta)).toEqual([]);
  });
});
