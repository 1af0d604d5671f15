// A JavaScript twin of the Python encoder (ncut_widget/widget/state.py) for tests and the dev
// fixture: float arrays in, `meta` + payload bytes out, laid out as docs/wire-format.md says.

const align8 = (n) => Math.ceil(n / 8) * 8;

/**
 * Encodes a result into the wire format.
 * @param {{positions: Float32Array, eigvecs: Float32Array, k: number, images: object[],
 *   resolutions: object[], thumbnails?: {bytes: Uint8Array, mime: string}[], version?: number,
 *   colors?: Uint8Array, segments?: {ks: number[], labels: Uint8Array, colors: number[][][]}}} r
 *   positions N*3, eigvecs N*k; colors default to rescaled positions; segments: L*N labels
 * @returns {{meta: object, payload: Uint8Array}}
 */
export function encodePayload(r) {
  const { positions, eigvecs, k } = r;
  const n = positions.length / 3;
  const lo = [0, 1, 2].map((d) => positions.filter((_, i) => i % 3 === d).reduce((a, b) => Math.min(a, b), Infinity));
  const hi = [0, 1, 2].map((d) => positions.filter((_, i) => i % 3 === d).reduce((a, b) => Math.max(a, b), -Infinity));
  const posOff = 0;
  const colOff = align8(posOff + n * 6);
  const eigOff = align8(colOff + n * 3);
  let end = align8(eigOff + n * k);
  // Optional segment ladder: {ks, labels: Uint8Array L*N, colors: number[][][]} as docs/wire-format.md lays it out.
  const seg = r.segments;
  const segOff = end;
  if (seg) end = align8(end + seg.ks.length * n);
  const thumbs = (r.thumbnails || []).map((t) => {
    const spec = { offset: end, length: t.bytes.length, mime: t.mime };
    end = align8(end + t.bytes.length);
    return spec;
  });
  const payload = new Uint8Array(end);
  const dv = new DataView(payload.buffer);
  const scale = Array.from({ length: k }, (_, j) => {
    let m = 0;
    for (let i = 0; i < n; i++) m = Math.max(m, Math.abs(eigvecs[i * k + j]));
    return m / 127 || 1;
  });
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < 3; d++) {
      const t = (positions[i * 3 + d] - lo[d]) / (hi[d] - lo[d] || 1);
      dv.setUint16(posOff + (i * 3 + d) * 2, Math.round(t * 65535), true);
      payload[colOff + i * 3 + d] = r.colors ? r.colors[i * 3 + d] : Math.round(t * 255);
    }
    for (let j = 0; j < k; j++) dv.setInt8(eigOff + i * k + j, Math.round(eigvecs[i * k + j] / scale[j]));
  }
  (r.thumbnails || []).forEach((t, i) => payload.set(t.bytes, thumbs[i].offset));
  if (seg) payload.set(seg.labels, segOff);
  const meta = {
    version: r.version ?? 1,
    n_nodes: n,
    k,
    n_eig: k,
    total_bytes: end,
    images: r.images,
    resolutions: r.resolutions,
    pos_min: lo,
    pos_max: hi,
    eig_scale: scale,
    arrays: {
      positions: { offset: posOff, dtype: "uint16", shape: [n, 3] },
      colors: { offset: colOff, dtype: "uint8", shape: [n, 3] },
      eigvecs: { offset: eigOff, dtype: "int8", shape: [n, k] },
    },
    thumbnails: thumbs,
  };
  if (seg) {
    meta.arrays.segments = { offset: segOff, dtype: "uint8", shape: [seg.ks.length, n] };
    meta.segments = { ks: seg.ks, colors: seg.colors };
  }
  return { meta, payload };
}
