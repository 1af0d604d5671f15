import { afterEach, describe, expect, it } from "vitest";
import { linkStore } from "../links.js";
import { mapNodes } from "../regionmap.js";
import { createStore } from "../store.js";
import { fakeModel, randomResult } from "./helpers.js";

const cleanups = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()();
});

function panel(sides, group, seed = 1) {
  const r = randomResult({ sides, seed });
  const model = fakeModel({ meta: r.meta, payload: r.payload, link_group: group, negative: [] });
  const store = createStore(model);
  const unlink = linkStore(store, model);
  cleanups.push(() => {
    unlink();
    store.destroy();
  });
  return { model, store, unlink };
}

describe("links: gestures select the same region in linked models", () => {
  it("a click in A sets B's selection to the overlapping patches (14 vs 16 px grids), with one save", () => {
    const a = panel([4, 8], "g1");
    const b = panel([3, 7], "g1", 2);
    const savesBefore = b.model.saves;
    a.store.pick(5);
    const want = mapNodes([5], a.model.get("meta"), b.model.get("meta"));
    expect(want.length).toBeGreaterThan(1);
    expect(b.model.get("selected")).toEqual(want);
    expect(b.store.selected).toEqual(want);
    expect(b.store.sim).not.toBeNull(); // B computes its own similarity
    expect(b.model.saves).toBe(savesBefore + 1);
    // B's new selection is not mapped back: A keeps exactly its click.
    expect(a.model.get("selected")).toEqual([5]);
  });

  it("negatives, regions and clear are linked too; trait changes from elsewhere are not forwarded", () => {
    const a = panel([4, 8], "g2");
    const b = panel([4, 8], "g2", 3);
    a.store.selectRegion([0, 1], {});
    a.store.pickNegative(40);
    const meta = a.model.get("meta");
    expect(b.model.get("selected")).toEqual(mapNodes([0, 1], meta, meta));
    expect(b.model.get("negative")).toEqual(mapNodes([40], meta, meta));
    // A selection set on A's model (the kernel's, already mapped there) does not touch B.
    a.model.set("selected", [7]);
    expect(b.model.get("selected")).toEqual(mapNodes([0, 1], meta, meta));
    a.store.clear();
    expect(b.model.get("selected")).toEqual([]);
    expect(b.model.get("negative")).toEqual([]);
  });

  it("other groups, unlinked models and unregistered stores are left alone", () => {
    const a = panel([4, 8], "g3");
    const other = panel([4, 8], "g4");
    const lone = panel([4, 8], "");
    const gone = panel([4, 8], "g3");
    gone.unlink();
    a.store.pick(2);
    lone.store.pick(3);
    expect(other.model.get("selected")).toEqual([]);
    expect(gone.model.get("selected")).toEqual([]);
    expect(a.model.get("selected")).toEqual([2]);
  });
});
