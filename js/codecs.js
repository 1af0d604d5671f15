// Decoding of the binary widget payload described in docs/wire-format.md. Pure: no DOM, no model.
import { formatCount } from "./format.js";

/**
 * A Uint8Array over exactly the bytes of a buffer handed over by anywidget or the page.
 * Views (DataView, typed arrays) may sit at a non-zero byteOffset inside a larger ArrayBuffer,
 * so their window is kept rather than their whole backing buffer.
 * @param {ArrayBuffer|ArrayBufferView} buf
 * @returns {Uint8Array}
 */
export function asBytes(buf) {
  if (buf instanceof ArrayBuffer) return new Uint8Array(buf);
  if (ArrayBuffer.isView(buf)) return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  throw new TypeError(`expected an ArrayBuffer or a view, got ${Object.prototype.toString.call(buf)}`);
}

/**
 * The payload's bytes in an 8-byte-aligned ArrayBuffer of exactly its length: typed arrays are
 * created on it at the offsets meta.arrays gives (multiples of 8). Jupyter hands binary traits over
 * as DataViews that may start at any byteOffset of a larger buffer; those are copied.
 * @param {ArrayBuffer|ArrayBufferView} buf
 * @returns {ArrayBuffer}
 */
export function alignedBuffer(buf) {
  const bytes = asBytes(buf);
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return bytes.buffer;
  return bytes.slice().buffer;
}

/**
 * Decodes a base64 string (the exported page inlines chunks this way) into bytes.
 * @param {string} b64
 * @returns {Uint8Array}
 */
export function base64ToBytes(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const CTORS = { uint16: Uint16Array, uint8: Uint8Array, int8: Int8Array, float32: Float32Array };

function view(buffer, spec, name) {
  if (!spec) throw new Error(`meta.arrays.${name} is missing`);
  const Ctor = CTORS[spec.dtype];
  if (!Ctor) throw new Error(`meta.arrays.${name}: unsupported dtype ${spec.dtype}`);
  const length = spec.shape.reduce((a, b) => a * b, 1);
  const end = spec.offset + length * Ctor.BYTES_PER_ELEMENT;
  if (end > buffer.byteLength) {
    throw new Error(`meta.arrays.${name} ends at byte ${formatCount(end)} but the payload has ${formatCount(buffer.byteLength)}`);
  }
  return new Ctor(buffer, spec.offset, length);
}

/**
 * Dequantizes uint16 positions: p = pos_min + q / 65535 * (pos_max - pos_min).
 * @param {Uint16Array} q N*3
 * @param {number[]} lo pos_min
 * @param {number[]} hi pos_max
 * @returns {Float32Array} N*3
 */
export function dequantizePositions(q, lo, hi) {
  const out = new Float32Array(q.length);
  const s = [0, 1, 2].map((j) => (hi[j] - lo[j]) / 65535);
  for (let i = 0; i < q.length; i += 3) {
    out[i] = lo[0] + q[i] * s[0];
    out[i + 1] = lo[1] + q[i + 1] * s[1];
    out[i + 2] = lo[2] + q[i + 2] * s[2];
  }
  return out;
}

/**
 * Decodes a complete payload against its meta.
 * @param {object} meta the `meta` trait
 * @param {ArrayBuffer} buffer the reassembled payload
 * @returns {{meta: object, nNodes: number, k: number, positions: Float32Array, colors: Uint8Array,
 *   eigvecs: Int8Array, eigScale: Float32Array, thumbnails: Blob[], segments: ReturnType<typeof decodeSegments>}}
 */
export function decodePayload(meta, buffer) {
  if (buffer.byteLength !== meta.total_bytes) {
    throw new Error(`payload has ${formatCount(buffer.byteLength)} bytes, meta.total_bytes says ${formatCount(meta.total_bytes)}`);
  }
  const { n_nodes: nNodes, k } = meta;
  const positions = view(buffer, meta.arrays.positions, "positions");
  const colors = view(buffer, meta.arrays.colors, "colors");
  const eigvecs = view(buffer, meta.arrays.eigvecs, "eigvecs");
  if (positions.length !== nNodes * 3 || colors.length !== nNodes * 3 || eigvecs.length !== nNodes * k) {
    throw new Error("meta.arrays shapes disagree with n_nodes / k");
  }
  const thumbnails = (meta.thumbnails || []).map(
    (t) => new Blob([new Uint8Array(buffer, t.offset, t.length)], { type: t.mime }),
  );
  return {
    meta,
    nNodes,
    k,
    positions: dequantizePositions(positions, meta.pos_min, meta.pos_max),
    colors,
    eigvecs,
    eigScale: Float32Array.from(meta.eig_scale),
    thumbnails,
    segments: decodeSegments(meta, buffer, nNodes),
  };
}

/**
 * The segment ladder of a payload: per level l, `labels` holds node i's segment at
 * `labels[l * nNodes + i]`, drawn in `colors[l]` (k_l * 3 sRGB bytes, the mean RGB of its nodes).
 * @param {object} meta
 * @param {ArrayBuffer} buffer
 * @param {number} nNodes
 * @returns {{ks: number[], labels: Uint8Array, colors: Uint8Array[]} | null} null when the payload has none
 */
export function decodeSegments(meta, buffer, nNodes) {
  const spec = meta.arrays.segments;
  if (!spec || !meta.segments) return null;
  const [levels, n] = spec.shape;
  const ks = meta.segments.ks.map(Number);
  if (n !== nNodes || levels !== ks.length || meta.segments.colors.length !== levels) {
    throw new Error("meta.arrays.segments disagrees with n_nodes / meta.segments");
  }
  const colors = meta.segments.colors.map((level, l) => {
    if (level.length !== ks[l]) throw new Error(`meta.segments.colors[${l}] has ${level.length} colours for k=${ks[l]}`);
    return Uint8Array.from(level.flat());
  });
  return { ks, labels: view(buffer, spec, "segments"), colors };
}
