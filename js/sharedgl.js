// One WebGL context for every 3D view on the page. Browsers keep about 16 live contexts and silently
// drop the oldest past that, so a notebook with 20 widgets used to show blank 3D views. Here one
// WebGLRenderer draws on a detached canvas kept page-wide (js/pagewide.js); each view renders its
// scene into the bottom-left corner of it and copies that into its own 2D canvas (the approach of
// jupyter-scatter). A lost context (GPU reset, a page with too many contexts, WEBGL_lose_context) is
// waited for, else replaced by a fresh one, and every view redraws once drawing works again.
import * as THREE from "./three-kit.js";
import { pageWide } from "./pagewide.js";

// Bumped whenever what the page-wide object offers changes, so two widget versions on one page
// (an old output and a new one) never share an incompatible renderer.
const NAME = `webgl.r${THREE.REVISION}.v1`;
// How long to wait for the browser to restore a lost context before starting a new one.
const RESTORE_WAIT_MS = 1500;
// Larger views are rendered at this size and scaled up (WebGL viewports and buffers are capped).
const MAX_SIDE = 4096;

function createShared(three) {
  const listeners = new Set();
  const shared = { three, users: 0, renderer: null, canvas: null, lost: false, render, onRestore, dispose };
  let waitTimer = 0;

  function start() {
    const canvas = document.createElement("canvas");
    canvas.addEventListener("webglcontextlost", onLost);
    canvas.addEventListener("webglcontextrestored", onRestored);
    let renderer;
    try {
      renderer = new three.WebGLRenderer({ canvas, antialias: false, alpha: false });
    } catch (err) {
      canvas.removeEventListener("webglcontextlost", onLost);
      canvas.removeEventListener("webglcontextrestored", onRestored);
      throw err;
    }
    renderer.setPixelRatio(1);
    Object.assign(shared, { canvas, renderer, lost: false });
  }

  function stop() {
    clearTimeout(waitTimer);
    const { canvas, renderer } = shared;
    if (!renderer) return;
    canvas.removeEventListener("webglcontextlost", onLost);
    canvas.removeEventListener("webglcontextrestored", onRestored);
    renderer.dispose();
    // Give the context back now rather than when garbage collection gets to it.
    if (!shared.lost) renderer.forceContextLoss();
    shared.renderer = shared.canvas = null;
  }

  function onLost(event) {
    // preventDefault tells the browser we will use a restored context (three.js does it too).
    event.preventDefault();
    shared.lost = true;
    clearTimeout(waitTimer);
    waitTimer = setTimeout(replace, RESTORE_WAIT_MS);
  }

  function onRestored() {
    // three.js rebuilt its GL state in its own listener (registered first); geometries, textures
    // and programs upload again on the next render.
    clearTimeout(waitTimer);
    shared.lost = false;
    notify();
  }

  function replace() {
    stop();
    try {
      start();
    } catch (err) {
      console.warn("ncut_widget: the 3D views lost their WebGL context and a new one could not be created", err);
      return;
    }
    notify();
  }

  function notify() {
    for (const fn of [...listeners]) fn();
  }

  /**
   * Renders `scene` through `camera` and copies the picture into `ctx` (a 2D context of w×h pixels).
   * @returns {boolean} false while there is no context: the view keeps its last picture, and
   *   onRestore listeners run once drawing works again
   */
  function render(scene, camera, background, ctx, w, h) {
    const { renderer, canvas } = shared;
    if (shared.lost || !renderer) return false;
    const rw = Math.min(w, MAX_SIDE);
    const rh = Math.min(h, MAX_SIDE);
    // The drawing buffer only grows: resizing it per view would reallocate it on every frame.
    if (canvas.width < rw || canvas.height < rh) {
      renderer.setSize(Math.max(canvas.width, rw), Math.max(canvas.height, rh), false);
    }
    renderer.setViewport(0, 0, rw, rh);
    renderer.setScissor(0, 0, rw, rh);
    renderer.setScissorTest(true);
    renderer.setClearColor(background, 1);
    renderer.render(scene, camera);
    if (renderer.getContext().isContextLost()) return false;
    // Same task as the render: the drawing buffer is still intact (no preserveDrawingBuffer needed).
    // WebGL's origin is bottom-left, so the viewport is the bottom rows of the canvas.
    ctx.drawImage(canvas, 0, canvas.height - rh, rw, rh, 0, 0, w, h);
    return true;
  }

  function onRestore(fn) {
    listeners.add(fn);
    return () => listeners.delete(fn);
  }

  function dispose() {
    stop();
    listeners.clear();
  }

  start();
  return shared;
}

/**
 * A handle on the page's shared renderer (created on first use; disposed with its last user).
 * Throws when the browser provides no WebGL.
 * @returns {{three: typeof THREE, render: Function, onRestore: (fn: () => void) => () => void, release: () => void}}
 */
export function acquireRenderer() {
  const page = pageWide();
  let shared = page[NAME];
  if (!shared) {
    shared = createShared(THREE);
    page[NAME] = shared;
  }
  shared.users++;
  const offs = new Set();
  let released = false;
  return {
    three: shared.three,
    render: (...args) => shared.render(...args),
    onRestore(fn) {
      const off = shared.onRestore(fn);
      offs.add(off);
      return off;
    },
    release() {
      if (released) return;
      released = true;
      offs.forEach((off) => off());
      shared.users--;
      if (shared.users === 0) {
        shared.dispose();
        if (page[NAME] === shared) delete page[NAME];
      }
    },
  };
}
