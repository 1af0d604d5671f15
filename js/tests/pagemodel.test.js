import { describe, expect, it, vi } from "vitest";
import { createPageModel } from "../pagemodel.js";

const b64 = (bytes) => Buffer.from(Uint8Array.from(bytes)).toString("base64");

describe("createPageModel", () => {
  it("replays the inlined chunks asynchronously on request_data", async () => {
    const model = createPageModel({ traits: { meta: { version: 4 } }, chunks: [b64([1, 2]), b64([3])] });
    const got = [];
    model.send({ type: "request_data" });
    model.on("msg:custom", (msg, buffers) => got.push([msg, [...buffers[0]]]));
    expect(got).toEqual([]);
    await new Promise((r) => setTimeout(r, 5));
    expect(got).toEqual([
      [{ type: "data", version: 4, index: 0, count: 2 }, [1, 2]],
      [{ type: "data", version: 4, index: 1, count: 2 }, [3]],
    ]);
  });

  it("fires change events on set and stops after off", () => {
    const model = createPageModel({ traits: { threshold: 0.5 }, chunks: [] });
    const fn = vi.fn();
    model.on("change:threshold", fn);
    model.set("threshold", 0.7);
    expect(model.get("threshold")).toBe(0.7);
    expect(fn).toHaveBeenCalledTimes(1);
    model.off("change:threshold", fn);
    model.set("threshold", 0.1);
    expect(fn).toHaveBeenCalledTimes(1);
  });
});
