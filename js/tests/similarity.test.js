import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  createScoreMemo,
  createSimilarity,
  NEGATIVE_MARGIN,
  selectionScore,
  simdAvailable,
  SUPPRESSED,
  suppressNegatives,
} from "../similarity.js";
import { rng } from "./helpers.js";

// Straight from docs/wire-format.md, in float64 with no shortcuts.
function reference(codes, scales, k, selected, nEig) {
  const n = codes.length / k;
  const u = [];
  for (let i = 0; i < n; i++) {
    const q = Array.from({ length: nEig }, (_, j) => codes[i * k + j] * scales[j]);
    const norm = Math.hypot(...q);
    u.push(norm > 0 ? q.map((v) => v / norm) : q.map(() => 0));
  }
  const c = Array.from({ length: nEig }, (_, j) => selected.reduce((a, s) => a + u[s][j], 0) / selected.length);
  const cn = Math.hypot(...c);
  return u.map((ui) => (cn > 0 ? ui.reduce((a, v, j) => a + v * c[j], 0) / cn : 0));
}

function randomCodes(n, k, seed) {
  const rand = rng(seed);
  const codes = Int8Array.from({ length: n * k }, () => Math.round(rand() * 254 - 127));
  codes.fill(0, 7 * k, 8 * k); // a zero row stays zero
  const scales = Array.from({ length: k }, () => 0.001 + rand() * 0.02);
  return { codes, scales };
}

describe("createSimilarity", () => {
  const n = 400;
  const k = 12;
  const { codes, scales } = randomCodes(n, k, 3);
  const sim = createSimilarity(codes, scales, k);

  // The query's int16 weights are within 0.5 / 32767 of the largest weight each; with these
  // scales (up to 21x apart) that bounds the error near 1e-3, typically it is 1e-5.
  const close = (got, want) => {
    expect(got).toHaveLength(want.length);
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-3);
  };

  it("matches the reference for one node with all eigenvectors", () => {
    const got = sim.compute([11], k);
    close(got, reference(codes, scales, k, [11], k));
    expect(Math.abs(got[11] - 1)).toBeLessThan(1e-3);
    expect(got[7]).toBe(0);
  });

  it("matches the reference for a multi-node selection", () => {
    close(sim.compute([2, 50, 399], k), reference(codes, scales, k, [2, 50, 399], k));
  });

  it("uses only the first n_eig_view columns, and switching back and forth stays exact", () => {
    close(sim.compute([5, 6], 3), reference(codes, scales, k, [5, 6], 3));
    close(sim.compute([5, 6], 1), reference(codes, scales, k, [5, 6], 1));
    close(sim.compute([5, 6], k), reference(codes, scales, k, [5, 6], k));
    close(sim.compute([5, 6], 3), reference(codes, scales, k, [5, 6], 3));
  });

  it("clamps n_eig_view to 1..k", () => {
    close(sim.compute([9], 99), reference(codes, scales, k, [9], k));
    close(sim.compute([9], 0), reference(codes, scales, k, [9], 1));
  });

  it("returns zeros when the mean direction vanishes", () => {
    expect([...sim.compute([7], k)].every((v) => v === 0)).toBe(true);
  });

  it("writes into a provided buffer", () => {
    const out = new Float32Array(n);
    expect(sim.compute([1], k, out)).toBe(out);
  });

  it("handles k not a multiple of four (the unrolled tail)", () => {
    const k5 = 5;
    const r = randomCodes(50, k5, 9);
    const s5 = createSimilarity(r.codes, r.scales, k5);
    close(s5.compute([3, 4], k5), reference(r.codes, r.scales, k5, [3, 4], k5));
    close(s5.compute([3], 2), reference(r.codes, r.scales, k5, [3], 2));
  });
});

