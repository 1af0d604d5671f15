// Work that must not delay a click's highlight runs after the frame that draws it.

/**
 * Runs `fn` once the next frame has been drawn (a task after the next animation frame; without
 * requestAnimationFrame, as in tests, after a task).
 * @param {() => void} fn
 */
export function afterNextFrame(fn) {
  const frame = globalThis.requestAnimationFrame || ((cb) => setTimeout(cb, 0));
  frame(() => setTimeout(fn, 0));
}
