// @ts-check
// The box and polygon editor over one image, for labeling and for review alike: draw, move,
// resize, edit points, delete, with mouse, pen or one finger (two fingers pinch-zoom). Shapes
// live in an SVG in image pixels; a gesture redraws only the shape it moves. On a volume (a
// multi-frame DICOM or a series) shapes belong to the slice they were drawn on: only the
// slice on screen's are shown and editable, and new ones take its number (`slice`); shapes
// without one (drawn before shapes had slices) belong to the whole item and show on every slice.
import { colorOf, h, s } from "../dom.js";
import { boxFrom, fixedCorner, fraction, moveBox, movePolygon, near, resizeBox, tooSmall } from "../geometry.js";
import { clone, commit, settle, shapeKey } from "../state.js";
import { zoomable } from "../zoom.js";

/** @typedef {import("../state.js").Task} Task */
/** @typedef {import("../geometry.js").Box} Box */
/** @typedef {import("../geometry.js").Polygon} Polygon */
/** @typedef {import("../geometry.js").Point} Point */

/**
 * @param {object} options
 * @param {{id: string, width?: number | null, height?: number | null}} options.item
 * @param {string} options.type image_bounding_box or image_polygon
 * @param {{name: string}[]} options.classes
 * @param {Task} options.task
 * @param {HTMLImageElement | HTMLCanvasElement} options.image
 * @param {() => string} options.active the class a new shape takes
 * @param {() => void} options.changed called after the values or the selection changed
 * @param {import("../zoom.js").Windowing} [options.windowing]
 * @param {number} [options.vh] the height the image fits at zoom 1, in % of the screen's
 * @param {() => number} [options.slice] the slice on screen, for an item of several
 */
