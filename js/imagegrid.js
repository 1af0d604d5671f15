// The figure of the seed tutorial, live: a row of photos, then one row of colormaps per resolution,
// one column per image. Colormaps are drawn crisp at their patch grid; clicking a patch selects its
// node, and a selection turns every cell into a similarity view.
import { HEAT_LUT, heatIndex, heatT } from "./colormap.js";
import { describeNode, finestResolution, nodeId, nodeInfo } from "./layout.js";

const PHOTO = -1;
const MIN_CELL = 56;
const MAX_CELL = 200;
const DIM = 0.78; // how far non-highlighted patches fade toward the background in "rgb" mode

/** @param {string} css an rgb()/rgba() color as getComputedStyle gives it */
function parseRgb(css) {
  const m = /rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)/.exec(css || "");
  return m ? [+m[1], +m[2], +m[3]] : [255, 255, 255];
}

/**
 * Fills an h*w RGBA buffer with the colors one resolution of one image shows.
 * @param {Uint8ClampedArray} px output, h*w*4
 * @param {object} store
 * @param {object} res a meta.resolutions entry
 * @param {number} image
 * @param {number[]} bg background RGB the dimmed patches fade toward
 */
function paintPatches(px, store, res, image, bg) {
  const { colors } = store.data;
  const sim = store.sim;
  const heat = sim && store.colorMode === "similarity";
  const threshold = store.threshold;
  const start = nodeId(res, image, 0, 0);
  const count = res.h * res.w;
  for (let p = 0; p < count; p++) {
    const node = start + p;
    let r, g, b;
    if (heat) {
      const o = heatIndex(sim[node]) * 3;
      r = HEAT_LUT[o];
      g = HEAT_LUT[o + 1];
      b = HEAT_LUT[o + 2];
    } else {
      r = colors[node * 3];
      g = colors[node * 3 + 1];
      b = colors[node * 3 + 2];
      if (sim && sim[node] < threshold) {
        r += (bg[0] - r) * DIM;
        g += (bg[1] - g) * DIM;
        b += (bg[2] - b) * DIM;
      }
    }
    px[p * 4] = r;
    px[p * 4 + 1] = g;
    px[p * 4 + 2] = b;
    px[p * 4 + 3] = 255;
  }
}

/** Heat overlay for a photo: transparent where dissimilar, opaque where highlighted. */
function paintOverlay(px, store, res, image) {
  const sim = store.sim;
  const threshold = store.threshold;
  const start = nodeId(res, image, 0, 0);
  const count = res.h * res.w;
  for (let p = 0; p < count; p++) {
    const s = sim[start + p];
    const o = heatIndex(s) * 3;
    px[p * 4] = HEAT_LUT[o];
    px[p * 4 + 1] = HEAT_LUT[o + 1];
    px[p * 4 + 2] = HEAT_LUT[o + 2];
    px[p * 4 + 3] = s >= threshold ? 150 : 90 * heatT(s);
  }
}

