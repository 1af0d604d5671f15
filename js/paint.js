// Painting one resolution of one image: the patch colours (RGB, segment or heatmap, dimmed where not
// highlighted), the heat overlay of a photo, and the mark of a selected patch. Shared by the image
// grid and the focus view so both show the same pixels for the same node.
import { HEAT_LUT, HEAT_MAX, HEAT_MIN } from "./colormap.js";
import { nodeId } from "./layout.js";

// The loops below run once per node on every redraw (a million nodes per click), so they write one
// packed RGBA word per patch (Uint32 views; the words are built from bytes, so byte order is the
// platform's either way), and heatIndex / heatT of js/colormap.js are inlined.
const HEAT_SPAN = HEAT_MAX - HEAT_MIN;

/** Packs (r, g, b, a) byte quadruples into words: `fill(bytes)` writes 4 bytes per entry. */
function packed(count, fill) {
  const words = new Uint32Array(count);
  fill(new Uint8ClampedArray(words.buffer));
  return words;
}

// Heatmap colours, opaque, by heat index.
const HEAT_RGBA = packed(256, (b) => {
  for (let i = 0; i < 256; i++) b.set([HEAT_LUT[i * 3], HEAT_LUT[i * 3 + 1], HEAT_LUT[i * 3 + 2], 255], i * 4);
});

// Photo overlay by heat index + 256 * highlighted: the heat colour with alpha 90 * t (not
// highlighted, entries 0-255) or 150 (highlighted, 256-511).
const OVERLAY = packed(512, (b) => {
  for (let i = 0; i < 256; i++) {
    b.set([HEAT_LUT[i * 3], HEAT_LUT[i * 3 + 1], HEAT_LUT[i * 3 + 2], (90 * i) / 255], i * 4);
    b.set([HEAT_LUT[i * 3], HEAT_LUT[i * 3 + 1], HEAT_LUT[i * 3 + 2], 150], (256 + i) * 4);
  }
});

/**
 * heatIndex of js/colormap.js, `round(255 * clamp(t, 0, 1))`, clamped in integers: with
 * spatially noisy scores the two float compares mispredicted often enough to double the loop
 * (7.3 -> 3.6 ms a million in V8). Equal for every score with |t * 255| < 2^31 (and NaN -> 0).
 */
function heatIdx(s) {
  let i = (((s - HEAT_MIN) / HEAT_SPAN) * 255 + 0.5) | 0;
  i &= ~(i >> 31); // negative -> 0
  return (i | ((255 - i) >> 31)) & 255; // above 255 -> 255
}

// colors array -> its nodes as words, plain and dimmed (one pass per colours and dim, not per click).
const packedCache = new WeakMap();
function packedColors(colors, dim) {
  const hit = packedCache.get(colors);
  if (hit && hit.grey === dim.grey && hit.amount === dim.amount) return hit;
  const n = colors.length / 3;
  const base = packed(n, (b) => {
    for (let i = 0; i < n; i++) {
      b[i * 4] = colors[i * 3];
      b[i * 4 + 1] = colors[i * 3 + 1];
      b[i * 4 + 2] = colors[i * 3 + 2];
      b[i * 4 + 3] = 255;
    }
  });
  // dimColor of js/contrast.js, rounded as a Uint8ClampedArray store rounds it.
  const dimmed = packed(n, (b) => {
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < 3; c++) {
        const v = colors[i * 3 + c];
        b[i * 4 + c] = v + (dim.grey - v) * dim.amount;
      }
      b[i * 4 + 3] = 255;
    }
  });
  const entry = { grey: dim.grey, amount: dim.amount, base, dimmed };
  packedCache.set(colors, entry);
  return entry;
}

/**
 * Fills an h*w RGBA buffer with the colors one resolution of one image shows.
 * @param {Uint8ClampedArray} px output, h*w*4 (its byteOffset a multiple of 4, as ImageData's is)
 * @param {object} store
 * @param {object} res a meta.resolutions entry
 * @param {number} image
 * @param {{grey: number, amount: number}} dim how non-highlighted patches dim (js/contrast.js, as in 3D)
 */
