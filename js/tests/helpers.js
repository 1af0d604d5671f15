// Shared test fixtures: a random encoded result and a fake anywidget model.
import { encodePayload } from "../dev/encode.js";

/** Deterministic pseudo-random numbers in [0, 1). */
export function rng(seed = 1) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 4294967296;
}

/**
 * A random result over `nImages` images at grids `sides` (square), encoded to the wire format.
 * @returns {{meta: object, payload: Uint8Array, positions: Float32Array, eigvecs: Float32Array}}
 */
export function randomResult({ nImages = 2, sides = [4, 8], k = 6, seed = 1, version = 1, thumbnails, segmentKs } = {}) {
  const rand = rng(seed);
  const resolutions = [];
  let n = 0;
  for (const s of sides) {
    resolutions.push({ label: String(s * 14), h: s, w: s, offset: n });
    n += nImages * s * s;
  }
  const positions = Float32Array.from({ length: n * 3 }, () => rand() * 4 - 2);
  const eigvecs = Float32Array.from({ length: n * k }, () => rand() * 2 - 1);
  const images = Array.from({ length: nImages }, (_, i) => ({ name: `img${i}`, width: 40, height: 30 }));
  // segmentKs: a random ladder with these levels (labels uniform in 0..k-1, random colours).
  let segments;
  if (segmentKs) {
    const labels = new Uint8Array(segmentKs.length * n);
    segmentKs.forEach((sk, l) => {
      for (let i = 0; i < n; i++) labels[l * n + i] = Math.floor(rand() * sk);
    });
    const colors = segmentKs.map((sk) => Array.from({ length: sk }, () => [0, 1, 2].map(() => Math.floor(rand() * 256))));
    segments = { ks: segmentKs, labels, colors };
  }
  const { meta, payload } = encodePayload({ positions, eigvecs, k, images, resolutions, thumbnails, version, segments });
  return { meta, payload, positions, eigvecs, segments };
}

/** A minimal anywidget model: traits, change events, custom messages, a record of sends. */
export function fakeModel(traits = {}) {
  const values = { selected: [], n_eig_view: 0, threshold: 0.5, color_mode: "rgb", meta: {}, ...traits };
  const handlers = new Map();
  const model = {
    sent: [],
    saves: 0,
    get: (name) => values[name],
    set(name, value) {
      values[name] = value;
      model.fire(`change:${name}`);
    },
    on(name, fn) {
      if (!handlers.has(name)) handlers.set(name, new Set());
      handlers.get(name).add(fn);
    },
    off(name, fn) {
      handlers.get(name)?.delete(fn);
    },
    save_changes() {
      model.saves++;
    },
    send(msg) {
      model.sent.push(msg);
    },
    fire(name, ...args) {
      for (const fn of [...(handlers.get(name) || [])]) fn(...args);
    },
    listenerCount: () => [...handlers.values()].reduce((a, s) => a + s.size, 0),
  };
  return model;
}
