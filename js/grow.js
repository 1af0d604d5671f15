// Images added to a fitted map (w.add_images, docs/wire-format.md "Added images"): each chunk holds
// only the new nodes, quantized with the first payload's scales. Here chunks are decoded and joined
// to the first payload into one data object, and the meta the views read gets one block per chunk
// per resolution (js/layout.js maps node ids through them). Pure but for receiveChunk's model calls.
import { alignedBuffer, decodePayload } from "./codecs.js";

/**
 * The meta every view reads: the first payload's, plus the added images and, per resolution,
 * `blocks` of {image, count, offset}. The meta itself when nothing was added (a never-grown widget
 * reads exactly today's format).
 * @param {object} meta the `meta` trait
 * @param {{meta: object}[]} chunks the `appended` trait
 * @returns {object}
 */
export function grownMeta(meta, chunks) {
  if (!chunks || !chunks.length) return meta;
  const fitted = meta.images.length;
  return {
    ...meta,
    n_nodes: chunks.reduce((n, c) => n + c.meta.n_nodes, meta.n_nodes),
    images: [...meta.images, ...chunks.flatMap((c) => c.meta.images)],
    resolutions: meta.resolutions.map((r, i) => ({
      ...r,
      blocks: [
        { image: 0, count: fitted, offset: r.offset },
        ...chunks.map((c) => ({ image: c.meta.first_image, count: c.meta.images.length, offset: c.meta.offsets[i] })),
      ],
    })),
    added_chunks: chunks.length,
  };
}

function concat(Ctor, parts) {
  const out = new Ctor(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Decodes the first payload and every chunk into one data object over all nodes (node ids as
 * in Python: chunks follow the first payload in order).
 * @param {object} meta the `meta` trait
 * @param {ArrayBuffer} buffer the first payload, aligned
 * @param {{meta: object, payload: ArrayBuffer|ArrayBufferView}[]} chunks
 * @returns {ReturnType<typeof decodePayload>}
 */
export function decodeGrown(meta, buffer, chunks) {
  const base = decodePayload(meta, buffer);
  if (!chunks || !chunks.length) return base;
  const parts = [base];
  let images = meta.images.length;
  let nodes = meta.n_nodes;
  chunks.forEach((chunk, i) => {
    const c = chunk.meta;
    if (c.first_image !== images || c.offsets[0] !== nodes || c.offsets.length !== meta.resolutions.length) {
      throw new Error(`added chunk ${i} starts at image ${c.first_image}, node ${c.offsets[0]}; expected ${images}, ${nodes}`);
    }
    // The chunk's arrays with the first payload's scales, box and ladder (its bytes use them).
    parts.push(decodePayload({ ...meta, ...c, k: meta.k }, alignedBuffer(chunk.payload)));
    images += c.images.length;
    nodes += c.n_nodes;
  });
  let segments = null;
  if (base.segments) {
    const levels = base.segments.ks.length;
    const labels = new Uint8Array(levels * nodes);
    for (let l = 0; l < levels; l++) {
      let at = l * nodes;
      for (const p of parts) {
        labels.set(p.segments.labels.subarray(l * p.nNodes, (l + 1) * p.nNodes), at);
        at += p.nNodes;
      }
    }
    segments = { ...base.segments, labels };
  }
  return {
    ...base,
    meta: grownMeta(meta, chunks),
    nNodes: nodes,
    positions: concat(Float32Array, parts.map((p) => p.positions)),
    colors: concat(Uint8Array, parts.map((p) => p.colors)),
    eigvecs: concat(Int8Array, parts.map((p) => p.eigvecs)),
    thumbnails: parts.flatMap((p) => p.thumbnails),
    segments,
  };
}

/**
 * Handles the kernel's `{type: "append", meta}` message (one buffer: the chunk's payload): appends
 * the chunk to the model's `appended` trait without sending it back (the kernel has it; a whole
 * list of chunks would also outgrow the 10 MiB the server accepts from a browser). Returns whether
 * the message was an append.
 * @param {object} model anywidget model
 * @param {object} content
 * @param {(ArrayBuffer|ArrayBufferView)[]} buffers
 * @returns {boolean}
 */
export function receiveChunk(model, content, buffers) {
  if (!content || content.type !== "append") return false;
  const chunks = model.get("appended") || [];
  // A second display of the same model hears the same message: append once.
  if (chunks.some((c) => c.meta.first_image === content.meta.first_image)) return true;
  let raw = null;
  const grab = (m) => {
    raw = m;
  };
  model.on("change:appended", grab);
  model.set("appended", [...chunks, { meta: content.meta, payload: buffers[0] }]);
  model.off("change:appended", grab);
  // Jupyter's model queues every set attribute for the next save_changes (a click would send the
  // whole list to the kernel): drop it from that queue. Backbone hands the raw model to handlers.
  if (raw && raw._buffered_state_diff && "appended" in raw._buffered_state_diff) {
    delete raw._buffered_state_diff.appended;
  }
  return true;
}

/**
 * Asks the kernel for chunks this model lacks: an append message that arrived before this
 * widget's code loaded (a cell run right after the one that displayed it) had no listener. The
 * kernel answers with an append message per missing chunk; without a kernel nothing happens.
 * @param {object} model anywidget model
 */
export function requestMissingChunks(model) {
  try {
    model.send({ type: "appended_have", count: (model.get("appended") || []).length });
  } catch (err) {
    // No comm (the exported page, a saved notebook with its kernel gone): the state is all there is.
    console.debug("ncut_widget: no kernel to ask for added images", err);
  }
}