describe("negatives (docs/wire-format.md Similarity), against the numbers Python computes", () => {
  it.each(["wasm", "scalar"])("equals state.similarity on the shared fixture bit for bit (%s kernel)", (kernel) => {
    const fixture = JSON.parse(readFileSync(new URL("./fixtures/similarity_negative.json", import.meta.url), "utf8"));
    const codes = Int8Array.from(fixture.codes);
    const engine = createSimilarity(codes, Float32Array.from(fixture.scales), fixture.k, { kernel });
    for (const c of fixture.cases) {
      const score = selectionScore(engine, c.selected, c.negative, c.n_eig_view);
      for (const s of c.selected) expect(score[s]).toBe(1);
      expect([...score]).toEqual(c.expected.map(Math.fround));
    }
  });

  it("with a memo: the same bits, and a change of negatives alone costs one pass, not two", () => {
    const fixture = JSON.parse(readFileSync(new URL("./fixtures/similarity_negative.json", import.meta.url), "utf8"));
    const engine = createSimilarity(Int8Array.from(fixture.codes), Float32Array.from(fixture.scales), fixture.k);
    const calls = [];
    const counted = { ...engine, compute: (ids, nEig, out) => (calls.push(ids), engine.compute(ids, nEig, out)) };
    const memo = createScoreMemo();
    const n = fixture.codes.length / fixture.k;
    const out = new Float32Array(n);
    const negOut = new Float32Array(n);
    // Every case twice in a row, then with its negatives dropped: the second and third reuse the positives.
    for (const c of fixture.cases) {
      for (const negative of [c.negative, c.negative.slice(), []]) {
        calls.length = 0;
        const score = selectionScore(counted, c.selected, negative, c.n_eig_view, out, negOut, memo);
        const plain = selectionScore(engine, c.selected, negative, c.n_eig_view);
        expect([...score]).toEqual([...plain]);
        expect(calls.length).toBeLessThanOrEqual(negative.length ? 2 : 1);
      }
    }
    // The memo holds the last case's positives; the same ids at another n_eig_view, or another
    // engine, are a new query.
    const c = fixture.cases[fixture.cases.length - 1];
    calls.length = 0;
    selectionScore(counted, c.selected, [], c.n_eig_view, out, negOut, memo);
    expect(calls.length).toBe(0);
    selectionScore(counted, c.selected, [], Math.max(1, c.n_eig_view - 1), out, negOut, memo);
    expect(calls.length).toBe(1);
    const other = createSimilarity(Int8Array.from(fixture.codes), Float32Array.from(fixture.scales), fixture.k);
    selectionScore(other, c.selected, [], Math.max(1, c.n_eig_view - 1), out, negOut, memo);
    expect(memo.engine).toBe(other);
  });

  it("suppresses exactly the nodes not NEGATIVE_MARGIN nearer the positives", () => {
    const pos = Float32Array.from([0.9, 0.5, 0.3, 0.2]);
    const neg = Float32Array.from([0.1, 0.45, 0.1, 0.6]);
    expect([...suppressNegatives(pos, neg)]).toEqual([Math.fround(0.9), SUPPRESSED, Math.fround(0.3), SUPPRESSED]);
    expect(NEGATIVE_MARGIN).toBe(0.1);
  });
});

describe("the SIMD and scalar kernels", () => {
  it.each([
    [12, [1, 5, 12]],
    [30, [1, 4, 16, 17, 23, 30]],
    [5, [2, 5]],
  ])("give bit-identical scores (k=%i, every n_eig_view in %j)", (k, views) => {
    const n = 1013; // not a multiple of anything the kernel steps by
    const { codes, scales } = randomCodes(n, k, 17 + k);
    const simd = createSimilarity(codes, scales, k, { kernel: "wasm" });
    const scalar = createSimilarity(codes, scales, k, { kernel: "scalar" });
    expect([simd.kernel, scalar.kernel]).toEqual(["wasm-simd", "scalar"]);
    for (const nEig of views) {
      for (const selected of [[0], [n - 1], [3, 500, 1012, 44]]) {
        expect([...simd.compute(selected, nEig)]).toEqual([...scalar.compute(selected, nEig)]);
      }
    }
  });

  it.each([
    [30, [1, 7, 16, 17, 29, 30]],
    [12, [1, 12]],
  ])("sum the selection's direction to the same bits (k=%i, n_eig_view in %j)", (k, views) => {
    const n = 2011;
    const { codes, scales } = randomCodes(n, k, 41 + k);
    const simd = createSimilarity(codes, scales, k, { kernel: "wasm" });
    const scalar = createSimilarity(codes, scales, k, { kernel: "scalar" });
    const rand = rng(k);
    // A large selection in no particular order (float64 sums depend on it), the last row included.
    const large = Array.from({ length: 1500 }, () => Math.floor(rand() * n));
    large.push(n - 1);
    // Longer than the kernel's id buffer (n ids), with repeats: summed in turns, the same bits.
    const longer = Array.from({ length: 2 * n + 7 }, () => Math.floor(rand() * n));
    for (const nEig of views) {
      for (const selected of [[n - 1], [5, 2], large, longer]) {
        const got = simd.direction(selected, nEig);
        expect(got.length).toBe(nEig);
        expect([...got]).toEqual([...scalar.direction(selected, nEig)]);
      }
      expect([...simd.compute(large, nEig)]).toEqual([...scalar.compute(large, nEig)]);
    }
  });

  it("reads nothing past the last row's columns in use (the last node's score is right)", () => {
    const k = 3;
    const { codes, scales } = randomCodes(9, k, 5);
    const simd = createSimilarity(codes, scales, k, { kernel: "wasm" });
    expect(simd.compute([8], k)[8]).toBeCloseTo(1, 4);
    expect([...simd.compute([8], k)]).toEqual([...createSimilarity(codes, scales, k, { kernel: "scalar" }).compute([8], k)]);
  });
});
