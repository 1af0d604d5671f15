// The colour a node shows when it is not highlighted, for the 3D view (shader uniforms) and the image
// grid alike, so both views dim the same way. Dimming toward the background (as before) made dark
// colours (the heatmap's near-black low end, dark RGB colours) vanish on a dark theme; instead every
// dimmed colour mixes toward a grey picked from the background's luminance so that, whatever the
// colour, the result keeps at least MIN_DIM_CONTRAST against the background. Pure: no DOM.

/** How far a dimmed colour moves toward the dim grey (0 = unchanged, 1 = the grey itself). */
export const DIM_AMOUNT = 0.75;
/** The least WCAG contrast ratio a dimmed colour keeps against the background, for every colour. */
export const MIN_DIM_CONTRAST = 2;
// The grey is solved for a little more than the stated minimum, so 8-bit rounding (here and on the
// GPU) never takes a colour under it.
const SOLVE_CONTRAST = 2.2;

function toLinear(byte) {
  const c = byte / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

function fromLinear(lin) {
  const c = lin <= 0.0031308 ? lin * 12.92 : 1.055 * lin ** (1 / 2.4) - 0.055;
  return Math.min(255, Math.max(0, c * 255));
}

/**
 * WCAG relative luminance of an sRGB colour.
 * @param {ArrayLike<number>} rgb bytes 0..255
 * @returns {number} 0..1
 */
export function luminance(rgb) {
  return 0.2126 * toLinear(rgb[0]) + 0.7152 * toLinear(rgb[1]) + 0.0722 * toLinear(rgb[2]);
}

/**
 * WCAG contrast ratio of two sRGB colours, 1..21.
 * @param {ArrayLike<number>} a
 * @param {ArrayLike<number>} b
 * @returns {number}
 */
export function contrastRatio(a, b) {
  const la = luminance(a);
  const lb = luminance(b);
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

/**
 * The grey (one byte value, for r = g = b) dimmed colours mix toward on this background: lighter
 * than a dark background, darker than a light one. Mixing is per channel and monotonic, so the worst
 * case is black on a dark background (the mix is then DIM_AMOUNT * grey) and white on a light one;
 * the grey is solved so that even that case keeps the contrast.
 * @param {ArrayLike<number>} bg background bytes
 * @returns {number} 0..255
 */
export function dimGrey(bg) {
  const lb = luminance(bg);
  const a = DIM_AMOUNT;
  const lighter = 1.05 / (lb + 0.05) >= (lb + 0.05) / 0.05; // more room above the background than below
  if (lighter) {
    const need = Math.min(1, SOLVE_CONTRAST * (lb + 0.05) - 0.05);
    return Math.min(255, fromLinear(need) / a);
  }
  const need = Math.max(0, (lb + 0.05) / SOLVE_CONTRAST - 0.05);
  return Math.max(0, (fromLinear(need) - 255 * (1 - a)) / a);
}

/**
 * The dimming both views apply: `dimmed = rgb + (grey - rgb) * amount` per channel.
 * @param {ArrayLike<number>} bg background bytes
 * @returns {{grey: number, amount: number}} grey as a byte value
 */
export function dimParams(bg) {
  return { grey: dimGrey(bg), amount: DIM_AMOUNT };
}

/**
 * A colour as it shows when not highlighted, on this background.
 * @param {ArrayLike<number>} rgb bytes
 * @param {{grey: number, amount: number}} params from dimParams(background)
 * @returns {number[]} bytes (not rounded)
 */
export function dimColor(rgb, params) {
  const { grey, amount } = params;
  return [rgb[0] + (grey - rgb[0]) * amount, rgb[1] + (grey - rgb[1]) * amount, rgb[2] + (grey - rgb[2]) * amount];
}

/**
 * Parses a CSS colour as getComputedStyle gives it (`rgb(…)` / `rgba(…)`, commas or spaces).
 * @param {string} css
 * @param {number[]} [fallback] when the string is not an rgb() colour or is fully transparent
 * @returns {number[]} bytes
 */
export function parseCssRgb(css, fallback = [255, 255, 255]) {
  const m = /rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)(?:\s*[,/]\s*([\d.]+%?))?/.exec(css || "");
  if (!m) return fallback;
  if (m[4] !== undefined && parseFloat(m[4]) === 0) return fallback;
  return [+m[1], +m[2], +m[3]];
}
