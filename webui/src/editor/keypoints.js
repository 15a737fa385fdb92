// @ts-check
// The keypoint editor over one image, for labeling and for review alike. An instance of a class
// is placed point by point in its template's order: a click places the point named in the hint
// and moves on to the next; a point is dragged to move it. From the keyboard: N starts an
// instance, V / O / X mark the current point visible / occluded / absent (V or O on a point not
// placed yet puts it beside the last one), the arrows move it (Shift: further), Tab and
// Shift+Tab step through the points. The skeleton is drawn between placed points. On a volume
// (a multi-frame DICOM or a series) an instance belongs to the slice it was placed on: only the
// slice on screen's are shown and editable, and new ones take its number; one without a slice
// (placed before instances had slices) belongs to the whole item and shows on every slice.
import { colorOf, h, s } from "../dom.js";
import { fraction } from "../geometry.js";
import { ABSENT, OCCLUDED, VISIBILITY, VISIBLE, drawnEdges, newInstance, nextUnplaced, nothingPlaced, place, startPlace } from "../keypoints.js";
import { clone, commit, settle } from "../state.js";
import { zoomable } from "../zoom.js";

/** @typedef {import("../state.js").Task} Task */
/** @typedef {import("../keypoints.js").Instance} Instance */
/** @typedef {import("../keypoints.js").Template} Template */

/**
 * @param {object} options
 * @param {{id: string, width?: number | null, height?: number | null}} options.item
 * @param {{name: string, keypoints?: Template | null}[]} options.classes
 * @param {Task} options.task
 * @param {HTMLImageElement | HTMLCanvasElement} options.image
 * @param {() => string} options.active the class a new instance takes
 * @param {() => void} options.changed called after the values or the selection changed
 * @param {(action: string) => string} [options.keyOf] the key of an action (as the labeler set it)
 * @param {import("../zoom.js").Windowing} [options.windowing]
 * @param {number} [options.vh]
 * @param {() => number} [options.slice] the slice on screen, for an item of several
 */
