import { describe, expect, it } from "vitest";
import { focusCellSize, MIN_PATCH_PX } from "../focusview.js";

describe("focusCellSize", () => {
  it("fills the width when that already gives every finest patch MIN_PATCH_PX", () => {
    expect(focusCellSize({ h: 16, w: 16 }, 1, 2, 800)).toEqual({ width: 394, height: 394 });
  });

  it("never lets a finest patch shrink under MIN_PATCH_PX, whatever the aspect", () => {
    for (const aspect of [0.3, 0.5, 1, 1.5, 3]) {
      for (const finest of [{ h: 32, w: 32 }, { h: 20, w: 40 }, { h: 64, w: 48 }]) {
        const { width, height } = focusCellSize(finest, aspect, 3, 300);
        expect(width / finest.w).toBeGreaterThanOrEqual(MIN_PATCH_PX);
        expect(height / finest.h).toBeGreaterThanOrEqual(MIN_PATCH_PX);
      }
    }
  });
});
