// The 3D eigen-embedding: one THREE.Points cloud whose per-point `sim` attribute drives emphasis in
// the shader, so a click only re-uploads one float per point. Rendering is on demand (no loop of its
// own), by the page's one shared WebGL renderer (js/sharedgl.js). With its Lasso toggle on, a drag
// draws a screen-space polygon instead of orbiting: the points projected inside it become the
// selection (Shift adds, Alt removes).
import { HEAT_LUT } from "./colormap.js";
import { dimParams, parseCssRgb } from "./contrast.js";
import { describeNode } from "./layout.js";
import { pickNearest } from "./picking.js";
import { nodesInPolygon } from "./regions.js";
import { acquireRenderer } from "./sharedgl.js";
import { watchBackground } from "./theme.js";

const CLICK_SLOP_PX = 4;
const PICK_RADIUS_PX = 8;

const VERTEX = /* glsl */ `
attribute vec3 rgb;
attribute float sim;
uniform float uSize, uHasSel, uThreshold, uMode, uDimAmount;
uniform vec3 uDim;
uniform sampler2D uLut;
varying vec3 vColor;
void main() {
  gl_Position = projectionMatrix * modelViewMatrix * vec4(position, 1.0);
  vec3 c = rgb;
  float size = uSize;
  if (uHasSel > 0.5) {
    float hi = step(uThreshold, sim);
    vec3 heat = texture2D(uLut, vec2(clamp(sim, 0.0, 1.0) * (255.0 / 256.0) + 0.5 / 256.0, 0.5)).rgb;
    if (uMode > 0.5) c = heat;
    // Not highlighted: toward the grey of js/contrast.js (dimColor), visible on any background.
    c = mix(mix(c, uDim, uDimAmount), c, hi);
    size *= mix(0.8, 1.8, hi);
    // Highlighted points win depth ties against the dimmed cloud around them.
    gl_Position.z -= hi * 0.02 * gl_Position.w;
  }
  vColor = c;
  gl_PointSize = size;
}`;

const FRAGMENT = /* glsl */ `
varying vec3 vColor;
void main() {
  vec2 d = gl_PointCoord - 0.5;
  if (dot(d, d) > 0.25) discard;
  gl_FragColor = vec4(vColor, 1.0);
}`;

// Selected nodes: a ring drawn over everything (white inside black; negatives red inside black).
const RING_VERTEX = /* glsl */ `
uniform float uSize;
void main() {
  gl_Position = projectionMatrix * modelViewMatrix * vec4(position, 1.0);
  gl_PointSize = uSize;
}`;
const RING_FRAGMENT = /* glsl */ `
uniform vec3 uInner;
void main() {
  float r = length(gl_PointCoord - 0.5) * 2.0;
  if (r > 1.0 || r < 0.45) discard;
  gl_FragColor = r > 0.75 ? vec4(0.0, 0.0, 0.0, 1.0) : vec4(uInner, 1.0);
}`;

function lutTexture(T) {
  const rgba = new Uint8Array(256 * 4);
  for (let i = 0; i < 256; i++) {
    rgba.set(HEAT_LUT.subarray(i * 3, i * 3 + 3), i * 4);
    rgba[i * 4 + 3] = 255;
  }
  const tex = new T.DataTexture(rgba, 256, 1, T.RGBAFormat);
  tex.magFilter = T.LinearFilter;
  tex.minFilter = T.LinearFilter;
  tex.needsUpdate = true;
  return tex;
}

/** Point size in CSS pixels: large for a few thousand nodes, small for a million. */
function pointSize(n) {
  return Math.min(7, Math.max(1.5, 9 - 1.25 * Math.log10(Math.max(n, 1))));
}

/**
 * Mounts the 3D view into `container` and keeps it in sync with the store.
 * @param {ReturnType<import("./store.js").createStore>} store
 * @param {HTMLElement} container positioned element; the view fills it
 * @returns {{resetCamera: () => void, activate: () => void, destroy: () => void}} the camera is
 *   this view's own (other displays of the model keep theirs); activate when the user turns to it
 */