export function paintPatches(px, store, res, image, dim) {
  const sim = store.sim;
  const start = nodeId(res, image, 0, 0);
  const count = res.h * res.w;
  const out = new Uint32Array(px.buffer, px.byteOffset, count);
  if (sim && store.colorMode === "similarity") {
    for (let p = 0; p < count; p++) out[p] = HEAT_RGBA[heatIdx(sim[start + p])];
    return;
  }
  // RGB, or each segment's mean RGB in Segments mode; dimmed where not highlighted.
  const { base, dimmed } = packedColors(store.baseColors, dim);
  if (!sim) {
    out.set(base.subarray(start, start + count));
    return;
  }
  const threshold = store.threshold;
  for (let p = 0; p < count; p++) {
    const node = start + p;
    out[p] = sim[node] < threshold ? dimmed[node] : base[node];
  }
}

/**
 * Writes a segment mask's pixels: `inside` RGBA where `mask` is set, `outside` elsewhere (the
 * hierarchy strip's masks: a few hundred thousand pixels per click at a million nodes).
 * @param {Uint8ClampedArray} px RGBA pixels, 4 per mask entry (an ImageData's `data`)
 * @param {Uint8Array} mask 1 inside the segment
 * @param {ArrayLike<number>} inside RGBA bytes
 * @param {ArrayLike<number>} outside RGBA bytes
 */
export function paintMask(px, mask, inside, outside) {
  const [on, off] = packed(2, (b) => b.set([...Array.from(inside), ...Array.from(outside)]));
  const out = new Uint32Array(px.buffer, px.byteOffset, mask.length);
  for (let p = 0; p < mask.length; p++) out[p] = mask[p] ? on : off;
}

/** Heat overlay for a photo: transparent where dissimilar, opaque where highlighted (alpha 90 * t of the
 * heat index's t below the threshold, within 1/255 of 90 * t itself). */
export function paintOverlay(px, store, res, image) {
  const sim = store.sim;
  const threshold = store.threshold;
  const start = nodeId(res, image, 0, 0);
  const count = res.h * res.w;
  const out = new Uint32Array(px.buffer, px.byteOffset, count);
  for (let p = 0; p < count; p++) {
    const s = sim[start + p];
    out[p] = OVERLAY[heatIdx(s) | ((s >= threshold) << 8)];
  }
}

export function markPatch(ctx, x, y, w, h, negative = false) {
  // Dark under light: the mark reads on any colour. Negatives are dashed red.
  ctx.setLineDash(negative ? [3, 2] : []);
  ctx.lineWidth = 3;
  ctx.strokeStyle = "rgba(0,0,0,0.85)";
  ctx.strokeRect(x, y, w, h);
  ctx.lineWidth = 1.5;
  ctx.strokeStyle = negative ? "#ff4d4f" : "#fff";
  ctx.strokeRect(x, y, w, h);
  ctx.setLineDash([]);
}


/**
 * Strokes segment borders (js/segments.js segmentEdges, grid units) scaled to a cell of cw x ch px:
 * dark under light, so they read on any colour.
 */
export function drawBorders(ctx, edges, sx, sy) {
  if (!edges.length) return;
  ctx.beginPath();
  for (let i = 0; i < edges.length; i += 4) {
    ctx.moveTo(edges[i] * sx, edges[i + 1] * sy);
    ctx.lineTo(edges[i + 2] * sx, edges[i + 3] * sy);
  }
  ctx.setLineDash([]);
  ctx.lineWidth = 2;
  ctx.strokeStyle = "rgba(0,0,0,0.7)";
  ctx.stroke();
  ctx.lineWidth = 1;
  ctx.strokeStyle = "rgba(255,255,255,0.85)";
  ctx.stroke();
}
