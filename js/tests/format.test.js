import { describe, expect, it } from "vitest";
import { formatCount, summaryText } from "../format.js";

describe("formatCount", () => {
  it("groups thousands whatever the size", () => {
    expect(formatCount(0)).toBe("0");
    expect(formatCount(999)).toBe("999");
    expect(formatCount(3840)).toBe("3,840");
    expect(formatCount(313600)).toBe("313,600");
    expect(formatCount(1048576)).toBe("1,048,576");
  });
});

describe("summaryText", () => {
  it("formats every count of the selection summary", () => {
    expect(summaryText({ nNodes: 313600, selected: 1200, highlighted: 45678, threshold: 0.6 })).toBe(
      "1,200 selected · 45,678 of 313,600 nodes ≥ 0.60",
    );
  });

  it("counts negatives when there are some", () => {
    expect(summaryText({ nNodes: 3840, selected: 3, negative: 1200, highlighted: 40, threshold: 0.5 })).toBe(
      "3 selected · 1,200 negative · 40 of 3,840 nodes ≥ 0.50",
    );
  });

  it("invites a click without a selection", () => {
    expect(summaryText({ nNodes: 3840, selected: 0, highlighted: null, threshold: 0.5 })).toBe(
      "3,840 nodes · click a point or a patch",
    );
  });
});