function markPatch(ctx, x, y, w, h) {
  ctx.lineWidth = 3;
  ctx.strokeStyle = "rgba(0,0,0,0.85)";
  ctx.strokeRect(x, y, w, h);
  ctx.lineWidth = 1.5;
  ctx.strokeStyle = "#fff";
  ctx.strokeRect(x, y, w, h);
}

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
  container.append(message, grid, tooltip);

  let cells = []; // {canvas, res, image}
  let photos = []; // ImageBitmap | null per image
  let scratch = []; // per resolution: an h×w canvas holding the patch colors
  let builtFor = null; // the meta the DOM was built for
  let cols = 0; // image columns per band in the built DOM
  let frame = 0;
  let generation = 0;

  function layoutMeta() {
    return store.data ? store.data.meta : store.meta;
  }

  function build() {
    const meta = layoutMeta();
    if (meta === builtFor) return;
    builtFor = meta;
    grid.replaceChildren();
    cells = [];
    const ready = !!(meta.images && meta.resolutions);
    message.hidden = ready;
    message.textContent = store.decodeError ? `Could not decode the results: ${store.decodeError}` : "Waiting for results…";
    if (!ready) return;
    // Many images wrap into bands of `cols` columns so the cells use the pane's height too.
    const n = meta.images.length;
    cols = columnsPerBand(meta);
    grid.style.gridTemplateColumns = `auto repeat(${cols}, var(--ncut-cell-w, 120px))`;
    const rows = [
      { res: PHOTO, label: "image" },
      ...meta.resolutions.map((r, i) => ({ res: i, label: String(r.label) })),
    ];
    const pad = (count) => {
      for (let i = 0; i < count; i++) grid.append(document.createElement("span"));
    };
    for (let first = 0; first < n; first += cols) {
      const band = meta.images.slice(first, first + cols);
      const missing = cols - band.length;
      pad(1);
      for (const img of band) {
        const name = document.createElement("div");
        name.className = "ncut-colname";
        name.textContent = img.name;
        name.title = img.name;
        grid.append(name);
      }
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
          cells.push({ canvas, res: row.res, image });
        });
        pad(missing);
      }
    }
    sizeCells();
  }

  function loadPhotos() {
    const gen = ++generation;
    photos = [];
    scratch = [];
    if (!store.data) return;
    scratch = store.data.meta.resolutions.map((r) => {
      const c = document.createElement("canvas");
      c.width = r.w;
      c.height = r.h;
      return c;
    });
    store.data.thumbnails.forEach((blob, i) => {
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
        .finally(() => URL.revokeObjectURL(url));
    });
  }

  /** Room for one cell when the images are laid out `perBand` to a band (may be below MIN_CELL). */
  function roomPerCell(perBand) {
    // offsetWidth less padding and a scrollbar's room: a scrollbar coming or going must not
    // change the layout (that could flip the band count back and forth).
    return (container.offsetWidth - 34 - 48 - 8 * (perBand + 1)) / perBand;
  }

  function cellWidth(perBand) {
    return Math.floor(Math.min(MAX_CELL, Math.max(MIN_CELL, roomPerCell(perBand))));
  }

  /** The columns per band that give the most room per cell while the bands fit the pane's height. */
  function columnsPerBand(meta) {
    const n = meta.images.length;
    const height = container.clientHeight - 16;
    if (!(container.offsetWidth > 0) || !(height > 0)) return n;
    const aspects = meta.images.map((img) => Math.min(2, Math.max(0.5, (img.width || 1) / (img.height || 1))));
    const flattest = Math.min(...aspects);
    const rows = 1 + meta.resolutions.length;
    let best = n;
    for (let bands = 2; bands <= n; bands++) {
      const perBand = Math.ceil(n / bands);
      if (Math.ceil(n / perBand) !== bands) continue;
      const needed = bands * (20 + rows * (cellWidth(perBand) / flattest + 6));
      if (needed <= height && roomPerCell(perBand) > roomPerCell(best)) best = perBand;
    }
    return best;
  }

  function sizeCells() {
    const meta = builtFor;
    if (!meta || !meta.images) return;
    if (columnsPerBand(meta) !== cols) {
      builtFor = null;
      build();
      return;
    }
    grid.style.setProperty("--ncut-cell-w", `${cellWidth(cols)}px`);
    requestDraw();
  }

  function requestDraw() {
    if (!frame) frame = requestAnimationFrame(draw);
  }

  function draw() {
    frame = 0;
    if (!store.data) return;
    const meta = store.data.meta;
    const bg = parseRgb(getComputedStyle(container).backgroundColor);
    const finest = finestResolution(meta);
    const dpr = window.devicePixelRatio || 1;
    for (const cell of cells) {
      const { canvas, res, image } = cell;
      const cw = Math.max(1, Math.round(canvas.clientWidth * dpr));
      const ch = Math.max(1, Math.round(canvas.clientHeight * dpr));
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
      const small = scratch[res === PHOTO ? finest : res];
      const sctx = small.getContext("2d");
      const img = sctx.createImageData(r.w, r.h);
      if (res === PHOTO) {
        if (store.sim) {
          paintOverlay(img.data, store, r, image);
          sctx.putImageData(img, 0, 0);
          ctx.imageSmoothingEnabled = true;
          ctx.drawImage(small, 0, 0, cw, ch);
        }
      } else {
        paintPatches(img.data, store, r, image, bg);
        sctx.putImageData(img, 0, 0);
        ctx.imageSmoothingEnabled = false;
        ctx.globalAlpha = store.blend && photo ? 0.6 : 1;
        ctx.drawImage(small, 0, 0, cw, ch);
        ctx.globalAlpha = 1;
      }
      for (const node of store.selected) {
        const info = nodeInfo(meta, node);
        if (!info || info.image !== image || (res !== PHOTO && info.res !== res)) continue;
        const rr = meta.resolutions[info.res];
        markPatch(ctx, (info.col / rr.w) * cw, (info.row / rr.h) * ch, cw / rr.w, ch / rr.h);
      }
    }
  }

  /** The node under a pointer event on a cell (the photo row maps onto the finest grid); -1 elsewhere. */
  function nodeAt(e) {
    const cell = cells.find((c) => c.canvas === e.target);
    if (!cell || !store.data) return -1;
    const meta = store.data.meta;
    const r = meta.resolutions[cell.res === PHOTO ? finestResolution(meta) : cell.res];
    const rect = cell.canvas.getBoundingClientRect();
    const col = Math.min(r.w - 1, Math.max(0, Math.floor(((e.clientX - rect.left) / rect.width) * r.w)));
    const row = Math.min(r.h - 1, Math.max(0, Math.floor(((e.clientY - rect.top) / rect.height) * r.h)));
    return nodeId(r, cell.image, row, col);
  }

  function onClick(e) {
    const node = nodeAt(e);
    if (node >= 0) store.pick(node, e.shiftKey);
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
    build();
    loadPhotos();
    requestDraw();
  }

  grid.addEventListener("click", onClick);
  grid.addEventListener("pointermove", onHover);
  grid.addEventListener("pointerleave", onLeave);
  const resizeObserver = new ResizeObserver(sizeCells);
  resizeObserver.observe(container);
  const unsubscribe = [
    store.on("meta", build),
    store.on("data", onData),
    store.on("similarity", requestDraw),
    store.on("style", requestDraw),
  ];
  onData();

  return () => {
    unsubscribe.forEach((off) => off());
    resizeObserver.disconnect();
    cancelAnimationFrame(frame);
    grid.removeEventListener("click", onClick);
    grid.removeEventListener("pointermove", onHover);
    grid.removeEventListener("pointerleave", onLeave);
    generation++;
    container.replaceChildren();
  };
}