export function shapeEditor({ item, type, classes, task, image, active, changed, windowing, vh = 74, slice }) {
  const W = item.width || 1000; const H = item.height || 1000;
  const key = shapeKey(type);
  const boxes = type === "image_bounding_box";
  const r = Math.max(W, H) * 0.008;
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", id: "canvas", class: "canvas" });
  const layer = s("g", { class: "shapes" });
  const temp = s("g", { class: "drawing" });
  svg.append(layer, temp);
  image.classList.add("photo");
  const frame = h("div", { class: "frame" }, image, svg);
  const view = zoomable(frame, item, task.tool, { pan: "middle", vh, windowing });
  /** @type {SVGGElement[]} */
  const shown = [];
  /** @type {null | {kind: string, before: any, [k: string]: any}} */
  let gesture = null;

  const shapes = () => /** @type {any[]} */ (task.values[item.id][key]);
  /** Whether a shape is on the slice on screen (or on the whole item). @param {{slice?: number | null}} shape */
  const onSlice = (shape) => !slice || shape.slice === undefined || shape.slice === null || shape.slice === slice();
  /** A new shape, on the slice on screen. @template {Record<string, any>} T @param {T} shape @returns {T} */
  const placed = (shape) => (slice ? Object.assign(shape, { slice: slice() }) : shape);
  const label = (/** @type {number} */ x, /** @type {number} */ y, /** @type {string} */ text, /** @type {string} */ color) => {
    const t = s("text", { x, y, fill: color, "font-size": 3 * r });
    t.textContent = text;
    return t;
  };

  /** Redraws shape `i` in place (or makes it). @param {number} i */
  function drawShape(i) {
    const shape = shapes()[i];
    const selected = task.tool.selected === i;
    const color = colorOf(classes, shape.label);
    const g = shown[i] || s("g", {});
    g.setAttribute("class", `shape ${selected ? "selected" : ""} ${selected && task.tool.picked ? "picked" : ""}`);
    g.dataset.index = String(i);
    g.dataset.label = shape.label;
    if (shape.slice !== undefined && shape.slice !== null) g.dataset.slice = String(shape.slice);
    g.replaceChildren();
    if (!onSlice(shape)) { g.classList.add("off-slice"); if (!g.isConnected) layer.append(g); shown[i] = g; return; }
    if (boxes) {
      g.append(s("rect", { x: shape.x * W, y: shape.y * H, width: shape.w * W, height: shape.h * H, stroke: color, fill: `${color}22`, "data-body": i }),
        label(shape.x * W + r, shape.y * H + 3 * r, shape.label, color));
      if (selected) [[0, 0], [1, 0], [0, 1], [1, 1]].forEach(([cx, cy], k) =>
        g.append(s("circle", { cx: (shape.x + cx * shape.w) * W, cy: (shape.y + cy * shape.h) * H, r: 1.5 * r, class: "handle", "data-handle": k })));
    } else {
      g.append(s("polygon", { points: shape.points.map((/** @type {Point} */ [x, y]) => `${x * W},${y * H}`).join(" "), stroke: color, fill: `${color}22`, "data-body": i }),
        label(shape.points[0][0] * W + r, shape.points[0][1] * H - r, shape.label, color));
      if (selected) shape.points.forEach((/** @type {Point} */ [x, y], /** @type {number} */ k) => g.append(s("circle", { cx: x * W, cy: y * H, r: 1.5 * r, class: "handle", "data-handle": k })));
    }
    if (!g.isConnected) layer.append(g);
    shown[i] = g;
  }

  /** Brings the SVG in line with the values: only shapes that differ are redrawn. */
  function update() {
    const list = shapes();
    while (shown.length > list.length) shown.pop()?.remove();
    list.forEach((shape, i) => {
      const sig = JSON.stringify(shape) + (task.tool.selected === i ? (task.tool.picked ? "P" : "S") : "") + (onSlice(shape) ? "" : "H");
      if (shown[i]?.dataset.sig !== sig) { drawShape(i); shown[i].dataset.sig = sig; }
    });
    drawTemp();
  }

  function drawTemp() {
    temp.replaceChildren();
    if (gesture?.kind === "draw") {
      const b = boxFrom("", gesture.from, gesture.to);
      temp.append(s("rect", { class: "temp", id: "temp-box", x: b.x * W, y: b.y * H, width: b.w * W, height: b.h * H }));
    }
    const draft = task.tool.draft;
    if (draft) {
      temp.append(s("polyline", { class: "temp", id: "draft", points: draft.map(([x, y]) => `${x * W},${y * H}`).join(" ") }));
      draft.forEach(([x, y], k) => temp.append(s("circle", { class: `handle ${k === 0 ? "first" : ""}`, cx: x * W, cy: y * H, r: 1.5 * r })));
    }
  }

  /** @param {number | null} index @param {boolean} picked */
  function select(index, picked) {
    task.tool.selected = index;
    task.tool.picked = index !== null && picked;
    update();
    changed();
  }

  svg.addEventListener("pointerdown", (e) => {
    if (e.button !== 0 || view.pinching || e.shiftKey) return;
    e.preventDefault();
    svg.setPointerCapture(e.pointerId);
    const rect = svg.getBoundingClientRect();
    const at = fraction(e, rect);
    const target = /** @type {SVGElement} */ (e.target);
    const handle = target.dataset?.handle;
    const body = target.dataset?.body;
    const before = clone(task.values);
    const sel = task.tool.selected;
    if (boxes) {
      if (handle !== undefined && sel !== null) gesture = { kind: "resize", before, fixed: fixedCorner(shapes()[sel], Number(handle)) };
      else if (body !== undefined) {
        const b = shapes()[Number(body)];
        gesture = { kind: "move", before, grip: [at[0] - b.x, at[1] - b.y] };
        select(Number(body), true);
      } else {
        gesture = { kind: "draw", before, from: at, to: at, sx: e.clientX, sy: e.clientY };
        if (sel !== null) select(null, false);
      }
      drawTemp();
      return;
    }
    const draft = task.tool.draft;
    if (draft) {
      if (draft.length >= 3 && near(at, draft[0], rect)) return closeDraft();
      draft.push(at);
      drawTemp();
      return;
    }
    if (handle !== undefined && sel !== null) gesture = { kind: "vertex", before, k: Number(handle) };
    else if (body !== undefined) { gesture = { kind: "move", before, last: at }; select(Number(body), true); }
    else {
      task.tool.draft = [at];
      if (sel !== null) select(null, false); else drawTemp();
    }
  });

  svg.addEventListener("pointermove", (e) => {
    if (!gesture) return;
    const at = fraction(e, svg.getBoundingClientRect());
    const i = task.tool.selected;
    const list = shapes();
    if (gesture.kind === "draw") { gesture.to = at; drawTemp(); return; }
    if (i === null) return;
    if (gesture.kind === "resize") list[i] = resizeBox(list[i], gesture.fixed, at);
    else if (gesture.kind === "move" && boxes) list[i] = moveBox(list[i], at, gesture.grip);
    else if (gesture.kind === "vertex") list[i].points[gesture.k] = at;
    else if (gesture.kind === "move") { list[i] = movePolygon(list[i], at[0] - gesture.last[0], at[1] - gesture.last[1]); gesture.last = at; }
    drawShape(i);
    shown[i].dataset.sig = "";
  });

  const finish = (/** @type {PointerEvent} */ e) => {
    const g = gesture;
    if (!g) return;
    gesture = null;
    if (g.kind === "draw") {
      const box = placed(boxFrom(active(), g.from, g.to));
      const slip = Math.abs(e.clientX - g.sx) < 4 || Math.abs(e.clientY - g.sy) < 4;
      if (!slip && e.type !== "pointercancel") {
        commit(task, (values) => { values[item.id][key].push(box); });
        task.tool.selected = shapes().length - 1;
        task.tool.picked = false; // a key now chooses the next box's class, not this one's
      }
      update(); changed();
      return;
    }
    if (g.kind === "resize" && task.tool.selected !== null && tooSmall(svg.getBoundingClientRect(), shapes()[task.tool.selected])) {
      task.values = g.before;
    } else settle(task, g.before);
    update(); changed();
  };
  svg.addEventListener("pointerup", finish);
  svg.addEventListener("pointercancel", finish);
  frame.addEventListener("pinchstart", () => { // a second finger: the first was not drawing
    if (gesture) { task.values = gesture.before; gesture = null; }
    if (task.tool.draft?.length === 1) task.tool.draft = null;
    update();
  });

  function closeDraft() {
    const points = task.tool.draft;
    task.tool.draft = null;
    if (points && points.length >= 3) {
      commit(task, (values) => { values[item.id][key].push(placed({ label: active(), points })); });
      task.tool.selected = shapes().length - 1;
      task.tool.picked = false;
    }
    update(); changed();
  }

  /** Esc: the gesture or draft under way, else the selection; false when nothing was. */
  function cancel() {
    if (gesture) { task.values = gesture.before; gesture = null; update(); return true; }
    if (task.tool.draft) { task.tool.draft = null; drawTemp(); return true; }
    if (task.tool.selected !== null) { select(null, false); return true; }
    return false;
  }

  function deleteSelected() {
    const index = task.tool.selected;
    if (index === null) return false;
    task.tool.selected = null;
    commit(task, (values) => { values[item.id][key].splice(index, 1); });
    update(); changed();
    return true;
  }

  /** A class key: relabels the shape the user picked; otherwise it is the next shape's class. @param {string} name */
  function relabel(name) {
    const i = task.tool.selected;
    if (i === null || !task.tool.picked) return false;
    commit(task, (values) => { values[item.id][key][i].label = name; });
    update(); changed();
    return true;
  }

  /** Another slice is on screen: what was under way on the last one ends, its shapes hide. */
  function sliceChanged() {
    if (gesture) { task.values = gesture.before; gesture = null; }
    task.tool.draft = null;
    const sel = task.tool.selected;
    if (sel !== null && !onSlice(shapes()[sel] || {})) { task.tool.selected = null; task.tool.picked = false; }
    update(); changed();
  }

  /** The slices that have shapes of their own. */
  function slices() {
    return new Set(shapes().map((shape) => shape.slice).filter((n) => typeof n === "number"));
  }

  update();
  return {
    node: view.scroller, update, cancel, deleteSelected, relabel, zoom: view.zoom, sliceChanged, slices,
    get drafting() { return task.tool.draft !== null; }, closeDraft,
  };
}
