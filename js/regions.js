// Region selection, pure so the browser tests can recompute it: the patches a rectangle drawn on a
// colormap encloses, the points a lasso drawn on the 3D view encloses, and how a region combines
// with the current selection (replace, Shift adds, Alt removes).

/**
 * Patches of an h×w grid whose centres lie inside a rectangle drawn on a cell of `width`×`height` CSS px.
 * @param {{h: number, w: number}} grid
 * @param {number} width
 * @param {number} height
 * @param {number} x0 one corner, from the cell's left edge (any order, any sign)
 * @param {number} y0
 * @param {number} x1 the opposite corner
 * @param {number} y1
 * @returns {{row: number, col: number}[]} row-major
 */
export function patchesInRect(grid, width, height, x0, y0, x1, y1) {
  const [left, right] = x0 <= x1 ? [x0, x1] : [x1, x0];
  const [top, bottom] = y0 <= y1 ? [y0, y1] : [y1, y0];
  // Centre of col c: (c + 0.5) / w * width; inside when left <= centre <= right.
  const c0 = Math.max(0, Math.ceil((left / width) * grid.w - 0.5));
  const c1 = Math.min(grid.w - 1, Math.floor((right / width) * grid.w - 0.5));
  const r0 = Math.max(0, Math.ceil((top / height) * grid.h - 0.5));
  const r1 = Math.min(grid.h - 1, Math.floor((bottom / height) * grid.h - 0.5));
  const out = [];
  for (let row = r0; row <= r1; row++) for (let col = c0; col <= c1; col++) out.push({ row, col });
  return out;
}

/**
 * Even-odd test of a point against a polygon.
 * @param {number} x
 * @param {number} y
 * @param {number[][]} polygon [[x, y], ...], implicitly closed
 * @returns {boolean}
 */
export function pointInPolygon(x, y, polygon) {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i];
    const [xj, yj] = polygon[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/**
 * Points whose projection (js/picking.js projectPoint: column-major view-projection `m`, canvas
 * CSS size) falls inside a screen-space polygon; points behind the camera never do.
 * @param {Float32Array} positions N*3
 * @param {ArrayLike<number>} m
 * @param {number} width
 * @param {number} height
 * @param {number[][]} polygon CSS px from the canvas's top-left
 * @returns {number[]} ascending node ids
 */
export function nodesInPolygon(positions, m, width, height, polygon) {
  if (polygon.length < 3) return [];
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const [x, y] of polygon) {
    minX = Math.min(minX, x);
    maxX = Math.max(maxX, x);
    minY = Math.min(minY, y);
    maxY = Math.max(maxY, y);
  }
  const out = [];
  for (let i = 0, o = 0; o < positions.length; i++, o += 3) {
    const x = positions[o], y = positions[o + 1], z = positions[o + 2];
    const w = m[3] * x + m[7] * y + m[11] * z + m[15];
    if (w <= 0) continue;
    const px = (((m[0] * x + m[4] * y + m[8] * z + m[12]) / w + 1) / 2) * width;
    const py = ((1 - (m[1] * x + m[5] * y + m[9] * z + m[13]) / w) / 2) * height;
    // The bounding box first: most points of a small lasso fail it cheaply.
    if (px < minX || px > maxX || py < minY || py > maxY) continue;
    if (pointInPolygon(px, py, polygon)) out.push(i);
  }
  return out;
}

/**
 * The selection after a region: replaces it, or with Shift adds to it, or with Alt removes from it.
 * @param {number[]} selected
 * @param {number[]} nodes the region's nodes
 * @param {{shiftKey?: boolean, altKey?: boolean}} e
 * @returns {number[]}
 */
export function combineRegion(selected, nodes, e) {
  if (e.altKey) {
    const drop = new Set(nodes);
    return selected.filter((s) => !drop.has(s));
  }
  if (e.shiftKey) return [...new Set([...selected, ...nodes])];
  return [...nodes];
}
