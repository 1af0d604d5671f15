// One store per model: decodes the binary payload trait once per version, mirrors the small traits
// and computes similarity, so every view of the model (3D, grid, controls, in any number of
// displays) reads the same state and stays linked.
import { alignedBuffer } from "./codecs.js";
import { formatCount } from "./format.js";
import { afterFrameOnce } from "./frames.js";
import { decodeGrown, receiveChunk, requestMissingChunks } from "./grow.js";
import { combineRegion } from "./regions.js";
import { levelOf, segmentColors, segmentMembers, toggleMembers } from "./segments.js";
import { createScoreMemo, createSimilarity, selectionScore } from "./similarity.js";

const COLOR_MODES = ["rgb", "similarity", "segments"];
// Selections up to this many nodes get a mark on each node (a box in the grid, a ring in 3D); a
// whole segment of marks would bury its colours, so larger selections show by their highlight.
const MARK_LIMIT = 64;
// Trait lists longer than this reach the kernel (and the root's data-selected) after the frame
// that draws them (see setTrait; js/widget.js).
export const DEFERRED_SAVE_LENGTH = 10000;

/**
 * Creates the store for an anywidget model.
 *
 * Events (`store.on(name, fn)` returns an unsubscribe function):
 * - "meta": the meta trait changed (the layout is known before its payload arrives)
 * - "data": the decoded payload changed (`store.data`, or null with `store.decodeError`)
 * - "similarity": selection, negatives or n_eig_view changed (`store.selected`, `store.negative`, `store.sim`)
 * - "style": threshold, color_mode, k, segment_borders or blend changed (`store.baseColors` may be new)
 * - "gesture": the user changed the selection or negatives here (pick, pickNegative, selectRegion,
 *   clear), after the traits are set; js/links.js forwards it to linked models (trait changes from
 *   elsewhere never announce, so links do not ping-pong)
 * @param {object} model anywidget model (get, set, on, off, save_changes, send)
 */
