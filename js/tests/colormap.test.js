import { describe, expect, it } from "vitest";
import { HEAT_LUT, heatGradientCss, heatIndex, heatT } from "../colormap.js";

describe("heatmap", () => {
  it("clamps similarity to the heatmap range", () => {
    expect(heatIndex(-0.7)).toBe(0);
    expect(heatIndex(0)).toBe(0);
    expect(heatIndex(1)).toBe(255);
    expect(heatIndex(3)).toBe(255);
    expect(heatT(0.25)).toBeCloseTo(0.25);
  });

  it("runs from dark through bright blue-green-yellow to dark red", () => {
    const rgb = (i) => [...HEAT_LUT.subarray(i * 3, i * 3 + 3)];
    const brightness = (c) => c[0] + c[1] + c[2];
    expect(brightness(rgb(0))).toBeLessThan(120);
    expect(rgb(64)[2]).toBeGreaterThan(rgb(64)[0]); // blue-cyan in the low range
    expect(rgb(192)[0]).toBeGreaterThan(rgb(192)[2]); // orange in the high range
    const [r1, g1, b1] = rgb(255);
    expect(r1).toBeGreaterThan(g1 + b1);
    expect(brightness(rgb(128))).toBeGreaterThan(brightness(rgb(0)));
    expect(brightness(rgb(128))).toBeGreaterThan(brightness(rgb(255)));
  });

  it("describes the same ramp as a CSS gradient", () => {
    const css = heatGradientCss();
    expect(css.startsWith("linear-gradient(to right")).toBe(true);
    expect(css).toContain(`rgb(${HEAT_LUT[0]},${HEAT_LUT[1]},${HEAT_LUT[2]}) 0%`);
    expect(css).toContain(`rgb(${HEAT_LUT[765]},${HEAT_LUT[766]},${HEAT_LUT[767]}) 100%`);
  });
});
