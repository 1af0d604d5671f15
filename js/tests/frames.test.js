import { describe, expect, it } from "vitest";
import { afterFrameOnce } from "../frames.js";

const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

describe("afterFrameOnce", () => {
  it("runs once after the frame for a burst of calls, and again for a later call", async () => {
    let runs = 0;
    const schedule = afterFrameOnce(() => runs++);
    schedule();
    schedule();
    schedule();
    expect(runs).toBe(0); // deferred, not run in the calling task
    await tick();
    expect(runs).toBe(1);
    schedule();
    await tick();
    expect(runs).toBe(2);
  });
});
