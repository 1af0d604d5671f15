import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { assemble, moduleText } from "../wasm/assemble.mjs";

describe("js/wasm/similarity.wasm.js", () => {
  it("is exactly what similarity.wat assembles to (run `npm run wasm` after editing the .wat)", async () => {
    const committed = readFileSync(new URL("../wasm/similarity.wasm.js", import.meta.url), "utf8");
    expect(committed).toBe(moduleText(await assemble()));
  });
});
