// The figure of the seed tutorial, live: a row of photos, then one row of colormaps per resolution,
// one column per image. Colormaps are drawn crisp at their patch grid; clicking a patch selects its
// node, dragging a rectangle on a cell selects the patches it encloses (Shift adds, Alt removes),
// and a selection turns every cell into a similarity view.
import { dimParams, parseCssRgb } from "./contrast.js";
import { bandLayout, pageOf, pageRange, patchAt } from "./gridlayout.js";
import { describeNode, finestResolution, nodeId, nodeInfo } from "./layout.js";
import { drawBorders, markPatch, paintOverlay, paintPatches } from "./paint.js";
import { patchesInRect } from "./regions.js";
import { segmentEdges } from "./segments.js";
import { watchBackground } from "./theme.js";

const PHOTO = -1;
const CLICK_SLOP_PX = 4;

/**
 * Mounts the image grid into `container` and keeps it in sync with the store.
 * @param {ReturnType<import("./store.js").createStore>} store
 * @param {HTMLElement} container scrollable element the grid fills
 * @returns {() => void} teardown
 */
export function createImageGrid(store, container) {
  const grid = document.createElement("div");
  grid.className = "ncut-grid";
  const message = document.createElement("div");
  message.className = "ncut-placeholder";
  const tooltip = document.createElement("div");
  tooltip.className = "ncut-tooltip";
  tooltip.setAttribute("role", "status");
  tooltip.hidden = true;
  const box = document.createElement("div"); // the rectangle being dragged
  box.className = "ncut-box";
  box.hidden = true;
  // Many images (a map grown by add_images) show a page at a time: a click repaints one page.
  const pager = document.createElement("div");
  pager.className = "ncut-pager";
  pager.hidden = true;
  const prev = document.createElement("button");
  prev.type = "button";
  prev.textContent = "‹ Prev";
  const pageLabel = document.createElement("span");
  const next = document.createElement("button");
  next.type = "button";
  next.textContent = "Next ›";
  pager.append(prev, pageLabel, next);
  container.append(message, pager, grid, tooltip, box);
  let page = 0;

  // {canvas, res, image, w, h}: w×h is the cell's backing size in device pixels as last laid out,
  // 0 until the cell has been laid out. Canvases are sized from these observed sizes only, never
  // from a layout read while the page hides us (JupyterLab hides its whole shell for one frame when
  // it switches themes: sizing then left every canvas 1×1, one flat colour, until the next click).
  let cells = [];
  const cellOf = new Map(); // canvas -> cell
  let photos = []; // HTMLImageElement | undefined per image (decoded when its page shows)
  const pending = new Set(); // images whose thumbnail is decoding
  let scratch = []; // per resolution: an h×w canvas holding the patch colors
  let builtFor = null; // the meta the DOM was built for
  let perBand = 0; // image columns per band in the built DOM
  let labelWidth = 40; // the row-label column, measured once built
  let frame = 0;
  let generation = 0;

  function layoutMeta() {
    return store.data ? store.data.meta : store.meta;
  }

  /** Columns per band and cell width for the pane as it is now; null while it has no size. */
  function layout(meta) {
    const style = getComputedStyle(container);
    const padX = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
    const padY = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom);
    const { first, end } = pageRange(meta.images.length, page);
    const shown = meta.images.slice(first, end);
    return bandLayout({
      n: shown.length,
      aspects: shown.map((img) => (img.width || 1) / (img.height || 1)),
      rows: 1 + meta.resolutions.length,
      // clientWidth leaves out the scrollbar, and the pane always reserves its room
      // (scrollbar-gutter: stable), so a vertical scrollbar coming or going changes nothing here.
      width: container.clientWidth - padX,
      height: container.clientHeight - padY,
      labelWidth,
    });
  }

  function build() {
    const meta = layoutMeta();
    if (meta === builtFor) return;
    builtFor = meta;
    grid.replaceChildren();
    for (const cell of cells) cellObserver.unobserve(cell.canvas);
    cells = [];
    cellOf.clear();
    const ready = !!(meta.images && meta.resolutions);
    message.hidden = ready;
    message.textContent = store.decodeError ? `Could not decode the results: ${store.decodeError}` : "Waiting for results…";
    if (!ready) return;
    // Many images wrap into bands of `perBand` columns so the cells fit the pane's width; more
    // than a page of them show one page at a time.
    const range = pageRange(meta.images.length, page);
    page = range.page;
    pager.hidden = range.pages < 2;
    pageLabel.textContent = `Images ${range.first + 1}–${range.end} of ${meta.images.length} (page ${page + 1}/${range.pages})`;
    prev.disabled = page === 0;
    next.disabled = page >= range.pages - 1;
    pager.dataset.page = String(page);
    const n = range.end - range.first;
    const fit = layout(meta);
    perBand = fit ? fit.perBand : n;
    grid.style.gridTemplateColumns = `auto repeat(${perBand}, var(--ncut-cell-w, 120px))`;
    if (fit) grid.style.setProperty("--ncut-cell-w", `${fit.cell}px`);
    const rows = [
      { res: PHOTO, label: "image" },
      ...meta.resolutions.map((r, i) => ({ res: i, label: String(r.label) })),
    ];
    const pad = (count) => {
      for (let i = 0; i < count; i++) grid.append(document.createElement("span"));
    };
    for (let first = range.first; first < range.end; first += perBand) {
      const band = meta.images.slice(first, Math.min(first + perBand, range.end));
      const missing = perBand - band.length;
      pad(1);
      band.forEach((img, offset) => {
        const name = document.createElement("div");
        name.className = "ncut-colname";
        name.dataset.image = String(first + offset);
        name.tabIndex = 0;
        name.setAttribute("role", "button");
        name.title = `${img.name}${img.added ? " (added to the fitted map)" : ""}: click to focus this image`;
        name.textContent = img.name;
        if (img.added) {
          // Placed into the map by add_images, not part of the fit.
          const badge = document.createElement("span");
          badge.className = "ncut-added-badge";
          badge.textContent = "added";
          name.classList.add("ncut-added");
          name.prepend(badge);
        }
        grid.append(name);
      });
      pad(missing);
      for (const row of rows) {
        const label = document.createElement("div");
        label.className = "ncut-rowlabel";
        label.textContent = row.label;
        grid.append(label);
        band.forEach((img, offset) => {
          const image = first + offset;
          const canvas = document.createElement("canvas");
          canvas.className = store.data ? "ncut-cell" : "ncut-cell ncut-loading";
          const aspect = Math.min(2, Math.max(0.5, (img.width || 1) / (img.height || 1)));
          canvas.style.aspectRatio = String(aspect);
          canvas.title = `${img.name} · ${row.res === PHOTO ? "photo" : row.label}`;
          // Stable hooks for tests and page scripts, independent of DOM order.
          canvas.dataset.res = row.res === PHOTO ? "photo" : String(row.res);
          canvas.dataset.image = String(image);
          grid.append(canvas);
          const cell = { canvas, res: row.res, image, w: 0, h: 0 };
          cells.push(cell);
          cellOf.set(canvas, cell);
          observeCell(canvas);
        });
        pad(missing);
      }
    }
    // The label column is as wide as its longest label: measure it, and lay out again with it.
    const label = grid.querySelector(".ncut-rowlabel");
    if (label && label.offsetWidth > 0) labelWidth = label.offsetWidth;
    relayout();
    loadPhotos(range.first, range.end);
  }

  /** Decodes the thumbnails of images first..end-1 that are not decoded yet (a page at a time). */
  function loadPhotos(first, end) {
    const gen = generation;
    if (!store.data) return;
    store.data.thumbnails.slice(first, end).forEach((blob, j) => {
      const i = first + j;
      if (photos[i] || pending.has(i)) return;
      pending.add(i);
      // An <img> rather than createImageBitmap: it decodes every format the browser shows (SVG too).
      const url = URL.createObjectURL(blob);
      const img = new Image();
      img.src = url;
      img
        .decode()
        .then(() => {
          if (gen !== generation) return;
          photos[i] = img;
          requestDraw();
        })
        .catch((err) => console.warn(`ncut_widget: thumbnail ${i} did not decode`, err))
        .finally(() => {
          pending.delete(i);
          URL.revokeObjectURL(url);
        });
    });
  }

  function resetPhotos() {
    generation++;
    photos = [];
    pending.clear();
    scratch = [];
    if (!store.data) return;
    scratch = store.data.meta.resolutions.map((r) => {
      const canvas = document.createElement("canvas");
      canvas.width = r.w;
      canvas.height = r.h;
      // One ImageData per resolution, rewritten whole by every paint: a fresh one per cell and
      // click was 6 MB of garbage a click at a million nodes.
      const ctx = canvas.getContext("2d");
      return { canvas, ctx, img: ctx.createImageData(r.w, r.h) };
    });
  }

  /** Follows the pane's size: a new band count rebuilds the grid, else only the cell width changes. */
  function relayout() {
    const meta = builtFor;
    if (!meta || !meta.images) return;
    const fit = layout(meta);
    if (!fit) return; // hidden: keep the layout we have
    if (fit.perBand !== perBand) {
      builtFor = null;
      build();
      return;
    }
    grid.style.setProperty("--ncut-cell-w", `${fit.cell}px`);
  }

  // Each cell's own size, observed: cells change size with the pane, the band count, the zoom level.
  const cellObserver = new ResizeObserver((entries) => {
    let changed = false;
    for (const entry of entries) {
      const cell = cellOf.get(entry.target);
      const { width, height } = entry.contentRect;
      if (!cell || !(width > 0 && height > 0)) continue; // hidden: keep the last size and picture
      const device = entry.devicePixelContentBoxSize?.[0];
      const dpr = window.devicePixelRatio || 1;
      const w = device ? device.inlineSize : Math.round(width * dpr);
      const h = device ? device.blockSize : Math.round(height * dpr);
      if (w !== cell.w || h !== cell.h) {
        cell.w = w;
        cell.h = h;
        changed = true;
      }
    }
    if (changed) requestDraw();
  });
  function observeCell(canvas) {
    try {
      cellObserver.observe(canvas, { box: "device-pixel-content-box" });
    } catch {
      cellObserver.observe(canvas);
    }
  }

  /** A cell built since the observer last reported: its layout now, if it has one. */
  function measure(cell) {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.round(cell.canvas.clientWidth * dpr);
    const h = Math.round(cell.canvas.clientHeight * dpr);
    if (w > 0 && h > 0) Object.assign(cell, { w, h });
  }

  function requestDraw() {
    if (!frame) frame = requestAnimationFrame(draw);
  }

  function draw() {
    frame = 0;
    if (!store.data) return;
    const meta = store.data.meta;
    const dim = dimParams(parseCssRgb(getComputedStyle(container).backgroundColor));
    const finest = finestResolution(meta);
    for (const cell of cells) {
      if (!cell.w) measure(cell);
      const { canvas, res, image, w: cw, h: ch } = cell;
      if (!cw || !ch) continue; // not laid out (hidden): the observer draws it once it is
      if (canvas.width !== cw || canvas.height !== ch) {
        canvas.width = cw;
        canvas.height = ch;
      }
      const ctx = canvas.getContext("2d");
      ctx.clearRect(0, 0, cw, ch);
      const photo = photos[image];
      if (res === PHOTO || store.blend) {
        ctx.imageSmoothingEnabled = true;
        if (photo) ctx.drawImage(photo, 0, 0, cw, ch);
      }
      const r = meta.resolutions[res === PHOTO ? finest : res];
      const { canvas: small, ctx: sctx, img } = scratch[res === PHOTO ? finest : res];
      if (res === PHOTO) {
        if (store.sim) {
          paintOverlay(img.data, store, r, image);
          sctx.putImageData(img, 0, 0);
          ctx.imageSmoothingEnabled = true;
          ctx.drawImage(small, 0, 0, cw, ch);
        }
      } else {
        paintPatches(img.data, store, r, image, dim);
        sctx.putImageData(img, 0, 0);
        ctx.imageSmoothingEnabled = false;
        ctx.globalAlpha = store.blend && photo ? 0.6 : 1;
        ctx.drawImage(small, 0, 0, cw, ch);
        ctx.globalAlpha = 1;
      }
      if (store.segmentMode && store.borders) {
        // Segment borders: on the photo, the finest resolution's.
        drawBorders(ctx, segmentEdges(store.data.segments, store.data.nNodes, store.segmentLevel, r, image), cw / r.w, ch / r.h);
      }
      for (const [nodes, negative] of [[store.markedNodes, false], [store.markedNegatives, true]]) {
        for (const node of nodes) {
          const info = nodeInfo(meta, node);
          if (!info || info.image !== image || (res !== PHOTO && info.res !== res)) continue;
          const rr = meta.resolutions[info.res];
          markPatch(ctx, (info.col / rr.w) * cw, (info.row / rr.h) * ch, cw / rr.w, ch / rr.h, negative);
        }
      }
    }
  }

  /**
   * The node under a pointer event on a cell (the photo row maps onto the finest grid); -1 elsewhere.
   * Hover and click both come here with pointer events, whose coordinates carry the same sub-pixel
   * precision (a `click` event's are whole pixels, which could pick the patch left of the hovered one).
   */
  function nodeAt(e) {
    const cell = cellOf.get(e.target);
    if (!cell || !store.data) return -1;
    const meta = store.data.meta;
    const r = meta.resolutions[cell.res === PHOTO ? finestResolution(meta) : cell.res];
    const rect = cell.canvas.getBoundingClientRect();
    const { row, col } = patchAt(r, rect.width, rect.height, e.clientX - rect.left, e.clientY - rect.top);
    return nodeId(r, cell.image, row, col);
  }

  let down = null;
  let pressed = false; // a pointer press was just handled: the click event after it is the same click
  function onPointerDown(e) {
    down = e.button === 0 ? { x: e.clientX, y: e.clientY, target: e.target, dragging: false } : null;
    pressed = false;
    // Keep the drag's events on its cell when the pointer leaves it (the rectangle clamps to it).
    if (down && cellOf.has(e.target)) e.target.setPointerCapture?.(e.pointerId);
  }

  /** The dragged rectangle, in the pointer's client px, clamped to the cell it started on. */
  function dragRect(e) {
    const rect = down.target.getBoundingClientRect();
    const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
    const x = clamp(e.clientX, rect.left, rect.right);
    const y = clamp(e.clientY, rect.top, rect.bottom);
    return { rect, x0: down.x, y0: down.y, x1: x, y1: y };
  }

  function showBox(e) {
    const { x0, y0, x1, y1 } = dragRect(e);
    // The pane scrolls: place the box in its content coordinates, like the tooltip.
    const pane = container.getBoundingClientRect();
    box.style.left = `${Math.min(x0, x1) - pane.left + container.scrollLeft}px`;
    box.style.top = `${Math.min(y0, y1) - pane.top + container.scrollTop}px`;
    box.style.width = `${Math.abs(x1 - x0)}px`;
    box.style.height = `${Math.abs(y1 - y0)}px`;
    box.hidden = false;
  }

  function selectBox(e) {
    const cell = cellOf.get(down.target);
    const meta = store.data.meta;
    const r = meta.resolutions[cell.res === PHOTO ? finestResolution(meta) : cell.res];
    const { rect, x0, y0, x1, y1 } = dragRect(e);
    const patches = patchesInRect(r, rect.width, rect.height, x0 - rect.left, y0 - rect.top, x1 - rect.left, y1 - rect.top);
    store.selectRegion(
      patches.map(({ row, col }) => nodeId(r, cell.image, row, col)),
      e,
    );
  }

  function onPointerMove(e) {
    if (down && store.data && cellOf.has(down.target)) {
      if (!down.dragging && Math.hypot(e.clientX - down.x, e.clientY - down.y) > CLICK_SLOP_PX) down.dragging = true;
      if (down.dragging) {
        tooltip.hidden = true;
        showBox(e);
        return;
      }
    }
    onHover(e);
  }

  function onPointerUp(e) {
    if (!down || e.button !== 0) return;
    pressed = true;
    if (down.dragging) {
      box.hidden = true;
      selectBox(e);
      down = null;
      return;
    }
    const { x, y, target } = down;
    down = null;
    if (e.target !== target || Math.hypot(e.clientX - x, e.clientY - y) > CLICK_SLOP_PX) return;
    const node = nodeAt(e);
    if (node >= 0) store.clickNode(node, e);
  }

  function onPointerCancel() {
    down = null;
    box.hidden = true;
  }

  /** A click with no pointer press before it (dispatched by a script, or by assistive technology). */
  function onClick(e) {
    if (pressed) {
      pressed = false;
      return;
    }
    const node = nodeAt(e);
    if (node >= 0) store.clickNode(node, e);
  }

  function onHover(e) {
    const node = nodeAt(e);
    const text = node >= 0 ? describeNode(store.data.meta, node, store.sim) : "";
    tooltip.hidden = !text;
    if (!text) return;
    tooltip.textContent = text;
    // The pane scrolls: place the tooltip in its content coordinates.
    const pane = container.getBoundingClientRect();
    const x = e.clientX - pane.left + container.scrollLeft;
    const fitsRight = x + 12 + tooltip.offsetWidth <= container.scrollLeft + container.clientWidth;
    tooltip.style.left = `${fitsRight ? x + 12 : Math.max(container.scrollLeft, x - 12 - tooltip.offsetWidth)}px`;
    tooltip.style.top = `${e.clientY - pane.top + container.scrollTop + 12}px`;
  }

  function onLeave() {
    tooltip.hidden = true;
  }

  function onData() {
    builtFor = null;
    resetPhotos();
    build();
    requestDraw();
  }

  function turnPage(delta) {
    page += delta;
    builtFor = null;
    build();
    requestDraw();
  }
  /** A node picked elsewhere (3D, Python) on another page: show its page. */
  function onSimilarity() {
    const meta = builtFor;
    if (store.data && meta && store.anchor >= 0 && meta.images.length > 1) {
      const info = nodeInfo(store.data.meta, store.anchor);
      if (info && pageOf(info.image) !== page) {
        turnPage(pageOf(info.image) - page);
        return;
      }
    }
    requestDraw();
  }
  const onPrev = () => turnPage(-1);
  const onNext = () => turnPage(1);
  prev.addEventListener("click", onPrev);
  next.addEventListener("click", onNext);

  grid.addEventListener("pointerdown", onPointerDown);
  grid.addEventListener("pointerup", onPointerUp);
  grid.addEventListener("click", onClick);
  grid.addEventListener("pointermove", onPointerMove);
  grid.addEventListener("pointercancel", onPointerCancel);
  grid.addEventListener("pointerleave", onLeave);
  const paneObserver = new ResizeObserver(relayout);
  paneObserver.observe(container);
  const unsubscribe = [
    store.on("meta", build),
    store.on("data", onData),
    store.on("similarity", onSimilarity),
    store.on("style", requestDraw),
    // The dim grey follows the background (js/contrast.js): a theme switch repaints.
    watchBackground(container, requestDraw),
  ];
  onData();

  return () => {
    unsubscribe.forEach((off) => off());
    paneObserver.disconnect();
    cellObserver.disconnect();
    cancelAnimationFrame(frame);
    grid.removeEventListener("pointerdown", onPointerDown);
    grid.removeEventListener("pointerup", onPointerUp);
    grid.removeEventListener("click", onClick);
    grid.removeEventListener("pointermove", onPointerMove);
    grid.removeEventListener("pointercancel", onPointerCancel);
    grid.removeEventListener("pointerleave", onLeave);
    prev.removeEventListener("click", onPrev);
    next.removeEventListener("click", onNext);
    generation++;
    container.replaceChildren();
  };
}
