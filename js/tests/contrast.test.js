import { describe, expect, it } from "vitest";
import { HEAT_LUT } from "../colormap.js";
import { MIN_DIM_CONTRAST, contrastRatio, dimColor, dimParams, luminance, parseCssRgb } from "../contrast.js";
import { rng } from "./helpers.js";

// Light and dark theme backgrounds (JupyterLab light/dark, the exported page's fallbacks), black,
// white and the greys in between where the dimming flips from lighter to darker.
const BACKGROUNDS = [
  [255, 255, 255],
  [17, 17, 17],
  [22, 24, 28],
  [0, 0, 0],
  [243, 245, 247],
  [119, 119, 119],
  [110, 110, 110],
  [128, 128, 128],
  [60, 70, 90],
  [200, 180, 160],
];

const heat = (i) => [HEAT_LUT[i * 3], HEAT_LUT[i * 3 + 1], HEAT_LUT[i * 3 + 2]];
const round = (c) => c.map(Math.round);

describe("luminance / contrastRatio", () => {
  it("match the WCAG definition at the extremes", () => {
    expect(luminance([0, 0, 0])).toBe(0);
    expect(luminance([255, 255, 255])).toBeCloseTo(1, 10);
    expect(contrastRatio([0, 0, 0], [255, 255, 255])).toBeCloseTo(21, 6);
    expect(contrastRatio([118, 118, 118], [255, 255, 255])).toBeCloseTo(4.54, 2);
  });
});

describe("dimColor", () => {
  it("keeps every similarity value's heat colour visible on every background", () => {
    for (const bg of BACKGROUNDS) {
      const params = dimParams(bg);
      for (let i = 0; i < 256; i++) {
        const c = round(dimColor(heat(i), params));
        expect(contrastRatio(c, bg), `heat ${i} on rgb(${bg})`).toBeGreaterThanOrEqual(MIN_DIM_CONTRAST);
      }
    }
  });

  it("keeps any RGB colour visible, the worst cases (black, white, the background itself) included", () => {
    const rand = rng(3);
    const colors = [[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]];
    for (let i = 0; i < 500; i++) colors.push([rand() * 255, rand() * 255, rand() * 255].map(Math.round));
    for (const bg of BACKGROUNDS) {
      const params = dimParams(bg);
      for (const c of [...colors, bg]) {
        expect(contrastRatio(round(dimColor(c, params)), bg), `rgb(${c}) on rgb(${bg})`).toBeGreaterThanOrEqual(
          MIN_DIM_CONTRAST,
        );
      }
    }
  });

  it("dims toward a lighter grey on a dark background and a darker one on a light background", () => {
    const dark = dimParams([17, 17, 17]).grey;
    const light = dimParams([255, 255, 255]).grey;
    expect(dark).toBeGreaterThan(17);
    expect(light).toBeLessThan(255);
    // The heatmap's near-black low end no longer dims to near-black on the dark theme.
    expect(luminance(dimColor(heat(0), dimParams([17, 17, 17])))).toBeGreaterThan(luminance([17, 17, 17]) * 3);
  });

  it("leaves a hue: different colours stay different once dimmed", () => {
    const params = dimParams([255, 255, 255]);
    const red = dimColor([255, 0, 0], params);
    const blue = dimColor([0, 0, 255], params);
    expect(red[0] - red[2]).toBeGreaterThan(40);
    expect(blue[2] - blue[0]).toBeGreaterThan(40);
  });
});

describe("parseCssRgb", () => {
  it("reads computed colours and falls back on transparent or unknown ones", () => {
    expect(parseCssRgb("rgb(17, 17, 17)")).toEqual([17, 17, 17]);
    expect(parseCssRgb("rgba(1, 2, 3, 0.5)")).toEqual([1, 2, 3]);
    expect(parseCssRgb("rgb(1 2 3 / 1)")).toEqual([1, 2, 3]);
    expect(parseCssRgb("rgba(0, 0, 0, 0)", [9, 9, 9])).toEqual([9, 9, 9]);
    expect(parseCssRgb("", [9, 9, 9])).toEqual([9, 9, 9]);
  });
});
