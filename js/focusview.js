// The focus view: one image large, every resolution side by side, opened by clicking (or pressing
// Enter on) an image's name in the grid. Finest patches are drawn at least MIN_PATCH_PX so each is
// easy to hit, and a click picks exactly the patch under it. Keyboard: arrows move a focused patch,
// Enter selects it (Shift+Enter adds, Alt+Enter marks a negative), Escape returns to the grid.
import { dimParams, parseCssRgb } from "./contrast.js";
import { patchAt } from "./gridlayout.js";
import { nodeId, nodeInfo } from "./layout.js";
import { markPatch, paintPatches } from "./paint.js";
import { watchBackground } from "./theme.js";

export const MIN_PATCH_PX = 8;

/**
 * CSS size of each resolution's canvas: the image's aspect (clamped like the grid's cells), at
 * least MIN_PATCH_PX per patch of the finest grid, and filling `width` shared between resolutions.
 * @param {{h: number, w: number}} finest the finest resolution
 * @param {number} aspect image width / height
 * @param {number} count resolutions side by side
 * @param {number} width available CSS width
 * @returns {{width: number, height: number}}
 */
export function focusCellSize(finest, aspect, count, width) {
  const a = Math.min(2, Math.max(0.5, aspect || 1));
  const gap = 12;
  const fit = Math.floor((width - gap * (count - 1)) / count);
  const w = Math.ceil(Math.max(finest.w * MIN_PATCH_PX, finest.h * MIN_PATCH_PX * a, fit));
  return { width: w, height: Math.ceil(w / a) };
}

/**
 * Mounts the focus view over `container` (the grid pane) and keeps it in sync with the store.
 * @param {ReturnType<import("./store.js").createStore>} store
 * @param {HTMLElement} container positioned; the focus view covers it while open
 * @returns {() => void} teardown
 */
