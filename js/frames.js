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

/**
 * A coalescing scheduler: each call asks for `fn` after the next frame; calls made before it runs
 * share that one run (a burst of clicks costs one deferred pass).
 * @param {() => void} fn
 * @returns {() => void} schedule
 */
export function afterFrameOnce(fn) {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    afterNextFrame(() => {
      pending = false;
      fn();
    });
  };
}
