// @ts-check
// Geometry of boxes, polygons and spans in fractions of the displayed image (or characters of
// the text): pure functions, so the editors and their unit tests share one definition.

/** @typedef {import("./api-types").components["schemas"]} Schemas */
/** @typedef {Schemas["Box"]} Box */
/** @typedef {Schemas["Polygon"]} Polygon */
/** @typedef {Schemas["Span"]} Span */
/** @typedef {[number, number]} Point */

/** @param {number} v @returns {number} */
export const clamp01 = (v) => Math.min(1, Math.max(0, v));

/**
 * A pointer position as a fraction of `rect`, clamped into the image.
 * @param {{clientX: number, clientY: number}} e
 * @param {{left: number, top: number, width: number, height: number}} rect
 * @returns {Point}
 */
export function fraction(e, rect) {
  return [clamp01((e.clientX - rect.left) / (rect.width || 1)), clamp01((e.clientY - rect.top) / (rect.height || 1))];
}

/**
 * The box a drag from `a` to `b` spans.
 * @param {string} label @param {Point} a @param {Point} b @returns {Box}
 */
export function boxFrom(label, [x0, y0], [x1, y1]) {
  return { label, x: Math.min(x0, x1), y: Math.min(y0, y1), w: Math.abs(x1 - x0), h: Math.abs(y1 - y0) };
}

/**
 * `box` moved so its top-left is `at - grip`, kept inside the image.
 * @param {Box} box @param {Point} at @param {Point} grip @returns {Box}
 */
export function moveBox(box, [x, y], [dx, dy]) {
  return { ...box, x: Math.min(1 - box.w, Math.max(0, x - dx)), y: Math.min(1 - box.h, Math.max(0, y - dy)) };
}

/**
 * The corner opposite handle `k` (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right):
 * it stays put while the handle is dragged.
 * @param {Box} box @param {number} k @returns {Point}
 */
export function fixedCorner(box, k) {
  return [k % 2 ? box.x : box.x + box.w, k > 1 ? box.y : box.y + box.h];
}

/**
 * `box` resized between its fixed corner and the pointer.
 * @param {Box} box @param {Point} fixed @param {Point} at @returns {Box}
 */
export function resizeBox(box, fixed, at) {
  return boxFrom(box.label, fixed, at);
}

/**
 * `polygon` moved by (dx, dy), kept inside the image as a whole.
 * @param {Polygon} polygon @param {number} dx @param {number} dy @returns {Polygon}
 */
export function movePolygon(polygon, dx, dy) {
  const xs = polygon.points.map((p) => p[0]); const ys = polygon.points.map((p) => p[1]);
  const mx = Math.min(Math.max(dx, -Math.min(...xs)), 1 - Math.max(...xs));
  const my = Math.min(Math.max(dy, -Math.min(...ys)), 1 - Math.max(...ys));
  return { ...polygon, points: polygon.points.map(([x, y]) => /** @type {Point} */ ([x + mx, y + my])) };
}

/**
 * Whether a drag was too small to mean a shape (a click, or a slip): under `px` on either side.
 * @param {{width: number, height: number}} rect @param {Box} box @param {number} [px]
 */
export function tooSmall(rect, box, px = 4) {
  return box.w * rect.width < px || box.h * rect.height < px;
}

/**
 * Whether `at` is within `px` screen pixels of `target` (closing a polygon on its first point).
 * @param {Point} at @param {Point} target @param {{width: number, height: number}} rect @param {number} [px]
 */
export function near(at, target, rect, px = 10) {
  return Math.hypot((target[0] - at[0]) * rect.width, (target[1] - at[1]) * rect.height) < px;
}

/**
 * A selection of text trimmed of the whitespace at its edges; null when nothing is left.
 * @param {string} text @param {number} start @param {number} end
 * @returns {{start: number, end: number} | null}
 */
export function trimSpan(text, start, end) {
  while (start < end && /\s/.test(text[start])) start++;
  while (end > start && /\s/.test(text[end - 1])) end--;
  return end > start ? { start, end } : null;
}

/** @param {Span[]} spans @param {number} start @param {number} end */
export function overlaps(spans, start, end) {
  return spans.some((sp) => sp.start < end && start < sp.end);
}

/**
 * The text cut at span edges, in order: plain pieces and spans with their index in `spans`.
 * @param {string} text @param {Span[]} spans
 * @returns {({text: string} | {text: string, span: Span, index: number})[]}
 */
export function pieces(text, spans) {
  const sorted = spans.map((span, index) => ({ span, index })).sort((a, b) => a.span.start - b.span.start);
  /** @type {({text: string} | {text: string, span: Span, index: number})[]} */
  const out = [];
  let at = 0;
  for (const { span, index } of sorted) {
    if (span.start > at) out.push({ text: text.slice(at, span.start) });
    out.push({ text: text.slice(span.start, span.end), span, index });
    at = Math.max(at, span.end);
  }
  if (at < text.length) out.push({ text: text.slice(at) });
  return out;
}

/**
 * The zoom a pinch asks for: the start zoom scaled by how far the fingers moved apart.
 * @param {number} zoom @param {number} startDistance @param {number} distance
 * @param {number} [min] @param {number} [max]
 */
export function pinchZoom(zoom, startDistance, distance, min = 1, max = 8) {
  if (startDistance <= 0) return zoom;
  return Math.min(max, Math.max(min, zoom * (distance / startDistance)));
}
