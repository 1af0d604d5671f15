import { describe, expect, it } from "vitest";
import { alignedBuffer, asBytes, base64ToBytes, decodePayload } from "../codecs.js";
import { randomResult } from "./helpers.js";

const thumb = { bytes: new TextEncoder().encode("<svg xmlns='http://www.w3.org/2000/svg'/>"), mime: "image/svg+xml" };

describe("asBytes / alignedBuffer", () => {
  it("keeps exactly the window of a view with a non-zero byteOffset", () => {
    const backing = new Uint8Array([9, 9, 9, 1, 2, 3, 4, 9, 9]);
    const u8 = new Uint8Array(backing.buffer, 3, 4);
    const dv = new DataView(backing.buffer, 3, 4);
    expect([...asBytes(u8)]).toEqual([1, 2, 3, 4]);
    expect([...asBytes(dv)]).toEqual([1, 2, 3, 4]);
    expect([...new Uint8Array(alignedBuffer(dv))]).toEqual([1, 2, 3, 4]);
  });

  it("copies a misaligned or partial view into a fresh buffer, and keeps a whole one", () => {
    const { payload } = randomResult();
    const backing = new Uint8Array(payload.length + 5);
    backing.set(payload, 3);
    const copied = alignedBuffer(new DataView(backing.buffer, 3, payload.length));
    expect(copied).not.toBe(backing.buffer);
    expect(copied.byteLength).toBe(payload.length);
    expect(new Uint8Array(copied)).toEqual(payload);
    const whole = new Uint8Array(payload);
    expect(alignedBuffer(new DataView(whole.buffer))).toBe(whole.buffer);
  });

  it("rejects things that are not buffers", () => {
    expect(() => asBytes([1, 2, 3])).toThrow(TypeError);
  });
});

describe("base64ToBytes", () => {
  it("decodes what Buffer encodes", () => {
    const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 37) % 256);
    expect(base64ToBytes(Buffer.from(bytes).toString("base64"))).toEqual(bytes);
  });
});

describe("decodePayload", () => {
  it("dequantizes positions, keeps colors and eigvec codes, and cuts thumbnails", async () => {
    const { meta, payload, positions } = randomResult({ thumbnails: [thumb, thumb] });
    // Hand the decoder a payload that came through a view at an odd offset.
    const backing = new Uint8Array(payload.length + 5);
    backing.set(payload, 5);
    const data = decodePayload(meta, alignedBuffer(new DataView(backing.buffer, 5, payload.length)));
    expect(data.nNodes).toBe(meta.n_nodes);
    expect(data.positions).toBeInstanceOf(Float32Array);
    const range = Math.max(...meta.pos_max.map((h, d) => h - meta.pos_min[d]));
    for (let i = 0; i < positions.length; i++) {
      expect(Math.abs(data.positions[i] - positions[i])).toBeLessThanOrEqual(range / 65535 + 1e-6);
    }
    expect(data.colors).toBeInstanceOf(Uint8Array);
    expect(data.colors.length).toBe(meta.n_nodes * 3);
    expect(data.eigvecs).toBeInstanceOf(Int8Array);
    expect(data.eigvecs.length).toBe(meta.n_nodes * meta.k);
    expect([...data.eigScale]).toEqual(meta.eig_scale.map(Math.fround));
    expect(data.thumbnails).toHaveLength(2);
    expect(data.thumbnails[1].type).toBe("image/svg+xml");
    expect(await data.thumbnails[1].text()).toBe(new TextDecoder().decode(thumb.bytes));
  });

  it("refuses a payload whose size disagrees with meta", () => {
    const { meta, payload } = randomResult();
    expect(() => decodePayload(meta, payload.slice(8).buffer)).toThrow(/total_bytes/);
  });

  it("refuses an unknown dtype", () => {
    const { meta, payload } = randomResult();
    const bad = { ...meta, arrays: { ...meta.arrays, eigvecs: { ...meta.arrays.eigvecs, dtype: "float16" } } };
    expect(() => decodePayload(bad, payload.buffer)).toThrow(/float16/);
  });
});
