// Models linked by pixel region (the `link_group` trait): a user's selection in one selects the
// overlapping patches in every other model of its group on the page. The registry is page-wide
// (js/pagewide.js): anywidget evaluates the bundle once per widget, so a module variable would see
// only its own model. Only gestures are forwarded (the store's "gesture" event), never trait
// changes, so a linked model's new selection is not mapped back (A -> B -> A is not the identity)
// and a selection Python sets (already mapped in the kernel) is not mapped twice.
import { pageWide } from "./pagewide.js";
import { mapNodes } from "./regionmap.js";

function registry() {
  const page = pageWide();
  if (!page.links) page.links = new Set(); // {store, model}
  return page.links;
}

/**
 * Registers a model's store for linking until the returned cleanup runs (the model's end).
 * @param {object} store the model's store (js/store.js)
 * @param {object} model the anywidget model (get, set, save_changes)
 * @returns {() => void} cleanup
 */
export function linkStore(store, model) {
  const entries = registry();
  const entry = { store, model };
  entries.add(entry);
  const off = store.on("gesture", () => {
    const group = model.get("link_group");
    // The decoded meta: with images added to a map (js/grow.js) it holds them and their blocks.
    const source = store.data ? store.data.meta : model.get("meta");
    if (!group || !source || !source.resolutions) return;
    const selected = model.get("selected") || [];
    const negative = model.get("negative") || [];
    for (const other of entries) {
      if (other === entry || other.model.get("link_group") !== group) continue;
      const target = other.store.data ? other.store.data.meta : other.model.get("meta");
      if (!target || !target.resolutions) continue;
      // Both traits in one save: the kernel gets the linked model's whole new state at once.
      other.model.set("negative", mapNodes(negative, source, target));
      other.store.setTrait("selected", mapNodes(selected, source, target));
    }
  });
  return () => {
    off();
    entries.delete(entry);
  };
}
