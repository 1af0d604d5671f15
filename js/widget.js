// anywidget entry point. One store per model (shared by every display of it); each render mounts
// its own views on that store.
import "./widget.css";
import { createControls } from "./controls.js";
import { createImageGrid } from "./imagegrid.js";
import { canReachKernel, kernelNotice } from "./kernelstate.js";
import { watchKernel } from "./kernelwatch.js";
import { createStore } from "./store.js";
import { createView3d } from "./view3d.js";

const stores = new WeakMap();

function storeFor(model) {
  let store = stores.get(model);
  if (!store) {
    store = createStore(model);
    stores.set(model, store);
  }
  return store;
}

function div(cls) {
  const el = document.createElement("div");
  el.className = cls;
  return el;
}

export default {
  /** Creates the model's store (and asks Python for the payload) once, before any render. */
  initialize({ model }) {
    storeFor(model);
    return () => {
      stores.get(model)?.destroy();
      stores.delete(model);
    };
  },

  /** Mounts one display: toolbar, kernel banner, 3D view beside the image grid, status bar. */
  render({ model, el }) {
    const store = storeFor(model);
    const root = div("ncut");
    const toolbar = div("ncut-toolbar");
    const main = div("ncut-main");
    const view = div("ncut-3d");
    const gridPane = div("ncut-grid-pane");
    const statusbar = div("ncut-statusbar");
    const banner = div("ncut-banner");
    banner.setAttribute("role", "status");
    banner.hidden = true;
    main.append(view, gridPane);
    root.append(toolbar, banner, main, statusbar);
    el.append(root);

    // Says when the kernel behind this output is gone; the views keep working in the browser.
    const showKernel = (state) => {
      const text = kernelNotice(state);
      banner.textContent = text;
      banner.hidden = !text;
      root.dataset.kernel = state;
      store.kernelReachable = canReachKernel(state);
    };
    showKernel("connected");

    // The selection as the browser sees it, readable without a kernel (exported page, tests).
    const showSelection = () => {
      root.dataset.selected = store.selected.join(",");
    };
    showSelection();
    const teardowns = [
      store.on("similarity", showSelection),
      createControls(store, model, toolbar, statusbar),
      createView3d(store, view),
      createImageGrid(store, gridPane),
      watchKernel(model, el, showKernel),
    ];
    const onKey = (e) => {
      if (e.key === "Escape") store.clear();
    };
    root.addEventListener("keydown", onKey);
    return () => {
      root.removeEventListener("keydown", onKey);
      teardowns.forEach((off) => off());
      root.remove();
    };
  },
};
