// The hierarchy strip: for the clicked node's image, its segment at every level of the ladder,
// coarse to fine, one small mask per level; clicking a level shows that many segments (sets k, and
// switches to Segments mode).
import { afterFrameOnce } from "./frames.js";
import { hierarchyMasks } from "./segments.js";
import { nodeInfo } from "./layout.js";
import { paintMask } from "./paint.js";

// Mask pixels outside the segment: a translucent grey, readable on light and dark backgrounds.
const OUTSIDE = [128, 128, 128, 60];

/**
 * Mounts the strip into `container` and keeps it in sync with the store.
 * @param {ReturnType<import("./store.js").createStore>} store
 * @param {HTMLElement} container
 * @returns {() => void} teardown
 */
export function createHierarchy(store, container) {
  const strip = document.createElement("div");
  strip.className = "ncut-hierarchy";
  strip.setAttribute("role", "group");
  strip.setAttribute("aria-label", "Segment hierarchy of the clicked patch");
  container.append(strip);
  let shownFor = null; // "anchor:version" the masks were drawn for

  function draw() {
    const data = store.data;
    const segments = data && data.segments;
    const info = segments && store.anchor >= 0 ? nodeInfo(data.meta, store.anchor) : null;
    strip.hidden = !info;
    if (!info) {
      strip.replaceChildren();
      delete strip.dataset.node;
      shownFor = null;
      return;
    }
    const key = `${store.anchor}:${data.meta.version}`;
    if (key !== shownFor) {
      shownFor = key;
      const res = data.meta.resolutions[info.res];
      const name = data.meta.images[info.image].name;
      const levels = hierarchyMasks(segments, data.nNodes, res, info.image, store.anchor);
      const title = document.createElement("span");
      title.className = "ncut-hierarchy-title";
      title.textContent = `${name} · ${res.label}`;
      strip.replaceChildren(title);
      levels.forEach(({ k, label, mask }, level) => {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "ncut-level";
        button.dataset.k = String(k);
        button.title = `Show ${k} segments`;
        const canvas = document.createElement("canvas");
        canvas.width = res.w;
        canvas.height = res.h;
        canvas.style.aspectRatio = `${res.w} / ${res.h}`;
        const ctx = canvas.getContext("2d");
        const img = ctx.createImageData(res.w, res.h);
        const color = segments.colors[level].subarray(label * 3, label * 3 + 3);
        paintMask(img.data, mask, [color[0], color[1], color[2], 255], OUTSIDE);
        ctx.putImageData(img, 0, 0);
        const caption = document.createElement("span");
        caption.textContent = `k=${k}`;
        button.append(canvas, caption);
        strip.append(button);
      });
      // Which node the masks show: drawing is deferred a frame after a click, so a reader (or a
      // test) can tell the strip of this click from the previous one's.
      strip.dataset.node = String(store.anchor);
    }
    syncPressed();
  }

  /** The level showing now (k) reads as pressed: at once, not after the deferred masks. */
  function syncPressed() {
    for (const button of strip.querySelectorAll(".ncut-level")) {
      button.setAttribute("aria-pressed", String(Number(button.dataset.k) === store.k));
    }
  }

  function onClick(e) {
    const button = e.target.closest(".ncut-level");
    if (!button || !strip.contains(button)) return;
    store.showSegments(Number(button.dataset.k));
  }

  // After the frame that shows a click's highlight: a level's canvas per ladder step is not part of
  // it (8 ms a click at a million nodes). Coalesced; nothing after teardown.
  let live = true;
  const drawSoon = afterFrameOnce(() => live && draw());

  strip.addEventListener("click", onClick);
  const onStyle = () => {
    syncPressed();
    drawSoon();
  };
  const unsubscribe = [store.on("data", draw), store.on("similarity", drawSoon), store.on("style", onStyle)];
  draw();
  return () => {
    live = false;
    unsubscribe.forEach((off) => off());
    strip.removeEventListener("click", onClick);
    strip.remove();
  };
}
