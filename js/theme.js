// Redraws on theme changes. Canvases are painted with the page's background baked in (the 3D clear
// colour, the dim grey of js/contrast.js), and nothing else makes them repaint when JupyterLab swaps
// its theme CSS or the OS switches between light and dark (the exported page follows it).

/**
 * Calls `onChange()` whenever the computed background colour of `el` changes.
 * @param {HTMLElement} el
 * @param {() => void} onChange
 * @returns {() => void} teardown
 */
export function watchBackground(el, onChange) {
  const read = () => getComputedStyle(el).backgroundColor;
  let last = read();
  let frame = 0;
  const check = () => {
    frame = 0;
    const now = read();
    if (now === last) return;
    last = now;
    onChange();
  };
  // Theme switches show up as attribute changes on <html>/<body> (JupyterLab's data-jp-theme-*),
  // or as style sheets added to or removed from <head>; the new colours are read a frame later.
  const schedule = () => {
    if (!frame) frame = requestAnimationFrame(check);
  };
  const observer = new MutationObserver(schedule);
  observer.observe(document.documentElement, { attributes: true });
  if (document.body) observer.observe(document.body, { attributes: true });
  if (document.head) observer.observe(document.head, { childList: true, subtree: true, characterData: true });
  const scheme = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  scheme?.addEventListener?.("change", schedule);
  return () => {
    observer.disconnect();
    scheme?.removeEventListener?.("change", schedule);
    cancelAnimationFrame(frame);
  };
}