export function createFocusView(store, container) {
  const panel = document.createElement("div");
  panel.className = "ncut-focus";
  panel.hidden = true;
  panel.tabIndex = 0;
  panel.setAttribute("role", "application");
  const header = document.createElement("div");
  header.className = "ncut-focus-header";
  const title = document.createElement("span");
  title.className = "ncut-focus-title";
  const back = document.createElement("button");
  back.type = "button";
  back.className = "ncut-btn";
  back.textContent = "Back to grid";
  back.title = "Back to the grid (Esc)";
  header.append(back, title);
  const row = document.createElement("div");
  row.className = "ncut-focus-row";
  panel.append(header, row);
  container.append(panel);

  let image = -1; // the focused image, -1 while closed
  let cells = []; // {canvas, res}
  let cursor = null; // {res, row, col}: the keyboard's patch

  function open(which) {
    if (!store.data) return;
    image = which;
    cursor = { res: finestIndex(), row: 0, col: 0 };
    // The pane scrolls; the panel covers its top, so show that and let only the panel scroll.
    container.scrollTop = 0;
    container.style.overflow = "hidden";
    build();
    panel.hidden = false;
    panel.focus();
  }

  function close() {
    const was = image;
    image = -1;
    panel.hidden = true;
    container.style.overflow = "";
    row.replaceChildren();
    cells = [];
    container.querySelector(`.ncut-colname[data-image="${was}"]`)?.focus();
  }

  function finestIndex() {
    const res = store.data.meta.resolutions;
    return res.reduce((best, r, i) => (r.h * r.w > res[best].h * res[best].w ? i : best), 0);
  }

  function build() {
    const meta = store.data.meta;
    const img = meta.images[image];
    title.textContent = img.name;
    panel.setAttribute("aria-label", `${img.name}, every resolution; arrows move, Enter selects, Esc returns`);
    const size = focusCellSize(
      meta.resolutions[finestIndex()],
      (img.width || 1) / (img.height || 1),
      meta.resolutions.length,
      container.clientWidth - 24,
    );
    row.replaceChildren();
    cells = meta.resolutions.map((r, res) => {
      const figure = document.createElement("figure");
      figure.className = "ncut-focus-figure";
      const canvas = document.createElement("canvas");
      canvas.className = "ncut-focus-cell";
      canvas.dataset.res = String(res);
      canvas.dataset.image = String(image);
      canvas.style.width = `${size.width}px`;
      canvas.style.height = `${size.height}px`;
      const caption = document.createElement("figcaption");
      caption.textContent = `${r.label} · ${r.h}×${r.w}`;
      figure.append(canvas, caption);
      row.append(figure);
      return { canvas, res };
    });
    draw();
  }

  function draw() {
    if (image < 0 || !store.data) return;
    const meta = store.data.meta;
    const dim = dimParams(parseCssRgb(getComputedStyle(container).backgroundColor));
    const dpr = window.devicePixelRatio || 1;
    for (const { canvas, res } of cells) {
      const r = meta.resolutions[res];
      const cw = Math.round(parseFloat(canvas.style.width) * dpr);
      const ch = Math.round(parseFloat(canvas.style.height) * dpr);
      if (canvas.width !== cw || canvas.height !== ch) Object.assign(canvas, { width: cw, height: ch });
      const small = document.createElement("canvas");
      small.width = r.w;
      small.height = r.h;
      const sctx = small.getContext("2d");
      const px = sctx.createImageData(r.w, r.h);
      paintPatches(px.data, store, r, image, dim);
      sctx.putImageData(px, 0, 0);
      const ctx = canvas.getContext("2d");
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(small, 0, 0, cw, ch);
      for (const [nodes, negative] of [[store.markedNodes, false], [store.markedNegatives, true]]) {
        for (const node of nodes) {
          const info = nodeInfo(meta, node);
          if (!info || info.image !== image || info.res !== res) continue;
          markPatch(ctx, (info.col / r.w) * cw, (info.row / r.h) * ch, cw / r.w, ch / r.h, negative);
        }
      }
      if (cursor && cursor.res === res) {
        // The keyboard's patch: an accent outline distinct from the selection's marks.
        ctx.lineWidth = 2 * dpr;
        ctx.strokeStyle = getComputedStyle(panel).getPropertyValue("--ncut-accent").trim() || "#1a73e8";
        ctx.strokeRect((cursor.col / r.w) * cw + dpr, (cursor.row / r.h) * ch + dpr, cw / r.w - 2 * dpr, ch / r.h - 2 * dpr);
      }
    }
    panel.dataset.cursor = cursor ? `${cursor.res},${cursor.row},${cursor.col}` : "";
  }

  function cursorNode() {
    const r = store.data.meta.resolutions[cursor.res];
    return nodeId(r, image, cursor.row, cursor.col);
  }

  function onClick(e) {
    const canvas = e.target.closest?.(".ncut-focus-cell");
    if (canvas && store.data) {
      const res = Number(canvas.dataset.res);
      const r = store.data.meta.resolutions[res];
      const rect = canvas.getBoundingClientRect();
      const { row: pr, col } = patchAt(r, rect.width, rect.height, e.clientX - rect.left, e.clientY - rect.top);
      cursor = { res, row: pr, col };
      store.clickNode(nodeId(r, image, pr, col), e);
      draw();
    } else if (e.target === back) {
      close();
    }
  }

  function onKey(e) {
    if (image < 0 || !store.data) return;
    const r = store.data.meta.resolutions[cursor.res];
    const moves = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };
    if (e.key in moves) {
      const [dr, dc] = moves[e.key];
      cursor.row = Math.min(r.h - 1, Math.max(0, cursor.row + dr));
      cursor.col = Math.min(r.w - 1, Math.max(0, cursor.col + dc));
      draw();
    } else if (e.key === "Enter") {
      store.clickNode(cursorNode(), e);
    } else if (e.key === "Escape") {
      close();
    } else return;
    // Handled here: the widget's Escape (clear the selection) and page scrolling stay out of it.
    e.preventDefault();
    e.stopPropagation();
  }

  /** Opens on a click on an image's name, or Enter/Space while it has focus. */
  function onName(e) {
    const name = e.target.closest?.(".ncut-colname");
    if (!name || !container.contains(name)) return;
    if (e.type === "keydown" && e.key !== "Enter" && e.key !== " ") return;
    e.preventDefault();
    open(Number(name.dataset.image));
  }

  panel.addEventListener("click", onClick);
  panel.addEventListener("keydown", onKey);
  container.addEventListener("click", onName);
  container.addEventListener("keydown", onName);
  const unsubscribe = [
    store.on("data", () => image >= 0 && close()),
    store.on("similarity", draw),
    store.on("style", draw),
    watchBackground(container, draw),
  ];
  return () => {
    unsubscribe.forEach((off) => off());
    panel.removeEventListener("click", onClick);
    panel.removeEventListener("keydown", onKey);
    container.removeEventListener("click", onName);
    container.removeEventListener("keydown", onName);
    panel.remove();
  };
}
