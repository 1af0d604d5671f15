// Geometry of the image grid, pure so it can be tested without a browser: how many image columns
// each band gets and how wide the cells are (the grid never needs a horizontal scrollbar), and which
// patch lies under a pointer (one mapping for hover and click, so the tooltip names what a click picks).

export const MIN_CELL = 56;
export const MAX_CELL = 200;

/**
 * Picks the columns per band and the cell width for `n` images in a pane.
 *
 * Cells always fit the width: they shrink with the pane, and images wrap into bands (balanced:
 * 10 images in 2 bands are 5 + 5). Preference: the largest cells of at least MIN_CELL whose bands
 * also fit the height; else the fewest bands with cells of at least MIN_CELL (the pane scrolls
 * vertically); else one image per band with whatever width is left.
 * @param {object} o
 * @param {number} o.n images
 * @param {number[]} o.aspects width / height of each image's cells
 * @param {number} o.rows cell rows per band (photo row + one per resolution)
 * @param {number} o.width content width of the pane (CSS px)
 * @param {number} o.height content height of the pane (CSS px)
 * @param {number} o.labelWidth width of the row-label column
 * @param {number} [o.nameHeight] height of a band's image-name row
 * @param {number} [o.colGap]
 * @param {number} [o.rowGap]
 * @returns {{perBand: number, cell: number} | null} null when the pane has no width (not laid out)
 */
export function bandLayout({ n, aspects, rows, width, height, labelWidth, nameHeight = 18, colGap = 8, rowGap = 6 }) {
  if (!(width > 0) || n < 1) return null;
  const flattest = Math.min(...aspects.map((a) => Math.min(2, Math.max(0.5, a || 1))));
  const candidates = [];
  for (let bands = 1; bands <= n; bands++) {
    const perBand = Math.ceil(n / bands);
    if (Math.ceil(n / perBand) !== bands) continue;
    const room = (width - labelWidth - colGap * perBand) / perBand;
    const cell = Math.max(1, Math.floor(Math.min(MAX_CELL, room)));
    const needed = bands * (nameHeight + rows * (cell / flattest)) + (bands * (1 + rows) - 1) * rowGap;
    candidates.push({ perBand, cell, fits: height > 0 && needed <= height });
  }
  const big = candidates.filter((c) => c.cell >= MIN_CELL);
  const fitting = big.filter((c) => c.fits);
  const pick = fitting.length
    ? fitting.reduce((best, c) => (c.cell > best.cell ? c : best))
    : big.length
      ? big[0]
      : candidates[candidates.length - 1];
  return { perBand: pick.perBand, cell: pick.cell };
}

/**
 * The patch under a point of a cell showing an h×w patch grid.
 * @param {{h: number, w: number}} grid
 * @param {number} width the cell's CSS width
 * @param {number} height the cell's CSS height
 * @param {number} x from the cell's left edge, CSS px (fractional allowed)
 * @param {number} y from the cell's top edge
 * @returns {{row: number, col: number}} clamped into the grid
 */
export function patchAt(grid, width, height, x, y) {
  const col = Math.min(grid.w - 1, Math.max(0, Math.floor((x / width) * grid.w)));
  const row = Math.min(grid.h - 1, Math.max(0, Math.floor((y / height) * grid.h)));
  return { row, col };
}

/** Images the grid shows at once: more (a map grown by add_images) are paged, so a click repaints one page. */
export const PAGE_SIZE = 48;

/**
 * The images of one page of the grid.
 * @param {number} n images in all
 * @param {number} page wanted page (clamped into range)
 * @param {number} [size]
 * @returns {{page: number, pages: number, first: number, end: number}} images first..end-1
 */
export function pageRange(n, page, size = PAGE_SIZE) {
  const pages = Math.max(1, Math.ceil(n / size));
  const p = Math.min(Math.max(0, Math.floor(page) || 0), pages - 1);
  return { page: p, pages, first: p * size, end: Math.min(n, (p + 1) * size) };
}

/**
 * The page that shows `image`.
 * @param {number} image
 * @param {number} [size]
 */
export function pageOf(image, size = PAGE_SIZE) {
  return Math.floor(image / size);
}
