// Cosine similarity in the eigenvector space, exactly as docs/wire-format.md "Similarity" defines it.
// Rows are never materialized as float32: with q_ij = e_ij * s_j (e the int8 codes), the
// normalized dot product u_i . c / |c| equals invNorm_i * sum_j e_ij * (s_j * c_j / |c|). Those
// weights are rounded to int16 (relative error under 2e-5 of the largest), so a click costs one
// exact integer pass over the codes: WebAssembly SIMD where the browser has it (js/wasm), else the
// scalar loop here. Both, and Python's state.similarity, do the same operations in the same order
// and give bit-identical scores; the only cached state is invNorm (4 bytes a node) per n_eig_view.
import { SIMILARITY_WASM_BASE64 } from "./wasm/similarity.wasm.js";

const CACHE_SIZE = 4;
/** Largest int16 weight: the biggest |weight| maps to it. */
export const WEIGHT_MAX = 32767;
/** Columns the SIMD kernel reads per row (two 16-byte loads). */
const KERNEL_COLUMNS = 32;

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
 * @param {ReturnType<typeof createScoreMemo>} [memo] the last positives' cosine (createScoreMemo):
 *   when only the negatives changed (an Alt-click) it is copied instead of computed again
 * @returns {Float32Array} out
 */
export function selectionScore(engine, selected, negative, nEig, out, negOut, memo) {
  if (memo && memo.scores && memo.engine === engine && memo.nEig === nEig && sameIds(memo.selected, selected)) {
    out = out ? out : new Float32Array(memo.scores.length);
    out.set(memo.scores);
  } else {
    out = engine.compute(selected, nEig, out);
    if (memo) {
      Object.assign(memo, { engine, nEig, selected: Int32Array.from(selected) });
      if (!memo.scores || memo.scores.length !== out.length) memo.scores = new Float32Array(out.length);
      memo.scores.set(out);
    }
  }
  if (negative.length) suppressNegatives(out, engine.compute(negative, nEig, negOut));
  for (const s of selected) out[s] = 1;
  return out;
}

/**
 * An empty memo for selectionScore: the engine, n_eig_view and ids of the last positive query and
 * its cosine (N float32; 4 MB at a million nodes).
 */
export function createScoreMemo() {
  return { engine: null, nEig: 0, selected: null, scores: null };
}

