// Pixel-region mapping between two widgets on the same images (mirror of ncut_widget/widget/links.py
// map_nodes, tested against the same brute-force overlap). A patch (row y, col x) of an h x w grid
// covers [y/h, (y+1)/h) x [x/w, (x+1)/w) of its image: images are resized to the full input (no
// crop) and the grid tiles it evenly, so patches of any size or grid compare by these boxes.
import { nodeId, nodeInfo } from "./layout.js";

/**
 * Cells of an m-cell axis overlapping cell `index` of an n-cell axis: floor(i*m/n) .. ceil((i+1)*m/n) - 1.
 * Integer arithmetic, exact for any grid sizes.
 * @returns {[number, number]} first and last cell, inclusive
 */
export function overlapRange(index, n, m) {
  return [Math.floor((index * m) / n), Math.ceil(((index + 1) * m) / n) - 1];
}

/**
 * The target nodes whose pixel boxes overlap those of `ids` in the source, at every target
 * resolution, sorted ascending and unique. Nodes outside the source layout are skipped.
 * @param {number[]} ids source node ids
 * @param {object} source the source model's `meta` (images, resolutions)
 * @param {object} target the target model's `meta`
 * @returns {number[]}
 */
export function mapNodes(ids, source, target) {
  const out = new Set();
  for (const node of ids) {
    const info = nodeInfo(source, node);
    if (!info || info.image >= target.images.length) continue;
    const src = source.resolutions[info.res];
    for (const dst of target.resolutions) {
      const base = nodeId(dst, info.image, 0, 0); // through the blocks of a grown map
      const [r0, r1] = overlapRange(info.row, src.h, dst.h);
      const [c0, c1] = overlapRange(info.col, src.w, dst.w);
      for (let y = r0; y <= r1; y++) for (let x = c0; x <= c1; x++) out.add(base + y * dst.w + x);
    }
  }
  return [...out].sort((a, b) => a - b);
}
