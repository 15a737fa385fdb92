// @ts-check
// The mask editor over one image, for labeling and for review alike: a brush and an eraser
// with sizes, a fill that stops at the image's edges (masks.js) and a polygon that fills what
// it encloses, painted on a canvas of the image's own pixels over the picture. Semantic segmentation paints one region per class;
// instance segmentation one per object (N starts the next, ↓/↑ pick another). Each stroke or
// fill is one undo step; the answer is the regions as COCO RLE, encoded when a stroke ends. The
// selected mask (`task.tool.selected`, whose attributes the panel edits) is the class's own
// (semantic) or the current object (instance); a mask keeps its attributes as it is repainted.
// On a volume (a multi-frame DICOM or a series) masks belong to the slice they were painted on:
// the canvas holds the slice on screen's masks only, painting stores that slice's and keeps the
// others'. A mask without a slice (painted before masks had slices) is on the item's own image,
// its first slice, as the exports take it; painted again there, it takes that slice's number.
import { colorOf, h, s } from "../dom.js";
import { fraction } from "../geometry.js";
import { dab, fillPolygon, floodRegion, fromLabelMap, toLabelMap } from "../masks.js";
import { clone, settle } from "../state.js";
import { zoomable } from "../zoom.js";

/** @typedef {import("../state.js").Task} Task */
/** @typedef {import("../masks.js").Mask} Mask */

const TOOLS = { b: "brush", e: "eraser", f: "fill", l: "polygon" };
const ALPHA = 120;

/**
 * @param {object} options
 * @param {{id: string, width?: number | null, height?: number | null}} options.item
 * @param {string} options.type image_semantic_segmentation or image_instance_segmentation
 * @param {{name: string}[]} options.classes
 * @param {Task} options.task
 * @param {HTMLImageElement | HTMLCanvasElement} options.image
 * @param {() => string} options.active the class the brush and the fill paint
 * @param {() => void} options.changed called after the values changed
 * @param {import("../zoom.js").Windowing} [options.windowing]
 * @param {number} [options.vh]
 * @param {() => number} [options.slice] the slice on screen, for an item of several
 */
