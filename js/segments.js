// The segment ladder in the browser (docs/wire-format.md "Segments"): which level a k is, the colours
// Segments mode draws, and the nodes a click in Segments mode selects. Pure: no DOM, no model.
import { nodeId } from "./layout.js";

/**
 * Index of `k` in the ladder, or -1 when the payload has no ladder or `k` is not on it.
 * @param {{ks: number[]} | null} segments decoded ladder (js/codecs.js decodeSegments)
 * @param {number} k
 * @returns {number}
 */
export function levelOf(segments, k) {
  return segments ? segments.ks.indexOf(Number(k)) : -1;
}

/**
 * Per-node colours of one level: each node gets the mean RGB of its segment.
 * @param {{labels: Uint8Array, colors: Uint8Array[]}} segments
 * @param {number} nNodes
 * @param {number} level
 * @returns {Uint8Array} nNodes * 3 sRGB bytes
 */
export function segmentColors(segments, nNodes, level) {
  const labels = segments.labels.subarray(level * nNodes, (level + 1) * nNodes);
  const palette = segments.colors[level];
  const out = new Uint8Array(nNodes * 3);
  for (let i = 0; i < nNodes; i++) {
    const o = labels[i] * 3;
    out[i * 3] = palette[o];
    out[i * 3 + 1] = palette[o + 1];
    out[i * 3 + 2] = palette[o + 2];
  }
  return out;
}

/**
 * Every node (in every image and resolution) that shares `node`'s segment at `level`, ascending.
 * @param {{labels: Uint8Array}} segments
 * @param {number} nNodes
 * @param {number} level
 * @param {number} node
 * @returns {number[]}
 */
export function segmentMembers(segments, nNodes, level, node) {
  const labels = segments.labels.subarray(level * nNodes, (level + 1) * nNodes);
  const label = labels[node];
  const out = [];
  for (let i = 0; i < nNodes; i++) if (labels[i] === label) out.push(i);
  return out;
}

/**
 * The selection after a shift-click on a segment: removes it when all of it is selected, else adds it.
 * @param {number[]} selected
 * @param {number[]} members
 * @returns {number[]}
 */
export function toggleMembers(selected, members) {
  const have = new Set(selected);
  if (members.every((m) => have.has(m))) {
    const drop = new Set(members);
    return selected.filter((s) => !drop.has(s));
  }
  for (const m of members) have.add(m);
  return [...have];
}

/**
 * The hierarchy of one node within its own image and resolution: at every level, coarse to fine,
 * which patches of that grid share its segment.
 * @param {{ks: number[], labels: Uint8Array}} segments
 * @param {number} nNodes
 * @param {{offset: number, h: number, w: number}} res the node's meta.resolutions entry
 * @param {number} image the node's image
 * @param {number} node
 * @returns {{k: number, label: number, mask: Uint8Array}[]} per level; mask is h*w, 1 where a member
 */
export function hierarchyMasks(segments, nNodes, res, image, node) {
  const count = res.h * res.w;
  const start = nodeId(res, image, 0, 0);
  return segments.ks.map((k, level) => {
    const labels = segments.labels.subarray(level * nNodes + start, level * nNodes + start + count);
    const label = segments.labels[level * nNodes + node];
    const mask = new Uint8Array(count);
    for (let p = 0; p < count; p++) mask[p] = labels[p] === label ? 1 : 0;
    return { k, label, mask };
  });
}

/**
 * The borders between segments on one image's grid at `level`: every unit edge between two
 * 4-neighbouring patches with different labels, in grid units (col, row).
 * @param {{labels: Uint8Array}} segments
 * @param {number} nNodes
 * @param {number} level
 * @param {{offset: number, h: number, w: number}} res a meta.resolutions entry
 * @param {number} image
 * @returns {number[]} x0, y0, x1, y1 per edge: vertical edges (x = col + 1) then horizontal (y = row + 1)
 */
export function segmentEdges(segments, nNodes, level, res, image) {
  const start = nodeId(res, image, 0, 0);
  const labels = segments.labels.subarray(level * nNodes + start, level * nNodes + start + res.h * res.w);
  const out = [];
  for (let row = 0; row < res.h; row++) {
    for (let col = 0; col + 1 < res.w; col++) {
      if (labels[row * res.w + col] !== labels[row * res.w + col + 1]) out.push(col + 1, row, col + 1, row + 1);
    }
  }
  for (let row = 0; row + 1 < res.h; row++) {
    for (let col = 0; col < res.w; col++) {
      if (labels[row * res.w + col] !== labels[(row + 1) * res.w + col]) out.push(col, row + 1, col + 1, row + 1);
    }
  }
  return out;
}
