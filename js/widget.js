// anywidget entry point. One store per model (shared by every display of it, js/modelstores.js);
// each render mounts its own views, with its own 3D camera, on that store.
import "./widget.css";
import { createControls } from "./controls.js";
import { afterFrameOnce } from "./frames.js";
import { createFocusView } from "./focusview.js";
import { createHierarchy } from "./hierarchy.js";
import { createImageGrid } from "./imagegrid.js";
import { canReachKernel, kernelNotice } from "./kernelstate.js";
import { watchKernel } from "./kernelwatch.js";
import { linkStore } from "./links.js";
import { DEFERRED_SAVE_LENGTH } from "./store.js";
import { createStoreRegistry } from "./modelstores.js";
import { createView3d } from "./view3d.js";

const stores = createStoreRegistry();

function div(cls) {
  const el = document.createElement("div");
  el.className = cls;
  return el;
}

export default {
  /** Creates the model's store (decoding its payload) once, before any render. */
  initialize({ model }) {
    const { store, close } = stores.open(model);
    const unlink = linkStore(store, model);
    return () => {
      unlink();
      close();
    };
  },

  /** Mounts one display: toolbar, kernel banner, 3D view beside the image grid, the segment
   * hierarchy of the clicked patch, status bar. */
  render({ model, el }) {
    const { store, owned } = stores.find(model);
    const root = div("ncut");
    const title = div("ncut-title");
    const toolbar = div("ncut-toolbar");
    const main = div("ncut-main");
    const view = div("ncut-3d");
    const gridPane = div("ncut-grid-pane");
    const hierarchy = div("ncut-hierarchy-pane");
    const statusbar = div("ncut-statusbar");
    const banner = div("ncut-banner");
    banner.setAttribute("role", "status");
    banner.hidden = true;
    main.append(view, gridPane);
    root.append(title, toolbar, banner, main, hierarchy, statusbar);
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
    // A whole segment at a million nodes is ~150,000 ids (9 ms to join): written after the frame.
    const writeSelection = () => {
      root.dataset.selected = store.selected.join(",");
      root.dataset.negative = store.negative.join(",");
    };
    const writeAfterFrame = afterFrameOnce(writeSelection);
    const showSelection = () => {
      if (store.selected.length + store.negative.length <= DEFERRED_SAVE_LENGTH) writeSelection();
      else writeAfterFrame();
    };
    showSelection();
    // The panel's name in a comparison ("layer 9"); hidden when empty.
    const showTitle = () => {
      title.textContent = model.get("title") || "";
      title.hidden = !title.textContent;
    };
    showTitle();
    model.on("change:title", showTitle);
    const view3d = createView3d(store, view);
    const teardowns = [
      store.on("similarity", showSelection),
      createControls(store, model, toolbar, statusbar, { onReset: view3d.resetCamera }),
      view3d.destroy,
      createImageGrid(store, gridPane),
      createFocusView(store, gridPane),
      createHierarchy(store, hierarchy),
      watchKernel(model, el, showKernel),
    ];
    const onKey = (e) => {
      if (e.key === "Escape") store.clear();
    };
    root.addEventListener("keydown", onKey);
    // Whatever the user touches in this display makes its 3D view the one drawn directly (js/sharedgl.js).
    root.addEventListener("pointerdown", view3d.activate, true);
    root.addEventListener("focusin", view3d.activate);
    return () => {
      model.off("change:title", showTitle);
      root.removeEventListener("keydown", onKey);
      root.removeEventListener("pointerdown", view3d.activate, true);
      root.removeEventListener("focusin", view3d.activate);
      teardowns.forEach((off) => off());
      if (owned) store.destroy();
      root.remove();
    };
  },
};
