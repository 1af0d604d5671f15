// Follows the connection between one displayed output and its kernel, so the widget can say when it
// is no longer connected (after a kernel restart the old output still works in the browser, but its
// clicks reach no kernel). Where the host gives no kernel (the exported page, Voilà without one,
// marimo), only ipywidgets' own "disconnected" mark is watched, and nothing shows if there is none.
import { nextKernelState } from "./kernelstate.js";

// ipywidgets (DOMWidgetView) puts this class on a view's element when its model's comm is gone.
const DISCONNECTED_CLASS = "jupyter-widgets-disconnected";

/** The manager's kernel connection, or null where the host has none (or hides it). */
function kernelOf(model) {
  try {
    return model.widget_manager?.kernel ?? null;
  } catch {
    return null;
  }
}

/**
 * Watches the kernel of `model` and the ipywidgets mark on `el`.
 * @param {object} model anywidget model; in JupyterLab and Notebook 7, `model.widget_manager.kernel`
 *   is the notebook's kernel connection (Lumino signals statusChanged, connectionStatusChanged, disposed)
 * @param {HTMLElement} el the view's element
 * @param {(state: import("./kernelstate.js").KernelState) => void} onChange called on every change
 * @returns {() => void} teardown
 */
export function watchKernel(model, el, onChange) {
  let state = "connected";
  const feed = (event) => {
    const next = nextKernelState(state, event);
    if (next === state) return;
    state = next;
    onChange(state);
  };
  const unlink = [];
  const connect = (signal, slot) => {
    if (!signal || typeof signal.connect !== "function") return;
    signal.connect(slot);
    unlink.push(() => signal.disconnect(slot));
  };

  const kernel = kernelOf(model);
  if (kernel) {
    connect(kernel.statusChanged, (_, status) => feed({ status }));
    connect(kernel.connectionStatusChanged, (_, connection) => feed({ connection }));
    connect(kernel.disposed, () => feed({ disposed: true }));
    if (kernel.isDisposed) feed({ disposed: true });
    else {
      feed({ status: kernel.status });
      // A page still connecting to a kernel it just loaded is not a lost connection.
      if (kernel.connectionStatus === "disconnected") feed({ connection: "disconnected" });
    }
  }

  const marked = () => el.classList.contains(DISCONNECTED_CLASS);
  const observer = new MutationObserver(() => marked() && feed({ commLost: true }));
  observer.observe(el, { attributes: true, attributeFilter: ["class"] });
  if (marked()) feed({ commLost: true });

  return () => {
    observer.disconnect();
    unlink.forEach((off) => off());
  };
}
