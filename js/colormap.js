// The heatmap used for similarity everywhere (canvases, the 3D view's lookup texture, the legend),
// so one similarity value shows one color in every view.

// Polynomial fit of Google's Turbo colormap (Mikhailov 2019, Apache-2.0).
const R = [0.13572138, 4.6153926, -42.66032258, 132.13108234, -152.94239396, 59.28637943];
const G = [0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604];
const B = [0.1066733, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973];

function poly(c, t) {
  return c[0] + t * (c[1] + t * (c[2] + t * (c[3] + t * (c[4] + t * c[5]))));
}

/** Similarity range the heatmap spans; values below clamp to its first color. */
export const HEAT_MIN = 0;
export const HEAT_MAX = 1;

/** 256 × RGB bytes of the heatmap, low to high. */
export const HEAT_LUT = (() => {
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = i / 255;
    lut[i * 3] = Math.round(255 * Math.min(1, Math.max(0, poly(R, t))));
    lut[i * 3 + 1] = Math.round(255 * Math.min(1, Math.max(0, poly(G, t))));
    lut[i * 3 + 2] = Math.round(255 * Math.min(1, Math.max(0, poly(B, t))));
  }
  return lut;
})();

/**
 * Position of a similarity value on the heatmap, 0..1.
 * @param {number} sim
 * @returns {number}
 */
export function heatT(sim) {
  const t = (sim - HEAT_MIN) / (HEAT_MAX - HEAT_MIN);
  return t < 0 ? 0 : t > 1 ? 1 : t;
}

/**
 * Index into HEAT_LUT (times 3 gives the byte offset) for a similarity value.
 * @param {number} sim
 * @returns {number} 0..255
 */
export function heatIndex(sim) {
  return Math.round(heatT(sim) * 255);
}

/**
 * CSS linear-gradient of the heatmap, for the legend.
 * @returns {string}
 */
export function heatGradientCss() {
  const stops = [];
  for (let i = 0; i <= 8; i++) {
    const o = Math.round((i / 8) * 255) * 3;
    stops.push(`rgb(${HEAT_LUT[o]},${HEAT_LUT[o + 1]},${HEAT_LUT[o + 2]}) ${(i / 8) * 100}%`);
  }
  return `linear-gradient(to right, ${stops.join(", ")})`;
}
