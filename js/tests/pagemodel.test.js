import { describe, expect, it, vi } from "vitest";
import { createPageModel } from "../pagemodel.js";

const b64 = (bytes) => Buffer.from(Uint8Array.from(bytes)).toString("base64");

describe("createPageModel", () => {
  it("serves the inlined base64 payload as the payload trait's bytes", () => {
    const model = createPageModel({ traits: { meta: { version: 4 } }, payload: b64([1, 2, 3]) });
    expect([...model.get("payload")]).toEqual([1, 2, 3]);
    expect(model.get("meta")).toEqual({ version: 4 });
  });

  it("fires change events on set and stops after off", () => {
    const model = createPageModel({ traits: { threshold: 0.5 }, payload: "" });
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
