// Cosine similarity in the eigenvector space, exactly as docs/wire-format.md "Similarity" defines it.
// Rows are never materialized as float32: with q_ij = e_ij * s_j (e the int8 codes), the
// normalized dot product u_i . c / |c| equals invNorm_i * sum_j e_ij * (s_j * c_j / |c|), so a click
// costs one int8 pass and the only cached state is invNorm (4 bytes a node) per n_eig_view.

const CACHE_SIZE = 4;

/** A node is kept only when its cosine to the positives beats its cosine to the negatives by this much. */
export const NEGATIVE_MARGIN = 0.1;
/** The score of a node a negative click suppressed: below every threshold (thresholds are in [-1, 1]). */
export const SUPPRESSED = -2;

/**
 * Applies negatives to a positive score, in place (docs/wire-format.md "Similarity"): where
 * pos_i - neg_i < NEGATIVE_MARGIN the score becomes SUPPRESSED. Compared in float32, as Python does.
 * @param {Float32Array} pos cosine to the positives' mean direction; overwritten with the score
 * @param {Float32Array} neg cosine to the negatives' mean direction
 * @returns {Float32Array} pos
 */
export function suppressNegatives(pos, neg) {
  const margin = Math.fround(NEGATIVE_MARGIN);
  for (let i = 0; i < pos.length; i++) {
    if (!(Math.fround(pos[i] - neg[i]) >= margin)) pos[i] = SUPPRESSED;
  }
  return pos;
}

/**
 * The score every view draws and thresholds (docs/wire-format.md "Similarity"): cosine to the
 * selection's mean direction, negatives applied (suppressNegatives), and 1 on the selected nodes
 * themselves, so a selection is never dimmed. The same numbers as Python's `state.similarity`.
 * @param {ReturnType<typeof createSimilarity>} engine
 * @param {number[]} selected non-empty
 * @param {number[]} negative
 * @param {number} nEig
 * @param {Float32Array} [out] N
 * @param {Float32Array} [negOut] N, scratch for the negatives' cosine
 * @returns {Float32Array} out
 */
export function selectionScore(engine, selected, negative, nEig, out, negOut) {
  out = engine.compute(selected, nEig, out);
  if (negative.length) suppressNegatives(out, engine.compute(negative, nEig, negOut));
  for (const s of selected) out[s] = 1;
  return out;
}

/**
 * Builds a similarity engine over int8 eigenvectors.
 * @param {Int8Array} eigvecs N*k row-major codes
 * @param {ArrayLike<number>} scales k dequantization scales (v = code * scale)
 * @param {number} k columns per row
 * @returns {{compute: (selected: number[], nEig: number, out?: Float32Array) => Float32Array,
 *   invNorms: (nEig: number) => Float32Array}}
 */
export function createSimilarity(eigvecs, scales, k) {
  const n = eigvecs.length / k;
  const cache = new Map();

  function invNorms(nEig) {
    let inv = cache.get(nEig);
    if (inv) {
      cache.delete(nEig);
      cache.set(nEig, inv);
      return inv;
    }
    const s2 = new Float64Array(nEig);
    for (let j = 0; j < nEig; j++) s2[j] = scales[j] * scales[j];
    inv = new Float32Array(n);
    for (let i = 0, base = 0; i < n; i++, base += k) {
      let sum = 0;
      for (let j = 0; j < nEig; j++) {
        const e = eigvecs[base + j];
        sum += e * e * s2[j];
      }
      inv[i] = sum > 0 ? 1 / Math.sqrt(sum) : 0;
    }
    cache.set(nEig, inv);
    if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value);
    return inv;
  }

  function compute(selected, nEig, out = new Float32Array(n)) {
    nEig = Math.max(1, Math.min(k, nEig | 0));
    const inv = invNorms(nEig);
    // c = mean of the selected unit rows, in dequantized units.
    const c = new Float64Array(nEig);
    for (const s of selected) {
      const base = s * k;
      for (let j = 0; j < nEig; j++) c[j] += eigvecs[base + j] * scales[j] * inv[s];
    }
    let norm = 0;
    for (let j = 0; j < nEig; j++) norm += c[j] * c[j];
    norm = Math.sqrt(norm);
    if (!(norm > 0)) return out.fill(0);
    // Fold scale and 1/|c| into the weights; the mean's 1/|S| cancels in c/|c|.
    const w = new Float32Array(nEig);
    for (let j = 0; j < nEig; j++) w[j] = (scales[j] * c[j]) / norm;
    const n4 = nEig & ~3;
    for (let i = 0, base = 0; i < n; i++, base += k) {
      // Unrolled by four: this loop is the whole cost of a click at a million nodes.
      let d0 = 0, d1 = 0, d2 = 0, d3 = 0;
      let j = 0;
      for (; j < n4; j += 4) {
        d0 += eigvecs[base + j] * w[j];
        d1 += eigvecs[base + j + 1] * w[j + 1];
        d2 += eigvecs[base + j + 2] * w[j + 2];
        d3 += eigvecs[base + j + 3] * w[j + 3];
      }
      for (; j < nEig; j++) d0 += eigvecs[base + j] * w[j];
      out[i] = (d0 + d1 + d2 + d3) * inv[i];
    }
    return out;
  }

  return { compute, invNorms };
}
