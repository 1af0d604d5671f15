// One WebGL context for every 3D view on the page. Browsers keep about 16 live contexts and silently
// drop the oldest past that, so a notebook with 20 widgets used to show blank 3D views. Here one
// WebGLRenderer, kept page-wide (js/pagewide.js), draws every view.
//
// Its canvas takes the place of one view's own canvas at a time, the active one (the one last
// interacted with), which so draws straight to the screen: getting a WebGL frame anywhere else (drawImage, createImageBitmap,
// transferToImageBitmap) makes the page wait for the GPU, which with software WebGL took a click
// from 6 to 70 ms at 25,600 nodes. Every other view shows its last frame in a canvas of its own,
// copied there with drawImage after rendering it (the approach of jupyter-scatter). One page-wide
// frame loop renders what changed: passive views first, the active one last, so the shared canvas
// ends the frame holding the active view's picture.
//
// A lost context (GPU reset, a page with too many contexts, WEBGL_lose_context) is waited for, else
// replaced by a fresh one, and every view redraws once drawing works again.
import * as THREE from "./three-kit.js";
import { pageWide } from "./pagewide.js";

// Bumped whenever what the page-wide object offers changes, so two widget versions on one page
// (an old output and a new one) never share an incompatible renderer.
const NAME = `webgl.r${THREE.REVISION}.v3`;
// How long to wait for the browser to restore a lost context before starting a new one.
const RESTORE_WAIT_MS = 1500;
// Larger views are rendered at this size and scaled up (WebGL viewports and buffers are capped).
const MAX_SIDE = 4096;

/**
 * @typedef {object} GlView one 3D view, as the shared renderer sees it
 * @property {HTMLElement} host the element holding the view's canvas (and taking its events)
 * @property {HTMLCanvasElement} picture the view's own canvas (2D), in `host`: its frames while it is
 *   not active; the shared canvas replaces it while it is
 * @property {() => ({scene: object, camera: object, background: object, w: number, h: number} | null)} frame
 *   what to render now (w×h device pixels); null when the view has no size yet
 */

function createShared(three) {
  const shared = { three, users: 0, renderer: null, canvas: null, lost: false, attach, dispose };
  const views = new Set();
  const dirty = new Set();
  let active = null;
  let shownIn = null; // the view whose picture the shared canvas replaces in the page
  let raf = 0;
  let waitTimer = 0;

  function start() {
    const canvas = document.createElement("canvas");
    canvas.style.cssText = "display:block;width:100%;height:100%";
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
    unshow();
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
    redrawAll();
  }

  function replace() {
    stop();
    try {
      start();
    } catch (err) {
      console.warn("ncut_widget: the 3D views lost their WebGL context and a new one could not be created", err);
      return;
    }
    redrawAll();
  }

  function redrawAll() {
    for (const view of views) dirty.add(view);
    schedule();
  }

  /** Puts the shared canvas in place of `view`'s own (which went back wherever it was shown). */
  function show(view) {
    if (shownIn === view) return;
    unshow();
    const { canvas } = shared;
    if (view.picture.parentNode) view.picture.replaceWith(canvas);
    else view.host.append(canvas);
    shownIn = view;
  }

  function unshow() {
    const { canvas } = shared;
    if (shownIn && canvas?.parentNode) canvas.replaceWith(shownIn.picture);
    else canvas?.remove();
    shownIn = null;
  }

  function schedule() {
    if (!raf) raf = requestAnimationFrame(flush);
  }

  function render({ scene, camera, background }, w, h) {
    const { renderer } = shared;
    renderer.setViewport(0, 0, w, h);
    renderer.setScissor(0, 0, w, h);
    renderer.setScissorTest(true);
    renderer.setClearColor(background, 1);
    renderer.render(scene, camera);
  }

  function flush() {
    raf = 0;
    const { renderer, canvas } = shared;
    if (shared.lost || !renderer) return; // what is dirty stays dirty until the context is back
    if (!active && dirty.size) active = dirty.values().next().value;
    let passiveDrawn = false;
    for (const view of [...dirty]) {
      if (view === active) continue;
      dirty.delete(view);
      const frame = view.frame();
      if (!frame) continue;
      const w = Math.min(frame.w, MAX_SIDE);
      const h = Math.min(frame.h, MAX_SIDE);
      if (canvas.width < w || canvas.height < h) renderer.setSize(Math.max(canvas.width, w), Math.max(canvas.height, h), false);
      render(frame, w, h);
      if (renderer.getContext().isContextLost()) return;
      // Same task as the render, so the drawing buffer is intact; WebGL's origin is bottom-left.
      const picture = view.picture;
      if (picture.width !== frame.w || picture.height !== frame.h) {
        picture.width = frame.w;
        picture.height = frame.h;
      }
      picture.getContext("2d").drawImage(canvas, 0, canvas.height - h, w, h, 0, 0, frame.w, frame.h);
      passiveDrawn = true;
    }
    // The shared canvas shows the active view: redraw it when it changed, or when it was drawn over.
    if (active && (dirty.has(active) || passiveDrawn || shownIn !== active)) {
      dirty.delete(active);
      const frame = active.frame();
      if (frame) {
        show(active);
        const w = Math.min(frame.w, MAX_SIDE);
        const h = Math.min(frame.h, MAX_SIDE);
        if (canvas.width !== w || canvas.height !== h) renderer.setSize(w, h, false);
        render(frame, w, h);
      }
    }
  }

  /**
   * Registers a view.
   * @param {GlView} view
   * @returns {{invalidate: () => void, activate: () => void, detach: () => void}}
   */
  function attach(view) {
    views.add(view);
    return {
      /** The view changed: render it in the next frame. */
      invalidate() {
        dirty.add(view);
        schedule();
      },
      /** The user turned to this view: the shared canvas moves over it (its old host keeps a copy). */
      activate() {
        if (active === view) return;
        if (active) dirty.add(active);
        active = view;
        dirty.add(view);
        schedule();
      },
      detach() {
        views.delete(view);
        dirty.delete(view);
        if (shownIn === view) unshow();
        if (active === view) active = null;
      },
    };
  }

  function dispose() {
    cancelAnimationFrame(raf);
    stop();
    views.clear();
    dirty.clear();
  }

  start();
  return shared;
}

/**
 * A handle on the page's shared renderer (created on first use; disposed with its last user).
 * Throws when the browser provides no WebGL.
 * @returns {{three: typeof THREE, attach: (view: GlView) => {invalidate: () => void, activate: () => void,
 *   detach: () => void}, release: () => void}}
 */
export function acquireRenderer() {
  const page = pageWide();
  let shared = page[NAME];
  if (!shared) {
    shared = createShared(THREE);
    page[NAME] = shared;
  }
  shared.users++;
  const attached = new Set();
  let released = false;
  return {
    three: shared.three,
    attach(view) {
      const handle = shared.attach(view);
      attached.add(handle);
      return handle;
    },
    release() {
      if (released) return;
      released = true;
      attached.forEach((handle) => handle.detach());
      shared.users--;
      if (shared.users === 0) {
        shared.dispose();
        if (page[NAME] === shared) delete page[NAME];
      }
    },
  };
}
