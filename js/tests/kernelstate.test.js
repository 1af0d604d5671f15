import { describe, expect, it } from "vitest";
import { canReachKernel, kernelNotice, nextKernelState } from "../kernelstate.js";

const run = (events, start = "connected") => events.reduce(nextKernelState, start);

describe("nextKernelState", () => {
  it("stays connected through busy/idle", () => {
    expect(run([{ status: "busy" }, { status: "idle" }, { connection: "connected" }])).toBe("connected");
  });

  it("marks a restart for good: the kernel coming back idle does not reconnect this output", () => {
    const events = [{ status: "restarting" }, { commLost: true }, { connection: "connecting" }, { connection: "connected" }, { status: "idle" }];
    expect(run(events)).toBe("restarted");
    expect(run([{ status: "autorestarting" }, { status: "starting" }, { status: "idle" }])).toBe("restarted");
  });

  it("says the kernel restarted even when ipywidgets marks the view disconnected first", () => {
    expect(run([{ commLost: true }, { status: "restarting" }])).toBe("restarted");
  });

  it("tells a dead kernel and a shut-down one apart", () => {
    expect(run([{ status: "dead" }])).toBe("dead");
    expect(run([{ disposed: true }])).toBe("shutdown");
    expect(run([{ status: "dead" }, { disposed: true }])).toBe("shutdown");
  });

  it("shows a lost connection only until it comes back", () => {
    expect(run([{ connection: "disconnected" }])).toBe("reconnecting");
    expect(run([{ connection: "disconnected" }, { connection: "connecting" }, { connection: "connected" }])).toBe("connected");
  });

  it("never lets a vaguer event hide what the kernel said", () => {
    expect(run([{ status: "restarting" }, { commLost: true }, { connection: "disconnected" }])).toBe("restarted");
    expect(run([{ commLost: true }, { connection: "disconnected" }, { connection: "connected" }])).toBe("offline");
  });
});

describe("kernelNotice", () => {
  it("explains each disconnected state and says nothing while connected", () => {
    expect(kernelNotice("connected")).toBe("");
    expect(kernelNotice("restarted")).toMatch(/kernel restarted.*no longer connected.*Clicks still work.*re-run the cell/);
    expect(kernelNotice("dead")).toMatch(/kernel died/);
    expect(kernelNotice("shutdown")).toMatch(/kernel shut down/);
    expect(kernelNotice("offline")).toMatch(/not connected to a kernel/);
    expect(kernelNotice("reconnecting")).toMatch(/Reconnecting/);
  });

  it("sends changes while connected or reconnecting, not to a kernel that is gone", () => {
    expect(canReachKernel("connected")).toBe(true);
    expect(canReachKernel("reconnecting")).toBe(true);
    for (const s of ["offline", "restarted", "dead", "shutdown"]) expect(canReachKernel(s)).toBe(false);
  });
});
