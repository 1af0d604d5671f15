import { describe, expect, it } from "vitest";
import { projectPoint } from "../picking.js";
import { combineRegion, nodesInPolygon, patchesInRect, pointInPolygon } from "../regions.js";

describe("patchesInRect", () => {
  it("takes exactly the patches whose centres are inside, corners in any order", () => {
    const grid = { h: 4, w: 5 };
    // Cell 100×80: col centres at 10, 30, 50, 70, 90; row centres at 10, 30, 50, 70.
    const got = patchesInRect(grid, 100, 80, 55, 35, 25, 5);
    expect(got).toEqual([
      { row: 0, col: 1 },
      { row: 0, col: 2 },
      { row: 1, col: 1 },
      { row: 1, col: 2 },
    ]);
    expect(patchesInRect(grid, 100, 80, 11, 11, 29, 29)).toEqual([]);
    expect(patchesInRect(grid, 100, 80, -50, -50, 500, 500).length).toBe(20);
  });
});

describe("lasso", () => {
  it("pointInPolygon is even-odd", () => {
    const square = [[0, 0], [10, 0], [10, 10], [0, 10]];
    expect(pointInPolygon(5, 5, square)).toBe(true);
    expect(pointInPolygon(15, 5, square)).toBe(false);
    const ring = [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0], [3, 3], [3, 7], [7, 7], [7, 3], [3, 3]];
    expect(pointInPolygon(5, 5, ring)).toBe(false);
  });

  it("nodesInPolygon takes the points whose projection is inside", () => {
    // An orthographic-like matrix: x, y map straight to NDC.
    const m = [0.1, 0, 0, 0, 0, 0.1, 0, 0, 0, 0, 0.1, 0, 0, 0, 0, 1];
    const positions = Float32Array.from([0, 0, 0, 5, 5, 0, -5, -5, 0, 9, -9, 0]);
    const polygon = [[45, 20], [90, 20], [90, 55], [45, 55]];
    const got = nodesInPolygon(positions, m, 100, 100, polygon);
    const expected = [];
    for (let i = 0; i < 4; i++) {
      const [px, py] = projectPoint(m, positions[i * 3], positions[i * 3 + 1], positions[i * 3 + 2], 100, 100);
      if (pointInPolygon(px, py, polygon)) expected.push(i);
    }
    expect(got).toEqual(expected);
    expect(got).toEqual([0, 1]);
  });
});

describe("combineRegion", () => {
  it("replaces, adds with Shift, removes with Alt", () => {
    expect(combineRegion([1, 2], [3], {})).toEqual([3]);
    expect(combineRegion([1, 2], [2, 3], { shiftKey: true })).toEqual([1, 2, 3]);
    expect(combineRegion([1, 2, 3], [2, 9], { altKey: true })).toEqual([1, 3]);
  });
});