function sameIds(a, b) {
  if (!a || a.length !== b.length) return false;
  for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The int16 weights of one query: w_j = f32(s_j * c_j / |c|) rounded to q_j = floor(w_j * 32767 /
 * max|w| + 0.5), and unit = max|w| / 32767, so that score_i = f32((sum_j e_ij q_j) * unit * invNorm_i).
 * @param {Float64Array} c the query direction (any length > 0), nEig entries
 * @param {ArrayLike<number>} scales
 * @param {number} nEig
 * @returns {{q: Int16Array, unit: number} | null} q has KERNEL_COLUMNS entries, zero past nEig; null when c is 0
 */
export function queryWeights(c, scales, nEig) {
  let norm = 0;
  for (let j = 0; j < nEig; j++) norm += c[j] * c[j];
  norm = Math.sqrt(norm);
  if (!(norm > 0)) return null;
  const w = new Float32Array(nEig);
  let peak = 0;
  for (let j = 0; j < nEig; j++) {
    w[j] = (scales[j] * c[j]) / norm;
    peak = Math.max(peak, Math.abs(w[j]));
  }
  if (!(peak > 0)) return null;
  const factor = WEIGHT_MAX / peak;
  const q = new Int16Array(Math.max(KERNEL_COLUMNS, nEig));
  for (let j = 0; j < nEig; j++) q[j] = Math.floor(w[j] * factor + 0.5);
  return { q, unit: peak / WEIGHT_MAX };
}

let wasmModule; // undefined: not tried yet; null: this browser cannot run it

/** The compiled SIMD kernel, or null where WebAssembly SIMD is unavailable. */
function simdModule() {
  if (wasmModule !== undefined) return wasmModule;
  wasmModule = null;
  try {
    const bytes = Uint8Array.from(atob(SIMILARITY_WASM_BASE64), (ch) => ch.charCodeAt(0));
    // validate() is false where SIMD is not supported; the module is tiny, so compiling it
    // synchronously on the main thread is allowed everywhere.
    if (typeof WebAssembly === "object" && WebAssembly.validate(bytes)) wasmModule = new WebAssembly.Module(bytes);
  } catch (err) {
    console.warn("ncut_widget: WebAssembly SIMD unavailable, using the scalar similarity", err);
  }
  return wasmModule;
}

/** True when this browser runs the SIMD kernel ("auto" picks it). */
export function simdAvailable() {
  return simdModule() !== null;
}

/** The SIMD kernel over one copy of the codes: memory laid out once, queries write weights and read scores. */
function simdKernel(eigvecs, n, k) {
  const align = (v) => (v + 15) & ~15;
  const W = 0;
  const SCALES = 64; // KERNEL_COLUMNS float64 scales, zero past the columns in use
  const DIR = SCALES + 8 * KERNEL_COLUMNS; // the direction's KERNEL_COLUMNS float64 sums
  const EIG = DIR + 8 * KERNEL_COLUMNS;
  const INV = align(EIG + n * k + KERNEL_COLUMNS); // rows are read 32 bytes at a time, past the last too
  const OUT = align(INV + 4 * n);
  const SEL = OUT + 4 * n; // the selection's ids, int32, n per call (direction() goes in turns past that)
  const bytes = SEL + 4 * n;
  const instance = new WebAssembly.Instance(simdModule(), {});
  const memory = instance.exports.memory;
  const pages = Math.ceil(bytes / 65536) - memory.buffer.byteLength / 65536;
  if (pages > 0) memory.grow(pages);
  const heap = memory.buffer; // grown once, before any view: views never detach
  new Int8Array(heap, EIG, n * k).set(eigvecs);
  const weights = new Int16Array(heap, W, KERNEL_COLUMNS);
  const invView = new Float32Array(heap, INV, n);
  const outView = new Float32Array(heap, OUT, n);
  const scaleView = new Float64Array(heap, SCALES, KERNEL_COLUMNS);
  const dirView = new Float64Array(heap, DIR, KERNEL_COLUMNS);
  const selView = new Int32Array(heap, SEL, n);
  let residentInv = null;
  function useInv(inv) {
    if (residentInv !== inv) {
      invView.set(inv);
      residentInv = inv;
    }
  }
  return {
    name: "wasm-simd",
    direction(selected, nEig, scales, inv) {
      useInv(inv);
      scaleView.fill(0);
      for (let j = 0; j < nEig; j++) scaleView[j] = scales[j];
      dirView.fill(0);
      // The id buffer holds n ids; a longer list (repeats the store already checked) goes in turns,
      // each call adding on from the sums the last one left: the same order, the same bits.
      for (let start = 0; start < selected.length; start += n) {
        const part = selected.length <= n ? selected : selected.slice(start, start + n);
        selView.set(part);
        instance.exports.direction(EIG, k, SEL, part.length, INV, SCALES, DIR, nEig > 16 ? 1 : 0);
      }
      return Float64Array.from(dirView.subarray(0, nEig));
    },
    run(q, unit, nEig, inv, out) {
      weights.set(q.subarray(0, KERNEL_COLUMNS));
      useInv(inv);
      instance.exports.scores(EIG, n, k, W, INV, OUT, unit, nEig > 16 ? 1 : 0);
      out.set(outView);
    },
  };
}

/**
 * The selection's direction in dequantized units, c_j = sum over `selected` (in order) of
 * (code_sj * scale_j) * inv_s in float64: the scalar definition the SIMD `direction` matches bit
 * for bit (the mean's 1/|S| cancels in c/|c|).
 */
function scalarDirection(eigvecs, k, selected, nEig, scales, inv) {
  const c = new Float64Array(nEig);
  const sc = Float64Array.from({ length: nEig }, (_, j) => scales[j]);
  for (let t = 0; t < selected.length; t++) {
    const s = selected[t];
    const base = s * k;
    const is = inv[s];
    for (let j = 0; j < nEig; j++) c[j] += eigvecs[base + j] * sc[j] * is;
  }
  return c;
}

/** The scalar kernel: the same integer dot products and float64 products as the SIMD one. */
function scalarKernel(eigvecs, n, k) {
  return {
    name: "scalar",
    run(q, unit, nEig, inv, out) {
      const n4 = nEig & ~3;
      for (let i = 0, base = 0; i < n; i++, base += k) {
        // Integers below 2^31 in every partial sum: exact in any order, as in the SIMD lanes.
        let d0 = 0, d1 = 0, d2 = 0, d3 = 0;
        let j = 0;
        for (; j < n4; j += 4) {
          d0 += eigvecs[base + j] * q[j];
          d1 += eigvecs[base + j + 1] * q[j + 1];
          d2 += eigvecs[base + j + 2] * q[j + 2];
          d3 += eigvecs[base + j + 3] * q[j + 3];
        }
        for (; j < nEig; j++) d0 += eigvecs[base + j] * q[j];
        out[i] = (d0 + d1 + d2 + d3) * unit * inv[i];
      }
    },
  };
}

/**
 * Builds a similarity engine over int8 eigenvectors.
 * @param {Int8Array} eigvecs N*k row-major codes
 * @param {ArrayLike<number>} scales k dequantization scales (v = code * scale)
 * @param {number} k columns per row
 * @param {{kernel?: "auto" | "wasm" | "scalar"}} [options] "auto": SIMD where available (k <= 32)
 * @returns {{compute: (selected: number[], nEig: number, out?: Float32Array) => Float32Array,
 *   direction: (selected: number[], nEig: number) => Float64Array,
 *   invNorms: (nEig: number) => Float32Array, kernel: string}}
 */
export function createSimilarity(eigvecs, scales, k, options = {}) {
  const n = eigvecs.length / k;
  const cache = new Map();
  const choice = options.kernel || "auto";
  const simd = k <= KERNEL_COLUMNS && simdAvailable();
  if (choice === "wasm" && !simd) throw new Error("the WebAssembly SIMD similarity kernel is unavailable here");
  const kernel = choice === "scalar" || !simd ? scalarKernel(eigvecs, n, k) : simdKernel(eigvecs, n, k);

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

  /** The selection's direction (float64, nEig entries; scalarDirection defines it). */
  function direction(selected, nEig, inv = invNorms(nEig)) {
    return kernel.direction
      ? kernel.direction(selected, nEig, scales, inv)
      : scalarDirection(eigvecs, k, selected, nEig, scales, inv);
  }

  function compute(selected, nEig, out = new Float32Array(n)) {
    nEig = Math.max(1, Math.min(k, nEig | 0));
    const inv = invNorms(nEig);
    // c = sum of the selected unit rows, in dequantized units, in selection order: in SIMD where
    // the kernel is (a whole segment at a million nodes is ~150,000 rows), else the scalar loop.
    const c = direction(selected, nEig, inv);
    const weights = queryWeights(c, scales, nEig);
    if (!weights) return out.fill(0);
    kernel.run(weights.q, weights.unit, nEig, inv, out);
    return out;
  }

  return { compute, direction, invNorms, kernel: kernel.name };
}