export function keypointEditor({ item, classes, task, image, active, changed, keyOf = (a) => ({ newInstance: "n", visible: "v", occluded: "o", absent: "x" })[a] || "", windowing, vh = 72, slice }) {
  const W = item.width || 1000; const H = item.height || 1000;
  const r = Math.max(W, H) * 0.007;
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", id: "canvas", class: "canvas keypoints" });
  const layer = s("g", { class: "shapes" });
  svg.append(layer);
  image.classList.add("photo");
  const frame = h("div", { class: "frame" }, image, svg);
  const view = zoomable(frame, item, task.tool, { pan: "middle", vh, windowing });
  const hint = h("p", { class: "note keypoint-hint", id: "keypoint-hint", "aria-live": "polite" });
  const node = h("div", { class: "keypoint-editor" }, hint, view.scroller);
  /** @type {null | {before: any, i: number, k: number}} */
  let gesture = null;

  const tool = task.tool;
  const instances = () => /** @type {Instance[]} */ (/** @type {any} */ (task.values[item.id]).keypoints);
  const templateOf = (/** @type {string} */ label) => classes.find((c) => c.name === label)?.keypoints || null;
  const K = (/** @type {string} */ action) => (keyOf(action) || "?").toUpperCase();
  /** Whether an instance is on the slice on screen (or on the whole item). @param {Instance} instance */
  const onSlice = (instance) => !slice || instance.slice === undefined || instance.slice === null || instance.slice === slice();
  /** A new instance, on the slice on screen. @param {string} label @param {Template} template */
  const made = (label, template) => Object.assign(newInstance(label, template), slice ? { slice: slice() } : {});

  function update() {
    layer.replaceChildren(...instances().map(drawInstance));
    hint.textContent = hintText();
  }

  /** @param {Instance} instance @param {number} i */
  function drawInstance(instance, i) {
    const template = templateOf(instance.label);
    const color = colorOf(classes, instance.label);
    const selected = tool.selected === i;
    const g = s("g", { class: `shape instance ${selected ? "selected" : ""}`, "data-index": i, "data-label": instance.label });
    if (typeof instance.slice === "number") g.dataset.slice = String(instance.slice);
    if (!onSlice(instance)) { g.classList.add("off-slice"); return g; }
    for (const [a, b] of template ? drawnEdges(instance, template) : []) {
      const p = instance.points[a]; const q = instance.points[b];
      g.append(s("line", { x1: p.x * W, y1: p.y * H, x2: q.x * W, y2: q.y * H, stroke: color, class: "bone" }));
    }
    instance.points.forEach((p, k) => {
      if (p.v === ABSENT) return;
      const current = selected && tool.point === k;
      g.append(s("circle", {
        cx: p.x * W, cy: p.y * H, r: current ? 1.6 * r : r, stroke: color, fill: p.v === VISIBLE ? color : "#fff",
        class: `point ${VISIBILITY[p.v]} ${current ? "current" : ""}`, "data-point": k, "data-instance": i,
        "data-name": template?.points[k] || String(k),
      }));
    });
    const first = instance.points.find((p) => p.v !== ABSENT);
    if (first) {
      const t = s("text", { x: first.x * W + 1.5 * r, y: first.y * H - 1.5 * r, fill: color, "font-size": 3 * r });
      t.textContent = instance.label;
      g.append(t);
    }
    return g;
  }

  function hintText() {
    const i = tool.selected;
    const instance = i === null ? null : instances()[i];
    const template = instance ? templateOf(instance.label) : null;
    if (!instance || !template) {
      const next = templateOf(active());
      return next ? `Click to start a ${active()} at its first point (${next.points[0]}), or press ${K("newInstance")}. Click a point to pick it.` : "";
    }
    const k = tool.point;
    const name = template.points[k];
    const where = `${instance.label} · point ${k + 1} of ${template.points.length}: “${name}”`;
    if (tool.placing && instance.points[k].v === ABSENT) return `${where} — click to place it, ${K("absent")} if it is not in the image (absent). Esc stops placing.`;
    return `${where} is ${VISIBILITY[instance.points[k].v]}. Drag or arrows move it; ${K("visible")} visible, ${K("occluded")} occluded, ${K("absent")} absent; Tab next point.`;
  }

  /** @param {number | null} i @param {number} [k] */
  function select(i, k = 0) {
    tool.selected = i;
    tool.point = k;
    tool.picked = false;
    if (i === null) tool.placing = false;
    update(); changed();
  }

  /** After the current point is placed or marked absent while placing: on to the next one not placed. */
  function advance() {
    const i = tool.selected;
    if (i === null || !tool.placing) return;
    const next = nextUnplaced(instances()[i], tool.point + 1);
    if (next < 0) tool.placing = false; else tool.point = next;
  }

  svg.addEventListener("pointerdown", (e) => {
    if (e.button !== 0 || view.pinching || e.shiftKey) return;
    e.preventDefault();
    svg.setPointerCapture(e.pointerId);
    const at = fraction(e, svg.getBoundingClientRect());
    const target = /** @type {SVGElement} */ (e.target);
    const point = target.dataset?.point;
    if (point !== undefined) { // a placed point: pick it, and drag it
      const i = Number(target.dataset.instance); const k = Number(point);
      if (tool.selected !== i) tool.placing = false;
      gesture = { before: clone(task.values), i, k };
      select(i, k);
      return;
    }
    const i = tool.selected;
    if (i !== null && tool.placing) {
      commit(task, () => place(instances()[i], tool.point, at[0], at[1], VISIBLE));
      advance();
    } else {
      const label = active();
      const template = templateOf(label);
      if (!template) return;
      const instance = made(label, template);
      place(instance, 0, at[0], at[1], VISIBLE);
      commit(task, () => { instances().push(instance); });
      tool.selected = instances().length - 1;
      tool.point = 0;
      tool.placing = true;
      advance();
    }
    update(); changed();
  });

  svg.addEventListener("pointermove", (e) => {
    if (!gesture) return;
    const at = fraction(e, svg.getBoundingClientRect());
    const p = instances()[gesture.i].points[gesture.k];
    place(instances()[gesture.i], gesture.k, at[0], at[1], p.v === ABSENT ? VISIBLE : p.v);
    update();
  });
  const finish = () => {
    if (!gesture) return;
    settle(task, gesture.before);
    gesture = null;
    update(); changed();
  };
  svg.addEventListener("pointerup", finish);
  svg.addEventListener("pointercancel", finish);
  frame.addEventListener("pinchstart", () => { if (gesture) { task.values = gesture.before; gesture = null; update(); } });

  /** Starts an instance of the active class from the keyboard (all its points absent). */
  function start() {
    const label = active();
    const template = templateOf(label);
    if (!template) return false;
    commit(task, () => { instances().push(made(label, template)); });
    tool.selected = instances().length - 1;
    tool.point = 0;
    tool.placing = true;
    update(); changed();
    return true;
  }

  /** The current point marked `v`; one not placed yet is put beside the last placed one. @param {number} v */
  function mark(v) {
    const i = tool.selected;
    if (i === null) return false;
    const instance = instances()[i];
    const k = tool.point;
    const p = instance.points[k];
    const [x, y] = p.v === ABSENT ? startPlace(instance, k) : [p.x, p.y];
    commit(task, () => place(instances()[i], k, x, y, v));
    if (v === ABSENT) advance();
    update(); changed();
    return true;
  }

  /** @param {number} dx @param {number} dy */
  function nudge(dx, dy) {
    const i = tool.selected;
    if (i === null) return false;
    const instance = instances()[i];
    const p = instance.points[tool.point];
    if (p.v === ABSENT) return mark(VISIBLE);
    commit(task, () => place(instances()[i], tool.point, p.x + dx, p.y + dy, p.v));
    update(); changed();
    return true;
  }

  /** @param {number} by */
  function step(by) {
    const i = tool.selected;
    if (i === null) return false;
    const n = instances()[i].points.length;
    tool.point = (tool.point + by + n) % n;
    update(); changed();
    return true;
  }

  /**
   * The editor's own keys; true when one acted. Actions come by name (as the labeler bound them).
   * @param {KeyboardEvent} e @param {import("../keys.js").Bound | null} [bound] what the key is bound to
   */
  function key(e, bound = null) {
    const action = bound?.kind === "action" ? bound.name : null;
    if (action === "newInstance") return start();
    if (action === "visible") return mark(VISIBLE);
    if (action === "occluded") return mark(OCCLUDED);
    if (action === "absent") return mark(ABSENT);
    if (tool.selected === null) return false;
    const far = e.shiftKey ? 0.05 : 0.005;
    const moves = { ArrowLeft: [-far, 0], ArrowRight: [far, 0], ArrowUp: [0, -far], ArrowDown: [0, far] };
    if (e.key in moves) {
      const [dx, dy] = /** @type {Record<string, number[]>} */ (moves)[e.key];
      return nudge(dx, dy);
    }
    if (e.key === "Tab") return step(e.shiftKey ? -1 : 1);
    return false;
  }

  /** Esc: the drag under way, then placing (an instance with nothing placed goes), then the selection. */
  function cancel() {
    if (gesture) { task.values = gesture.before; gesture = null; update(); return true; }
    const i = tool.selected;
    if (i !== null && tool.placing) {
      tool.placing = false;
      if (nothingPlaced(instances()[i])) { commit(task, () => { instances().splice(i, 1); }); select(null); }
      update(); changed();
      return true;
    }
    if (i !== null) { select(null); return true; }
    return false;
  }

  function deleteSelected() {
    const i = tool.selected;
    if (i === null) return false;
    commit(task, () => { instances().splice(i, 1); });
    select(null);
    return true;
  }

  /** Another slice is on screen: a drag or placing under way ends, its instances hide. */
  function sliceChanged() {
    if (gesture) { task.values = gesture.before; gesture = null; }
    tool.placing = false;
    const i = tool.selected;
    if (i !== null && !onSlice(instances()[i] || /** @type {Instance} */ ({}))) tool.selected = null;
    update(); changed();
  }

  /** The slices that have instances of their own. */
  function slices() {
    return new Set(instances().map((instance) => instance.slice).filter((n) => typeof n === "number"));
  }

  update();
  return { node, update, cancel, deleteSelected, key, relabel: () => false, zoom: view.zoom, sliceChanged, slices };
}

/**
 * A value's instances drawn into a thumbnail's 100×100 SVG: bones and points.
 * @param {SVGSVGElement} svg @param {Instance[]} instances @param {{name: string, keypoints?: Template | null}[]} classes
 */
export function drawThumbKeypoints(svg, instances, classes) {
  for (const instance of instances) {
    const color = colorOf(classes, instance.label);
    const template = classes.find((c) => c.name === instance.label)?.keypoints;
    for (const [a, b] of template ? drawnEdges(instance, template) : []) {
      const p = instance.points[a]; const q = instance.points[b];
      svg.append(s("line", { x1: p.x * 100, y1: p.y * 100, x2: q.x * 100, y2: q.y * 100, stroke: color }));
    }
    for (const p of instance.points) {
      if (p.v === ABSENT) continue;
      const dot = s("circle", { cx: p.x * 100, cy: p.y * 100, r: 1.2, stroke: color, class: `keypoint ${VISIBILITY[p.v]}` });
      dot.style.fill = p.v === VISIBLE ? color : "#fff"; // over the overlay's `fill: none`
      svg.append(dot);
    }
  }
}
