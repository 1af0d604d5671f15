import { describe, expect, it } from "vitest";
import { HEAT_LUT, heatIndex, heatT } from "../colormap.js";
import { paintMask, paintOverlay, paintPatches } from "../paint.js";
import { rng } from "./helpers.js";

// The per-pixel definitions (docs: js/colormap.js heat colours, js/contrast.js dimming), written
// plainly into a Uint8ClampedArray, as the packed loops must reproduce them byte for byte.
function reference(store, res, image, dim) {
  const start = res.offset + image * res.h * res.w;
  const count = res.h * res.w;
  const px = new Uint8ClampedArray(count * 4);
  for (let p = 0; p < count; p++) {
    const node = start + p;
    let rgb;
    if (store.sim && store.colorMode === "similarity") {
      const o = heatIndex(store.sim[node]) * 3;
      rgb = [HEAT_LUT[o], HEAT_LUT[o + 1], HEAT_LUT[o + 2]];
    } else {
      rgb = [0, 1, 2].map((c) => store.baseColors[node * 3 + c]);
      if (store.sim && store.sim[node] < store.threshold) rgb = rgb.map((v) => v + (dim.grey - v) * dim.amount);
    }
    px.set([...rgb, 255], p * 4);
  }
  return px;
}

describe("paintPatches and paintOverlay", () => {
  const rand = rng(4);
  const res = { offset: 24, h: 5, w: 7 };
  const n = res.offset + 3 * res.h * res.w;
  const baseColors = Uint8Array.from({ length: n * 3 }, () => Math.floor(rand() * 256));
  const sim = Float32Array.from({ length: n }, () => rand() * 2.4 - 1.2);
  sim[30] = -2; // a suppressed node
  const dim = { grey: 128, amount: 0.55 };

  it.each([
    ["rgb, no selection", { colorMode: "rgb", sim: null }],
    ["rgb, dimmed where not highlighted", { colorMode: "rgb", sim }],
    ["segments, dimmed", { colorMode: "segments", sim }],
    ["similarity heatmap", { colorMode: "similarity", sim }],
  ])("%s: byte for byte the per-pixel definition", (_, mode) => {
    const store = { baseColors, threshold: 0.35, ...mode };
    for (const image of [0, 2]) {
      const px = new Uint8ClampedArray(res.h * res.w * 4);
      paintPatches(px, store, res, image, dim);
      expect([...px]).toEqual([...reference(store, res, image, dim)]);
    }
  });

  it("maps scores at and past the heat range's edges to the heat index's colour", () => {
    // Each rounding boundary, both clamps and far outside them: the integer clamp of the packed
    // loop equals heatIndex's float clamp on every one.
    const edges = [0, 1, -1e-9, 1 + 1e-9, 0.5 / 255, 0.5 / 255 - 1e-9, 254.5 / 255, 254.5 / 255 + 1e-7, -2, 3, 1e6, -1e6];
    for (let i = 0; i <= 255; i++) edges.push((i + 0.5) / 255, (i + 0.5) / 255 - 1e-7, i / 255);
    const edgeRes = { offset: 0, h: 1, w: edges.length };
    const store = { colorMode: "similarity", sim: Float32Array.from(edges), threshold: 0.5, baseColors: new Uint8Array(edges.length * 3) };
    const px = new Uint8ClampedArray(edges.length * 4);
    paintPatches(px, store, edgeRes, 0, dim);
    expect([...px]).toEqual([...reference(store, edgeRes, 0, dim)]);
    paintOverlay(px, store, edgeRes, 0);
    store.sim.forEach((s, p) => {
      const o = heatIndex(s) * 3;
      expect([...px.subarray(p * 4, p * 4 + 3)]).toEqual([HEAT_LUT[o], HEAT_LUT[o + 1], HEAT_LUT[o + 2]]);
    });
  });

  it("follows a new dim (theme) with the same colours", () => {
    const store = { baseColors, threshold: 0.35, colorMode: "rgb", sim };
    const px = new Uint8ClampedArray(res.h * res.w * 4);
    paintPatches(px, store, res, 1, dim);
    const dark = { grey: 40, amount: 0.7 };
    paintPatches(px, store, res, 1, dark);
    expect([...px]).toEqual([...reference(store, res, 1, dark)]);
  });

  it("overlays the heat colour, opaque-ish where highlighted", () => {
    const store = { threshold: 0.35, sim };
    const px = new Uint8ClampedArray(res.h * res.w * 4);
    paintOverlay(px, store, res, 1);
    const start = res.offset + res.h * res.w;
    for (let p = 0; p < res.h * res.w; p++) {
      const s = sim[start + p];
      const o = heatIndex(s) * 3;
      expect([...px.subarray(p * 4, p * 4 + 3)]).toEqual([HEAT_LUT[o], HEAT_LUT[o + 1], HEAT_LUT[o + 2]]);
      if (s >= 0.35) expect(px[p * 4 + 3]).toBe(150);
      else expect(Math.abs(px[p * 4 + 3] - 90 * heatT(s))).toBeLessThanOrEqual(1);
    }
  });
});

describe("paintMask", () => {
  it("writes the inside colour on the mask and the outside colour elsewhere, byte for byte", () => {
    const rand = rng(9);
    const mask = Uint8Array.from({ length: 37 }, () => (rand() < 0.4 ? 1 : 0));
    const inside = [200, 17, 3, 255];
    const outside = [128, 128, 128, 60];
    // An ImageData-like buffer that starts mid-buffer (byteOffset 8) and holds stale bytes.
    const px = new Uint8ClampedArray(new ArrayBuffer(8 + mask.length * 4), 8).fill(7);
    paintMask(px, mask, inside, outside);
    const want = [...mask].flatMap((m) => (m ? inside : outside));
    expect([...px]).toEqual(want);
  });
});
