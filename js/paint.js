// Painting one resolution of one image: the patch colours (RGB, segment or heatmap, dimmed where not
// highlighted), the heat overlay of a photo, and the mark of a selected patch. Shared by the image
// grid and the focus view so both show the same pixels for the same node.
import { HEAT_LUT, heatIndex, heatT } from "./colormap.js";
import { nodeId } from "./layout.js";

/**
 * Fills an h*w RGBA buffer with the colors one resolution of one image shows.
 * @param {Uint8ClampedArray} px output, h*w*4
 * @param {object} store
 * @param {object} res a meta.resolutions entry
 * @param {number} image
 * @param {{grey: number, amount: number}} dim how non-highlighted patches dim (js/contrast.js, as in 3D)
 */
export function paintPatches(px, store, res, image, dim) {
  const colors = store.baseColors; // RGB, or each segment's mean RGB in Segments mode
  const sim = store.sim;
  const heat = sim && store.colorMode === "similarity";
  const threshold = store.threshold;
  const start = nodeId(res, image, 0, 0);
  const count = res.h * res.w;
  for (let p = 0; p < count; p++) {
    const node = start + p;
    let r, g, b;
    if (heat) {
      const o = heatIndex(sim[node]) * 3;
      r = HEAT_LUT[o];
      g = HEAT_LUT[o + 1];
      b = HEAT_LUT[o + 2];
    } else {
      r = colors[node * 3];
      g = colors[node * 3 + 1];
      b = colors[node * 3 + 2];
      if (sim && sim[node] < threshold) {
        // dimColor of js/contrast.js, inlined: this loop runs once per node on every redraw.
        r += (dim.grey - r) * dim.amount;
        g += (dim.grey - g) * dim.amount;
        b += (dim.grey - b) * dim.amount;
      }
    }
    px[p * 4] = r;
    px[p * 4 + 1] = g;
    px[p * 4 + 2] = b;
    px[p * 4 + 3] = 255;
  }
}

/** Heat overlay for a photo: transparent where dissimilar, opaque where highlighted. */
export function paintOverlay(px, store, res, image) {
  const sim = store.sim;
  const threshold = store.threshold;
  const start = nodeId(res, image, 0, 0);
  const count = res.h * res.w;
  for (let p = 0; p < count; p++) {
    const s = sim[start + p];
    const o = heatIndex(s) * 3;
    px[p * 4] = HEAT_LUT[o];
    px[p * 4 + 1] = HEAT_LUT[o + 1];
    px[p * 4 + 2] = HEAT_LUT[o + 2];
    px[p * 4 + 3] = s >= threshold ? 150 : 90 * heatT(s);
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

