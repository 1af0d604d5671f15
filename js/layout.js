// Node numbering of docs/wire-format.md: node = res.offset + image * h * w + row * w + col; a grown
// map (images added, js/grow.js) has per resolution `blocks` of images, each at its own offset.
import { formatCount } from "./format.js";

/**
 * The block of images an image belongs to at one resolution: {image, count, offset}.
 * @param {{offset:number,blocks?:{image:number,count:number,offset:number}[]}} res
 * @param {number} image
 */
function blockOf(res, image) {
  const blocks = res.blocks;
  if (!blocks) return { image: 0, offset: res.offset };
  for (let b = blocks.length - 1; b > 0; b--) if (image >= blocks[b].image) return blocks[b];
  return blocks[0];
}

/**
 * The node id of a patch.
 * @param {{offset:number,h:number,w:number,blocks?:object[]}} res a meta.resolutions entry
 * @returns {number}
 */
export function nodeId(res, image, row, col) {
  const block = blockOf(res, image);
  return block.offset + (image - block.image) * res.h * res.w + row * res.w + col;
}

/**
 * Where a node lives: its resolution index, image, row and col; null when out of range.
 * @param {object} meta the `meta` trait
 * @param {number} node
 * @returns {{res:number,image:number,row:number,col:number}|null}
 */
export function nodeInfo(meta, node) {
  const resolutions = meta.resolutions;
  if (resolutions.length && resolutions[0].blocks) {
    for (let r = 0; r < resolutions.length; r++) {
      const res = resolutions[r];
      const per = res.h * res.w;
      for (const b of res.blocks) {
        if (node < b.offset || node >= b.offset + b.count * per) continue;
        const local = node - b.offset;
        const image = Math.floor(local / per);
        const within = local - image * per;
        return { res: r, image: b.image + image, row: Math.floor(within / res.w), col: within % res.w };
      }
    }
    return null;
  }
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
