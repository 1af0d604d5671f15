// Node numbering of docs/wire-format.md: node = res.offset + image * h * w + row * w + col.
import { formatCount } from "./format.js";

/**
 * The node id of a patch.
 * @param {{offset:number,h:number,w:number}} res a meta.resolutions entry
 * @returns {number}
 */
export function nodeId(res, image, row, col) {
  return res.offset + image * res.h * res.w + row * res.w + col;
}

/**
 * Where a node lives: its resolution index, image, row and col; null when out of range.
 * @param {object} meta the `meta` trait
 * @param {number} node
 * @returns {{res:number,image:number,row:number,col:number}|null}
 */
export function nodeInfo(meta, node) {
  const resolutions = meta.resolutions;
  for (let r = resolutions.length - 1; r >= 0; r--) {
    const res = resolutions[r];
    if (node < res.offset) continue;
    const local = node - res.offset;
    const per = res.h * res.w;
    const image = Math.floor(local / per);
    if (image >= meta.images.length) return null;
    const within = local - image * per;
    return { res: r, image, row: Math.floor(within / res.w), col: within % res.w };
  }
  return null;
}

/**
 * The hover text of a node: image name, resolution label, row, col, and its similarity if any.
 * @param {object} meta
 * @param {number} node
 * @param {Float32Array|null} sim the current similarity, or null without a selection
 * @returns {string} empty when the node is out of range
 */
export function describeNode(meta, node, sim) {
  const info = nodeInfo(meta, node);
  if (!info) return "";
  const similarity = sim ? ` · sim ${sim[node].toFixed(2)}` : "";
  return `${meta.images[info.image].name} · ${meta.resolutions[info.res].label} · row ${formatCount(info.row)}, col ${formatCount(info.col)}${similarity}`;
}

/**
 * Index of the resolution with the most patches (the photo row maps clicks onto it).
 * @param {object} meta
 * @returns {number}
 */
export function finestResolution(meta) {
  let best = 0;
  meta.resolutions.forEach((r, i) => {
    const b = meta.resolutions[best];
    if (r.h * r.w > b.h * b.w) best = i;
  });
  return best;
}