export function createStore(model) {
  const listeners = new Map();
  let decodedVersion; // meta.version (and added chunks) of store.data: the same is never decoded twice
  let engine = null;
  let simBuffer = null;
  let negBuffer = null;
  const memo = createScoreMemo(); // an Alt-click reuses the positives' pass
  let segColors = { level: -1, colors: null }; // the last level's per-node colours, cached

  const store = {
    /** @type {ReturnType<typeof decodePayload> | null} */
    data: null,
    decodeError: "",
    /** selected node ids, validated against the data */
    selected: [],
    /** negative node ids (Alt-clicks), validated against the data */
    negative: [],
    /** When on, plain clicks mark negatives (the toolbar's toggle, for touch and trackpads). */
    negativeMode: false,
    /** The node the user last clicked while it stays selected (else the first selected), or -1. */
    anchor: -1,
    /** The selected nodes the views mark one by one (none for a large selection). */
    get markedNodes() {
      return store.selected.length <= MARK_LIMIT ? store.selected : [];
    },
    /** The negative nodes the views mark one by one (none for a large set). */
    get markedNegatives() {
      return store.negative.length <= MARK_LIMIT ? store.negative : [];
    },
    /** Float32Array(N) while a selection exists, else null */
    sim: null,
    blend: false,
    /** False once the kernel that owned this model is gone (js/kernelwatch.js): changes stay here. */
    kernelReachable: true,

    get meta() {
      return model.get("meta") || {};
    },
    get threshold() {
      return Number(model.get("threshold") ?? 0.5);
    },
    get colorMode() {
      const mode = model.get("color_mode");
      return COLOR_MODES.includes(mode) ? mode : "rgb";
    },
    /** The segment count Segments mode shows (the `k` trait). */
    get k() {
      return Number(model.get("k")) || 0;
    },
    /** Segment borders on the images in Segments mode (the `segment_borders` trait). */
    get borders() {
      return !!model.get("segment_borders");
    },
    /** Index of `k` on the decoded ladder; -1 without a ladder or off it. */
    get segmentLevel() {
      return store.data ? levelOf(store.data.segments, store.k) : -1;
    },
    /** True when clicks select whole segments and colours are the segments' (Segments mode, with a ladder). */
    get segmentMode() {
      return store.colorMode === "segments" && store.segmentLevel >= 0;
    },
    /**
     * N*3 sRGB bytes every view draws a node in before highlighting: the RGB colours, or in
     * Segments mode the mean RGB of each node's segment at k.
     * @returns {Uint8Array | null}
     */
    get baseColors() {
      if (!store.data) return null;
      if (!store.segmentMode) return store.data.colors;
      const level = store.segmentLevel;
      if (segColors.level !== level || !segColors.colors) {
        segColors = { level, colors: segmentColors(store.data.segments, store.data.nNodes, level) };
      }
      return segColors.colors;
    },
    /** n_eig_view clamped to 1..k */
    get nEig() {
      const k = store.data ? store.data.k : store.meta.k || 1;
      const n = Number(model.get("n_eig_view")) || k;
      return Math.max(1, Math.min(k, Math.round(n)));
    },

    on(name, fn) {
      if (!listeners.has(name)) listeners.set(name, new Set());
      listeners.get(name).add(fn);
      return () => listeners.get(name)?.delete(fn);
    },

    /**
     * Selects a node; with `additive` toggles it in the current selection instead. In Segments
     * mode the node stands for every node of its segment at k (in every image and resolution).
     * @param {number} node
     * @param {boolean} [additive]
     */
    pick(node, additive = false) {
      let next;
      if (store.segmentMode) {
        // Segments mode: the click stands for the node's whole segment at k, in every image.
        const members = segmentMembers(store.data.segments, store.data.nNodes, store.segmentLevel, node);
        next = additive ? toggleMembers(store.selected, members) : members;
      } else if (!additive) next = [node];
      else if (store.selected.includes(node)) next = store.selected.filter((s) => s !== node);
      else next = [...store.selected, node];
      store.anchor = node;
      // A fresh selection starts a fresh query: earlier negatives were against another target.
      if (!additive && store.negative.length) model.set("negative", []);
      store.setTrait("selected", next);
      emit("gesture");
    },

    /**
     * Toggles a node (in Segments mode: its whole segment) as a negative; a negative is never
     * also selected.
     * @param {number} node
     */
    pickNegative(node) {
      const members = store.segmentMode
        ? segmentMembers(store.data.segments, store.data.nNodes, store.segmentLevel, node)
        : [node];
      const next = toggleMembers(store.negative, members);
      const drop = new Set(next);
      if (store.selected.some((s) => drop.has(s))) {
        model.set("selected", store.selected.filter((s) => !drop.has(s)));
      }
      store.setTrait("negative", next);
      emit("gesture");
    },

    /**
     * A click on a node in any view: Alt (or the toolbar's Negative toggle) marks a negative,
     * Shift adds to the selection, else the node (or its segment) becomes the selection.
     * @param {number} node
     * @param {{shiftKey?: boolean, altKey?: boolean}} e the pointer event's modifier keys
     */
    clickNode(node, e) {
      if (e.altKey || store.negativeMode) store.pickNegative(node);
      else store.pick(node, !!e.shiftKey);
    },

    /**
     * A region (a box on a colormap, a lasso in 3D) becomes the selection; Shift adds it, Alt removes it.
     * @param {number[]} nodes
     * @param {{shiftKey?: boolean, altKey?: boolean}} e
     */
    selectRegion(nodes, e) {
      const next = combineRegion(store.selected, nodes, e);
      store.anchor = next.length ? next[0] : -1;
      store.setTrait("selected", next);
      emit("gesture");
    },

    /**
     * Shows `k` segments: sets k and, if needed, Segments mode (one save for both traits).
     * @param {number} k one of the ladder's ks
     */
    showSegments(k) {
      if (store.colorMode !== "segments") model.set("color_mode", "segments");
      store.setTrait("k", k);
    },

    setNegativeMode(on) {
      store.negativeMode = !!on;
      emit("style");
    },

    clear() {
      const hadSelected = store.selected.length || (model.get("selected") || []).length;
      const hadNegative = store.negative.length || (model.get("negative") || []).length;
      if (hadNegative) model.set("negative", []);
      // One save for both: setTrait saves every trait changed since the last save.
      if (hadSelected || hadNegative) {
        store.setTrait("selected", []);
        emit("gesture");
      }
    },

    /**
     * Writes a synced trait; the model's change event then updates every view. The kernel hears of
     * it only while it can (after a restart, the old output keeps working in the browser alone).
     */
    setTrait(name, value) {
      // Lists the store builds (clicks, segments, regions) hold valid, distinct ids already.
      if (Array.isArray(value)) checked.set(name, value);
      model.set(name, value);
      if (!store.kernelReachable) return;
      // A large list (a whole segment at a million nodes) takes tens of ms to serialize: send it
      // after the frame that draws its highlight, not before.
      if (Array.isArray(value) && value.length > DEFERRED_SAVE_LENGTH) saveAfterFrame();
      else model.save_changes();
    },

    setBlend(on) {
      store.blend = !!on;
      emit("style");
    },

    destroy() {
      for (const [name, fn] of handlers) model.off(name, fn);
      listeners.clear();
    },
  };

  const checked = new Map(); // trait name -> the last list setTrait wrote (known valid)
  const saveAfterFrame = afterFrameOnce(() => store.kernelReachable && model.save_changes());

  function emit(name) {
    for (const fn of [...(listeners.get(name) || [])]) fn(store);
  }

  function tryDecode() {
    const meta = store.meta;
    const payload = model.get("payload");
    const bytes = payload ? payload.byteLength : 0;
    if (meta.version === undefined || !bytes) {
      if (store.data) {
        store.data = null;
        decodedVersion = undefined;
        engine = null;
        emit("data");
      }
      return;
    }
    // meta and payload change in one message, but their change events fire one at a time:
    // decode once both agree (the payload's size is the meta's), and never the same version twice
    // (a second display, or a re-sent state, keeps every view and the camera as they are).
    // Images added to the map (the appended trait) join the first payload's nodes.
    const chunks = model.get("appended") || [];
    const version = chunks.length ? `${meta.version}+${chunks.length}` : meta.version;
    if (version === decodedVersion || bytes !== meta.total_bytes) return;
    decodedVersion = version;
    try {
      store.data = decodeGrown(meta, alignedBuffer(payload), chunks);
      store.decodeError = "";
    } catch (err) {
      console.error("ncut_widget: could not decode the payload", err);
      store.data = null;
      store.decodeError = String(err.message || err);
    }
    segColors = { level: -1, colors: null };
    checked.clear(); // checked against the old data
    engine = store.data ? createSimilarity(store.data.eigvecs, store.data.eigScale, store.data.k) : null;
    simBuffer = store.data ? new Float32Array(store.data.nNodes) : null;
    negBuffer = store.data ? new Float32Array(store.data.nNodes) : null;
    emit("data");
    updateSimilarity();
    if (engine && !store.sim) {
      // Build the row norms before the first click needs them (a sizeable pass at a million nodes).
      const warm = engine;
      setTimeout(() => warm === engine && engine.invNorms(store.nEig), 0);
    }
  }

  function validIds(name) {
    const raw = model.get(name) || [];
    if (raw === checked.get(name)) return raw;
    const n = store.data ? store.data.nNodes : 0;
    // Repeats dropped (first kept) with a byte per node, not a Set: a whole segment at a million
    // nodes is hundreds of thousands of ids, checked on every click.
    const seen = new Uint8Array(n);
    const valid = [];
    for (const value of raw) {
      const id = Number(value);
      if (Number.isInteger(id) && id >= 0 && id < n) {
        if (!seen[id]) {
          seen[id] = 1;
          valid.push(id);
        }
      } else if (store.data) console.warn(`ncut_widget: ignoring ${name} node ${id} (there are ${formatCount(n)} nodes)`);
    }
    return valid;
  }

  function updateSimilarity() {
    store.selected = validIds("selected");
    store.negative = validIds("negative");
    if (!store.selected.includes(store.anchor)) store.anchor = store.selected.length ? store.selected[0] : -1;
    store.sim =
      engine && store.selected.length
        ? selectionScore(engine, store.selected, store.negative, store.nEig, simBuffer, negBuffer, memo)
        : null;
    emit("similarity");
  }

  const handlers = [
    [
      "change:meta",
      () => {
        emit("meta");
        tryDecode();
      },
    ],
    ["change:payload", tryDecode],
    ["change:appended", tryDecode],
    ["msg:custom", (content, buffers) => receiveChunk(model, content, buffers)],
    ["change:selected", updateSimilarity],
    ["change:negative", updateSimilarity],
    ["change:n_eig_view", updateSimilarity],
    ["change:threshold", () => emit("style")],
    ["change:color_mode", () => emit("style")],
    ["change:k", () => emit("style")],
    ["change:segment_borders", () => emit("style")],
  ];
  for (const [name, fn] of handlers) model.on(name, fn);
  requestMissingChunks(model);
  tryDecode();
  return store;
}
