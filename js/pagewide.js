// State shared by every ncut widget on a page. anywidget evaluates this bundle once per widget (each
// model imports its own blob URL), so module-level variables are per widget; what must be page-wide
// (one WebGL context for all 3D views) lives on globalThis under this one namespaced key.
const KEY = "__ncut_widget__";

/**
 * The page's shared namespace object (created on first use).
 * @returns {Record<string, any>}
 */
export function pageWide() {
  if (!globalThis[KEY]) Object.defineProperty(globalThis, KEY, { value: {}, configurable: true });
  return globalThis[KEY];
}
