import { describe, expect, it } from "vitest";
import { MAX_CELL, MIN_CELL, bandLayout, patchAt } from "../gridlayout.js";

const pane = { rows: 3, labelWidth: 36, height: 444 };
const gridWidth = (o, l) => o.labelWidth + l.perBand * (l.cell + 8);

describe("bandLayout", () => {
  it("fits 10 photos into the pane's width (no horizontal scroll)", () => {
    const o = { ...pane, n: 10, aspects: Array(10).fill(4 / 3), width: 604 };
    const l = bandLayout(o);
    expect(gridWidth(o, l)).toBeLessThanOrEqual(o.width);
    expect(l.cell).toBeGreaterThanOrEqual(MIN_CELL);
    expect(l.perBand).toBe(5); // 2 balanced bands, the pane scrolls vertically
  });

  it("keeps a few images in one band with large cells", () => {
    const o = { ...pane, n: 3, aspects: [1, 1.5, 0.75], width: 900, height: 700 };
    expect(bandLayout(o)).toEqual({ perBand: 3, cell: MAX_CELL });
  });

  it("wraps into bands when that gives larger cells that still fit the height", () => {
    const o = { ...pane, n: 6, aspects: Array(6).fill(2), width: 600, height: 700 };
    const l = bandLayout(o);
    expect(l.perBand).toBe(3);
    expect(gridWidth(o, l)).toBeLessThanOrEqual(o.width);
  });

  it("never overflows the width, from narrow to wide panes and few to many images", () => {
    for (const n of [1, 2, 3, 7, 10, 25, 64]) {
      for (const width of [120, 280, 420, 604, 1000, 1600]) {
        const o = { ...pane, n, aspects: Array(n).fill(1.2), width };
        const l = bandLayout(o);
        expect(l.perBand).toBeGreaterThanOrEqual(1);
        if (l.cell > 1) expect(gridWidth(o, l), `${n} images in ${width}px`).toBeLessThanOrEqual(width);
      }
    }
  });

  it("waits for a pane that has a width", () => {
    expect(bandLayout({ ...pane, n: 3, aspects: [1, 1, 1], width: 0 })).toBeNull();
  });
});

describe("patchAt", () => {
  const grid = { h: 16, w: 32 };
  const width = 137;
  const height = 102.75;
  const edge = (col) => (col / grid.w) * width;

  it("maps the exact left edge of a column to that column and just before it to the previous", () => {
    expect(patchAt(grid, width, height, edge(16), 1).col).toBe(16);
    expect(patchAt(grid, width, height, edge(16) - 0.01, 1).col).toBe(15);
    expect(patchAt(grid, width, height, edge(16) + 0.6, 1).col).toBe(16);
  });

  it("clamps the right and bottom edges and outside points into the grid", () => {
    expect(patchAt(grid, width, height, width, height)).toEqual({ row: 15, col: 31 });
    expect(patchAt(grid, width, height, -3, -1)).toEqual({ row: 0, col: 0 });
  });

  it("covers every patch exactly once across the cell", () => {
    const seen = new Set();
    for (let x = 0; x < width; x += 0.25) seen.add(patchAt(grid, width, height, x, 0).col);
    expect([...seen]).toEqual([...Array(grid.w).keys()]);
  });
});