export function maskEditor({ item, type, classes, task, image, active, changed, windowing, vh = 74, slice }) {
  const W = item.width || image.width || 1; const H = item.height || image.height || 1;
  const instances = type === "image_instance_segmentation";
  const canvas = h("canvas", { width: W, height: H, id: "mask-canvas", class: "canvas mask-canvas" });
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
  const paint = ctx.createImageData(W, H);
  const drafts = s("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", class: "canvas mask-draft" });
  image.classList.add("photo");
  const frame = h("div", { class: "frame" }, image, canvas, drafts);
  const view = zoomable(frame, item, task.tool, { pan: "middle", vh, windowing });
  const state = { tool: "brush", size: Math.max(3, Math.round(Math.max(W, H) / 40)), tolerance: 32 };
  /** @type {number | null} the object (instance) the brush paints, 1-based; null: a new one */
  let current = null;
  /** @type {ReturnType<typeof toLabelMap>} */
  let lm = toLabelMap([], W, H);
  let shownSig = "";
  /** @type {Uint8ClampedArray | null | undefined} the picture's pixels, read for the fill */
  let pixels;
  /** @type {null | {before: any, id: number, last: [number, number]}} */
  let stroke = null;
  /** @type {[number, number][] | null} the polygon being drawn, in pixels */
  let draft = null;

  const toolNote = h("span", { class: "note", id: "mask-tool", "aria-live": "polite" });
  const buttons = Object.entries(TOOLS).map(([key, name]) => h("button", { type: "button", dataset: { tool: name }, onclick: () => setTool(name) }, `${name[0].toUpperCase()}${name.slice(1)} (${key.toUpperCase()})`));
  const tolerance = h("input", { type: "range", id: "mask-tolerance", min: 0, max: 128, value: state.tolerance, title: "How far a colour may be from the clicked one and still be filled",
    oninput: () => { state.tolerance = Number(tolerance.value); say(); } });
  const toolbar = h("div", { class: "bar mask-tools", id: "mask-tools" }, ...buttons,
    instances ? h("button", { type: "button", id: "mask-new", onclick: () => newObject() }, "New object (N)") : "",
    h("label", {}, "Fill tolerance ", tolerance), toolNote);

  const value = () => /** @type {{masks: Mask[]}} */ (task.values[item.id]);
  /** Whether a mask is on the slice on screen (one without a slice: on the first). @param {Mask} m */
  const onSlice = (m) => !slice || (m.slice ?? 0) === slice();
  const mine = () => (value()?.masks || []).filter(onSlice);
  const sigOf = (/** @type {Mask[]} */ masks) => `${slice ? slice() : ""}@` + masks.map((m) => `${m.label}:${m.counts}`).join("|");

  function say() {
    for (const b of buttons) b.classList.toggle("primary", b.dataset.tool === state.tool);
    const what = state.tool === "fill" ? `tolerance ${state.tolerance}`
      : state.tool === "polygon" ? "corners, then Enter" : `size ${state.size} px ([ and ])`;
    const who = instances ? ` · object ${current ?? lm.labels.length + 1}` : "";
    toolNote.textContent = `${state.tool}, ${what}${who}`;
    canvas.dataset.tool = state.tool;
  }

  /** The colour of region `id`, as [r, g, b]. @param {number} id */
  function rgb(id) {
    const hex = colorOf(classes, lm.labels[id - 1]);
    return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  }

  /** Paints pixel `p` of the overlay as region `id` shows (0: clear). @param {number} p @param {number} id @param {number[][]} colours */
  function show(p, id, colours) {
    const o = p * 4;
    if (!id) { paint.data[o + 3] = 0; return; }
    const [r, g, b] = colours[id];
    paint.data[o] = r; paint.data[o + 1] = g; paint.data[o + 2] = b; paint.data[o + 3] = ALPHA;
  }

  function redrawAll() {
    const colours = [[0, 0, 0], ...lm.labels.map((_, i) => rgb(i + 1))];
    for (let p = 0; p < lm.map.length; p++) show(p, lm.map[p], colours);
    ctx.putImageData(paint, 0, 0);
  }

  /** Brings the canvas in line with the values (after undo, redo, "use this answer"). */
  function update() {
    const masks = mine();
    const sig = sigOf(masks);
    if (sig !== shownSig) {
      lm = oneRegionPerClass(toLabelMap(masks, W, H));
      shownSig = sig;
      if (current !== null && current > lm.labels.length) current = null;
      redrawAll();
    }
    task.tool.selected = selected(masks);
    say();
  }

  /** Semantic segmentation on the first slice of a volume may show a class twice (its mask
   * without a slice and the slice's own): one region, so the answer keeps one mask per class.
   * @param {ReturnType<typeof toLabelMap>} map */
  function oneRegionPerClass(map) {
    if (instances) return map;
    const ids = map.labels.map((label) => map.labels.indexOf(label) + 1); // each class its first region
    if (ids.every((id, i) => id === i + 1)) return map;
    for (let p = 0; p < map.map.length; p++) if (map.map[p]) map.map[p] = ids[map.map[p] - 1];
    return map;
  }

  /** The index in the answer of the mask the attributes panel edits: the class's (semantic) or
   * the current object (instance) on the slice on screen, once painted; null otherwise.
   * @param {Mask[]} masks the slice's */
  function selected(masks) {
    const pick = instances ? (current !== null ? masks[current - 1] : undefined) : masks.find((m) => m.label === active());
    const index = pick ? (value()?.masks || []).indexOf(pick) : -1;
    return index < 0 ? null : index;
  }

  /** The region the brush and fill paint now: the class's own (semantic) or the current object. */
  function region() {
    const label = active();
    if (!instances) {
      const found = lm.labels.indexOf(label);
      if (found >= 0) return found + 1;
    } else if (current !== null && lm.labels[current - 1] === label) return current;
    lm.labels.push(label);
    if (instances) current = lm.labels.length;
    return lm.labels.length;
  }

  /** The region's pixels are now the answer: one undo step. @param {any} before */
  function store(before) {
    const on = slice?.();
    const masks = fromLabelMap(lm).map((m) => (on === undefined ? m : { ...m, slice: on }));
    const used = new Uint8Array(lm.labels.length + 1);
    for (let p = 0; p < lm.map.length; p++) used[lm.map[p]] = 1;
    const kept = lm.labels.map((_, i) => i + 1).filter((id) => used[id]); // the answer's regions, in order
    const had = mine(); // region n was the slice's mask n - 1 before the stroke (new ones come after)
    kept.forEach((id, i) => { const attributes = had[id - 1]?.attributes; if (attributes) masks[i].attributes = attributes; });
    if (current !== null) current = kept.indexOf(current) + 1 || null;
    task.values[item.id] = { masks: [...(value()?.masks || []).filter((m) => !onSlice(m)), ...masks] };
    shownSig = sigOf(masks);
    settle(task, before);
    lm = toLabelMap(masks, W, H); // regions the eraser emptied go: the map's numbers are the answer's
    redrawAll();
    say();
    changed();
  }

  /** @param {PointerEvent} e @returns {[number, number]} */
  const at = (e) => { const [fx, fy] = fraction(e, canvas.getBoundingClientRect()); return [fx * W, fy * H]; };

  /** A dab of the brush or eraser at (x, y). @param {number} x @param {number} y @param {number} id */
  function dabAt(x, y, id) {
    const colours = [[0, 0, 0], ...lm.labels.map((_, i) => rgb(i + 1))];
    const r = Math.ceil(state.size / 2) + 1;
    dab(W, H, x, y, state.size, (p) => { lm.map[p] = id; show(p, id, colours); });
    const x0 = Math.max(0, Math.floor(x - r)); const y0 = Math.max(0, Math.floor(y - r));
    ctx.putImageData(paint, 0, 0, x0, y0, 2 * r + 1, 2 * r + 1);
  }

  /** The picture's pixels at the mask's size (null when the browser may not read them). */
  function picturePixels() {
    if (pixels !== undefined) return pixels;
    try {
      const off = h("canvas", { width: W, height: H });
      const c = /** @type {CanvasRenderingContext2D} */ (off.getContext("2d", { willReadFrequently: true }));
      c.drawImage(image, 0, 0, W, H);
      pixels = c.getImageData(0, 0, W, H).data;
    } catch { pixels = null; } // a picture from another origin without CORS
    return pixels;
  }

  /** @param {number} x @param {number} y */
  function fill(x, y) {
    const rgba = picturePixels();
    if (!rgba) { toolNote.textContent = "The fill cannot read this picture's pixels here; use the brush."; return; }
    const before = clone(task.values);
    const id = region();
    const inside = floodRegion(rgba, W, H, Math.min(W - 1, Math.floor(x)), Math.min(H - 1, Math.floor(y)), state.tolerance);
    for (let p = 0; p < inside.length; p++) if (inside[p]) lm.map[p] = id;
    store(before);
  }

  function drawDraft() {
    drafts.replaceChildren();
    if (!draft) return;
    const r = Math.max(W, H) * 0.006;
    drafts.append(s("polyline", { class: "temp", id: "mask-draft", points: draft.map(([x, y]) => `${x},${y}`).join(" ") }));
    draft.forEach(([x, y], k) => drafts.append(s("circle", { class: `handle ${k === 0 ? "first" : ""}`, cx: x, cy: y, r })));
  }

  /** Fills the polygon drawn into the region painted now: one undo step. */
  function closeDraft() {
    const points = draft;
    draft = null;
    drawDraft();
    if (!points || points.length < 3) return;
    const before = clone(task.values);
    const id = region();
    fillPolygon(points, W, H, (p) => { lm.map[p] = id; });
    store(before);
  }

  canvas.addEventListener("pointerdown", (e) => {
    if (e.button !== 0 || view.pinching || e.shiftKey) return;
    e.preventDefault();
    const [x, y] = at(e);
    if (state.tool === "fill") { fill(x, y); return; }
    if (state.tool === "polygon") {
      const rect = canvas.getBoundingClientRect();
      const close = draft && draft.length >= 3 && Math.hypot(((x - draft[0][0]) * rect.width) / W, ((y - draft[0][1]) * rect.height) / H) < 8;
      if (close) closeDraft();
      else { (draft ||= []).push([x, y]); drawDraft(); }
      return;
    }
    canvas.setPointerCapture(e.pointerId);
    const before = clone(task.values);
    const id = state.tool === "eraser" ? 0 : region();
    stroke = { before, id, last: [x, y] };
    dabAt(x, y, id);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!stroke) return;
    const [x, y] = at(e);
    const [lx, ly] = stroke.last;
    const steps = Math.max(1, Math.ceil(Math.hypot(x - lx, y - ly) / Math.max(1, state.size / 4)));
    for (let i = 1; i <= steps; i++) dabAt(lx + ((x - lx) * i) / steps, ly + ((y - ly) * i) / steps, stroke.id);
    stroke.last = [x, y];
  });
  const finish = () => {
    const s = stroke;
    stroke = null;
    if (s) store(s.before);
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  frame.addEventListener("pinchstart", () => { // a second finger: the first was not painting
    if (stroke) { task.values = stroke.before; stroke = null; shownSig = ""; update(); }
  });

  /** @param {string} name */
  function setTool(name) {
    if (name !== "polygon" && draft) { draft = null; drawDraft(); }
    state.tool = name; say();
  }
  function newObject() { current = null; changed(); }

  /** The editor's keys: B, E, F, L tools, [ and ] size, N a new object; a key bound to a class
   * is the class's. @param {KeyboardEvent} e @param {import("../keys.js").Bound | null} [bound] */
  function key(e, bound = null) {
    if (bound?.kind === "class") return false;
    const k = e.key.toLowerCase();
    if (k in TOOLS) { setTool(TOOLS[/** @type {"b" | "e" | "f"} */ (k)]); return true; }
    if (k === "[" || k === "]") {
      state.size = Math.max(1, Math.min(400, Math.round(state.size * (k === "]" ? 1.25 : 0.8)) + (k === "]" ? 1 : 0)));
      say();
      return true;
    }
    if (k === "n" && instances) { newObject(); return true; }
    if ((e.key === "ArrowDown" || e.key === "ArrowUp") && instances) return pick(e.key === "ArrowDown" ? 1 : -1);
    return false;
  }

  /** Makes the next (1) or previous (-1) painted object the current one. @param {number} step */
  function pick(step) {
    const n = mine().length;
    if (!n) return false;
    current = current === null || current > n ? (step > 0 ? 1 : n) : ((current - 1 + step + n) % n) + 1;
    changed();
    return true;
  }

  /** Esc: the stroke or polygon under way; false when there was none. */
  function cancel() {
    if (draft) { draft = null; drawDraft(); return true; }
    if (!stroke) return false;
    task.values = stroke.before; stroke = null; shownSig = ""; update();
    return true;
  }

  /** Delete: the current object's pixels (instance), one undo step. */
  function deleteSelected() {
    if (current === null) return false;
    const before = clone(task.values);
    for (let p = 0; p < lm.map.length; p++) if (lm.map[p] === current) lm.map[p] = 0;
    current = null;
    store(before);
    return true;
  }

  /** Another slice is on screen: what was under way ends, the canvas shows that slice's masks. */
  function sliceChanged() {
    cancel();
    current = null;
    update(); changed();
  }

  /** The slices that have masks of their own. */
  function slices() {
    return new Set((value()?.masks || []).map((m) => m.slice).filter((n) => typeof n === "number"));
  }

  update();
  return {
    node: h("div", {}, toolbar, view.scroller), update, cancel, deleteSelected, key, zoom: view.zoom, closeDraft, sliceChanged, slices,
    get drafting() { return draft !== null; },
  };
}
