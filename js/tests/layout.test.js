import { describe, expect, it } from "vitest";
import { describeNode, finestResolution, nodeId, nodeInfo } from "../layout.js";

const meta = {
  images: [{ name: "a" }, { name: "b" }, { name: "c" }],
  resolutions: [
    { label: "224", h: 2, w: 3, offset: 0 },
    { label: "448", h: 4, w: 5, offset: 18 },
  ],
};

describe("nodeId / nodeInfo", () => {
  it("round-trips every node in MultiResFeatures order", () => {
    let expected = 0;
    meta.resolutions.forEach((res, r) => {
      for (let image = 0; image < 3; image++)
        for (let row = 0; row < res.h; row++)
          for (let col = 0; col < res.w; col++) {
            const node = nodeId(res, image, row, col);
            expect(node).toBe(expected++);
            expect(nodeInfo(meta, node)).toEqual({ res: r, image, row, col });
          }
    });
  });

  it("returns null past the last node", () => {
    expect(nodeInfo(meta, 18 + 60)).toBeNull();
  });

  it("finds the resolution with the most patches", () => {
    expect(finestResolution(meta)).toBe(1);
  });
});

describe("describeNode", () => {
  it("names the image, resolution, row and col, and the similarity when there is one", () => {
    const node = nodeId(meta.resolutions[1], 1, 2, 3);
    expect(describeNode(meta, node, null)).toBe("b · 448 · row 2, col 3");
    const sim = new Float32Array(node + 1);
    sim[node] = 0.456;
    expect(describeNode(meta, node, sim)).toMatch(/ · sim 0\.46$/);
    expect(describeNode(meta, 10_000, null)).toBe("");
  });
});
