// Whether an output is still connected to its kernel, as a small state machine over what the page
// reports (kernel status, connection status, the kernel connection's disposal, ipywidgets marking the
// view disconnected), and the banner each state shows. Pure: js/kernelwatch.js feeds it events.

/**
 * @typedef {"connected" | "reconnecting" | "offline" | "restarted" | "dead" | "shutdown"} KernelState
 * @typedef {{status?: string, connection?: string, disposed?: boolean, commLost?: boolean}} KernelEvent
 */

// How definitive a state is: the kernel's own word on what happened (restarted, dead, shut down)
// replaces a vaguer one, never the other way round; none of them goes back to connected, because
// the kernel that owned this output's comm is gone.
const RANK = { connected: 0, reconnecting: 1, offline: 2, restarted: 3, dead: 3, shutdown: 3 };

/**
 * The state after one event.
 * @param {KernelState} state
 * @param {KernelEvent} event
 * @returns {KernelState}
 */
export function nextKernelState(state, event) {
  let next = state;
  if (event.disposed) next = "shutdown";
  else if (event.status === "restarting" || event.status === "autorestarting") next = "restarted";
  else if (event.status === "dead") next = "dead";
  else if (event.commLost) next = "offline";
  else if (event.connection === "disconnected" || event.connection === "connecting") next = "reconnecting";
  else if (event.connection === "connected" && state === "reconnecting") return "connected";
  if (RANK[next] < RANK[state]) return state;
  // A terminal state stays unless the kernel says something newer (restarted after died, ...).
  if (RANK[state] === 3 && RANK[next] < 3) return state;
  return next;
}

/**
 * The banner text for a state; empty while connected.
 * @param {KernelState} state
 * @returns {string}
 */
export function kernelNotice(state) {
  switch (state) {
    case "restarted":
      return "The kernel restarted: this output is no longer connected. Clicks still work here; re-run the cell to reconnect.";
    case "dead":
      return "The kernel died: this output is no longer connected. Clicks still work here; restart the kernel and re-run the cell to reconnect.";
    case "shutdown":
      return "The kernel shut down: this output is no longer connected. Clicks still work here; re-run the cell with a running kernel to reconnect.";
    case "offline":
      return "This output is not connected to a kernel. Clicks still work here; re-run the cell to connect.";
    case "reconnecting":
      return "Lost the connection to the kernel; clicks still work here. Reconnecting…";
    default:
      return "";
  }
}

/**
 * Whether changes made in this output can still reach the kernel: while connected, and while the
 * connection comes back (the kernel connection queues messages until then).
 * @param {KernelState} state
 * @returns {boolean}
 */
export function canReachKernel(state) {
  return state === "connected" || state === "reconnecting";
}