export function createView3d(store, container) {
  const surface = document.createElement("div");
  surface.className = "ncut-3d-canvas";
  const tooltip = document.createElement("div");
  tooltip.className = "ncut-tooltip";
  tooltip.setAttribute("role", "status");
  tooltip.hidden = true;
  const placeholder = document.createElement("div");
  placeholder.className = "ncut-placeholder";
  const lassoButton = document.createElement("button");
  lassoButton.type = "button";
  lassoButton.className = "ncut-btn ncut-lasso-toggle";
  lassoButton.textContent = "Lasso";
  lassoButton.title = "Drag to draw around points and select them (Shift adds, Alt removes)";
  lassoButton.setAttribute("aria-pressed", "false");
  const SVG = "http://www.w3.org/2000/svg";
  const lassoSvg = document.createElementNS(SVG, "svg");
  lassoSvg.setAttribute("class", "ncut-lasso");
  const lassoShape = document.createElementNS(SVG, "polygon");
  lassoSvg.append(lassoShape);
  lassoSvg.style.display = "none";
  container.append(surface, tooltip, placeholder, lassoSvg, lassoButton);

  let gl;
  try {
    gl = acquireRenderer();
  } catch {
    placeholder.textContent = "The 3D view needs WebGL, which this browser did not provide.";
    lassoButton.remove();
    return { resetCamera() {}, activate() {}, destroy: () => container.replaceChildren() };
  }
  // Every three.js object comes from the renderer's own three.js copy (js/three-kit.js).
  const T = gl.three;
  // The surface takes the pointer and keyboard: the canvas inside it is this view's own (showing its
  // last frame) or, while the view is active, the shared WebGL canvas in its place.
  surface.tabIndex = 0;
  surface.setAttribute("role", "application");
  surface.setAttribute("aria-label", "3D eigenvector embedding; drag to orbit, scroll to zoom, arrow keys to pan");
  const picture = document.createElement("canvas");
  surface.append(picture);

  const scene = new T.Scene();
  const camera = new T.PerspectiveCamera(45, 1, 0.01, 100);
  const controls = new T.OrbitControls(camera, surface);
  controls.enableDamping = false;
  controls.listenToKeyEvents(surface); // arrow keys pan while the view has focus
  const lut = lutTexture(T);
  const bg = new T.Color(1, 1, 1);
  const uniforms = {
    uSize: { value: 3 },
    uHasSel: { value: 0 },
    uThreshold: { value: 0.5 },
    uMode: { value: 0 },
    // A plain vector, not a Color: the shader mixes sRGB values as they are (like the image grid).
    uDim: { value: new T.Vector3(0.5, 0.5, 0.5) },
    uDimAmount: { value: 0.75 },
    uLut: { value: lut },
  };
  const material = new T.ShaderMaterial({ vertexShader: VERTEX, fragmentShader: FRAGMENT, uniforms });
  const ringUniforms = { uSize: { value: 14 }, uInner: { value: new T.Vector3(1, 1, 1) } };
  // Negatives share the size uniform object, so one resize updates both.
  const negRingMaterial = new T.ShaderMaterial({
    vertexShader: RING_VERTEX,
    fragmentShader: RING_FRAGMENT,
    uniforms: { uSize: ringUniforms.uSize, uInner: { value: new T.Vector3(1, 0.3, 0.31) } },
    depthTest: false,
    transparent: true,
  });
  const ringMaterial = new T.ShaderMaterial({
    vertexShader: RING_VERTEX,
    fragmentShader: RING_FRAGMENT,
    uniforms: ringUniforms,
    depthTest: false,
    transparent: true,
  });
  let points = null;
  let rings = null;
  let negRings = null;
  let shownColors = null; // the Uint8Array the rgb attribute holds (RGB or segment colours)
  let home = null; // {position, target}
  let hoverFrame = 0;
  // The view's size as last laid out: CSS pixels and its backing store in device pixels. Never
  // taken from a hidden (0-size) layout, so a draw while the page hides us keeps the right size.
  const size = { cssW: 0, cssH: 0, w: 0, h: 0 };

  /** The camera's column-major view-projection matrix as it is now (picking and the lasso use it). */
  function viewProjection() {
    camera.updateMatrixWorld();
    return new T.Matrix4().multiplyMatrices(camera.projectionMatrix, camera.matrixWorldInverse).elements;
  }

  /** What the shared renderer draws for this view, read when it does (once per frame at most). */
  function frame() {
    if (!size.w || !size.h) return null; // not laid out yet: the ResizeObserver asks again
    // For tests and page scripts: the projection of the frame on screen (docs/wire-format.md).
    surface.dataset.viewProjection = Array.from(viewProjection()).join(",");
    surface.dataset.size = `${size.cssW},${size.cssH}`;
    const css = getComputedStyle(container).backgroundColor;
    if (css && css !== "rgba(0, 0, 0, 0)") bg.setStyle(css);
    const dim = dimParams(parseCssRgb(css));
    uniforms.uDim.value.setScalar(dim.grey / 255);
    uniforms.uDimAmount.value = dim.amount;
    const dpr = size.w / size.cssW;
    uniforms.uSize.value = pointSize(store.data ? store.data.nNodes : 1) * dpr;
    ringUniforms.uSize.value = 14 * dpr;
    return { scene, camera, background: bg, w: size.w, h: size.h };
  }
  const drawing = gl.attach({ host: surface, picture, frame });
  const requestRender = drawing.invalidate;

  function disposeCloud() {
    for (const obj of [points, rings, negRings]) {
      if (!obj) continue;
      scene.remove(obj);
      obj.geometry.dispose();
    }
    points = rings = negRings = null;
  }

  function onData() {
    disposeCloud();
    const data = store.data;
    placeholder.hidden = !!data;
    placeholder.textContent = store.decodeError ? `Could not decode the results: ${store.decodeError}` : "Waiting for results…";
    if (!data) return requestRender();
    const geometry = new T.BufferGeometry();
    geometry.setAttribute("position", new T.BufferAttribute(data.positions, 3));
    shownColors = store.baseColors;
    geometry.setAttribute("rgb", new T.BufferAttribute(shownColors, 3, true));
    geometry.setAttribute("sim", new T.BufferAttribute(new Float32Array(data.nNodes), 1));
    geometry.computeBoundingSphere();
    points = new T.Points(geometry, material);
    points.frustumCulled = false;
    scene.add(points);
    rings = new T.Points(new T.BufferGeometry(), ringMaterial);
    rings.frustumCulled = false;
    rings.renderOrder = 1;
    scene.add(rings);
    negRings = new T.Points(new T.BufferGeometry(), negRingMaterial);
    negRings.frustumCulled = false;
    negRings.renderOrder = 1;
    scene.add(negRings);

    const { center, radius } = geometry.boundingSphere;
    const r = radius || 1;
    camera.near = r / 100;
    camera.far = r * 20;
    home = { position: center.clone().add(new T.Vector3(0.9, 0.6, 2.2).multiplyScalar(r * 1.05)), target: center.clone() };
    resetCamera();
    onSimilarity();
  }

  function resetCamera() {
    if (!home) return;
    camera.position.copy(home.position);
    controls.target.copy(home.target);
    camera.updateProjectionMatrix();
    controls.update();
    requestRender();
  }

  function onSimilarity() {
    if (!points) return;
    const attr = points.geometry.getAttribute("sim");
    if (store.sim) attr.array.set(store.sim);
    attr.needsUpdate = true;
    for (const [obj, marked] of [[rings, store.markedNodes], [negRings, store.markedNegatives]]) {
      const ringPos = new Float32Array(marked.length * 3);
      marked.forEach((id, i) => ringPos.set(store.data.positions.subarray(id * 3, id * 3 + 3), i * 3));
      obj.geometry.dispose();
      obj.geometry = new T.BufferGeometry();
      obj.geometry.setAttribute("position", new T.BufferAttribute(ringPos, 3));
    }
    onStyle();
  }

  function onStyle() {
    if (points && store.baseColors !== shownColors) {
      // Segments mode or its k changed: a new colour array for the same points.
      shownColors = store.baseColors;
      points.geometry.setAttribute("rgb", new T.BufferAttribute(shownColors, 3, true));
    }
    uniforms.uHasSel.value = store.sim ? 1 : 0;
    uniforms.uThreshold.value = store.threshold;
    uniforms.uMode.value = store.colorMode === "similarity" ? 1 : 0;
    requestRender();
  }

  function pickAt(event) {
    if (!points) return -1;
    const rect = surface.getBoundingClientRect();
    return pickNearest(
      store.data.positions,
      viewProjection(),
      rect.width,
      rect.height,
      event.clientX - rect.left,
      event.clientY - rect.top,
      PICK_RADIUS_PX,
    );
  }

  let lassoOn = false;
  let lasso = null; // [[x, y], ...] surface CSS px while a lasso is drawn
  function setLasso(on) {
    lassoOn = on;
    controls.enabled = !on; // the drag draws instead of orbiting
    lassoButton.setAttribute("aria-pressed", String(on));
  }
  function lassoPoint(e) {
    const rect = surface.getBoundingClientRect();
    return [e.clientX - rect.left, e.clientY - rect.top];
  }
  function drawLasso() {
    lassoSvg.style.display = lasso ? "" : "none";
    lassoShape.setAttribute("points", lasso ? lasso.map((p) => p.join(",")).join(" ") : "");
  }

  let down = null;
  function onPointerDown(e) {
    down = { x: e.clientX, y: e.clientY };
    if (lassoOn && e.button === 0 && points) {
      lasso = [lassoPoint(e)];
      surface.setPointerCapture?.(e.pointerId);
      drawLasso();
    }
  }
  function onPointerUp(e) {
    const tiny = down && Math.hypot(e.clientX - down.x, e.clientY - down.y) <= CLICK_SLOP_PX;
    if (lasso && tiny) {
      // A click, not a lasso: it picks the point under it as usual.
      lasso = null;
      drawLasso();
    } else if (lasso) {
      const polygon = lasso;
      lasso = null;
      drawLasso();
      down = null;
      const rect = surface.getBoundingClientRect();
      if (polygon.length >= 3) {
        store.selectRegion(nodesInPolygon(store.data.positions, viewProjection(), rect.width, rect.height, polygon), e);
      }
      return;
    }
    if (!down || e.button !== 0) return;
    const moved = Math.hypot(e.clientX - down.x, e.clientY - down.y);
    down = null;
    if (moved > CLICK_SLOP_PX) return;
    const node = pickAt(e);
    if (node >= 0) store.clickNode(node, e);
  }
  function onPointerMove(e) {
    if (lasso) {
      lasso.push(lassoPoint(e));
      drawLasso();
      return;
    }
    if (e.buttons) {
      tooltip.hidden = true;
      return;
    }
    cancelAnimationFrame(hoverFrame);
    hoverFrame = requestAnimationFrame(() => showTooltip(e));
  }
  function onPointerLeave() {
    cancelAnimationFrame(hoverFrame);
    tooltip.hidden = true;
  }
  function showTooltip(e) {
    const node = pickAt(e);
    const text = node >= 0 ? describeNode(store.data.meta, node, store.sim) : "";
    if (!text) {
      tooltip.hidden = true;
      return;
    }
    tooltip.textContent = text;
    const rect = container.getBoundingClientRect();
    tooltip.style.left = `${e.clientX - rect.left + 12}px`;
    tooltip.style.top = `${e.clientY - rect.top + 12}px`;
    tooltip.hidden = false;
  }

  const onLassoButton = () => setLasso(!lassoOn);
  lassoButton.addEventListener("click", onLassoButton);
  surface.addEventListener("pointerdown", onPointerDown);
  surface.addEventListener("pointerup", onPointerUp);
  surface.addEventListener("pointermove", onPointerMove);
  surface.addEventListener("pointerleave", onPointerLeave);
  controls.addEventListener("change", requestRender);

  const resizeObserver = new ResizeObserver((entries) => {
    const entry = entries[entries.length - 1];
    const { width, height } = entry.contentRect;
    if (!(width > 0 && height > 0)) return; // hidden: keep the last size and picture
    const device = entry.devicePixelContentBoxSize?.[0];
    const dpr = window.devicePixelRatio || 1;
    size.cssW = width;
    size.cssH = height;
    size.w = device ? device.inlineSize : Math.round(width * dpr);
    size.h = device ? device.blockSize : Math.round(height * dpr);
    camera.aspect = width / height;
    camera.updateProjectionMatrix();
    requestRender();
  });
  try {
    // The exact backing size (and a call when only the zoom level changes), where supported.
    resizeObserver.observe(surface, { box: "device-pixel-content-box" });
  } catch {
    resizeObserver.observe(surface);
  }

  const unsubscribe = [
    store.on("data", onData),
    store.on("similarity", onSimilarity),
    store.on("style", onStyle),
    watchBackground(container, requestRender),
  ];
  onData();

  function destroy() {
    unsubscribe.forEach((off) => off());
    resizeObserver.disconnect();
    cancelAnimationFrame(hoverFrame);
    lassoButton.removeEventListener("click", onLassoButton);
    surface.removeEventListener("pointerdown", onPointerDown);
    surface.removeEventListener("pointerup", onPointerUp);
    surface.removeEventListener("pointermove", onPointerMove);
    surface.removeEventListener("pointerleave", onPointerLeave);
    controls.removeEventListener("change", requestRender);
    controls.dispose();
    disposeCloud();
    material.dispose();
    ringMaterial.dispose();
    negRingMaterial.dispose();
    lut.dispose();
    gl.release();
    container.replaceChildren();
  }

  // The user turned to this display: it draws straight to the screen from now on.
  return { resetCamera, activate: drawing.activate, destroy };
}
