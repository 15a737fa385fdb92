// @ts-check
// Keypoints as pure data: a class's point template written as text in the project wizard, and
// the steps of placing an instance's points in template order. Visibility is COCO's: 0 absent
// (no place; stored at 0, 0), 1 occluded, 2 visible. The editor (editor/keypoints.js) and the
// unit tests share these definitions.

/** @typedef {{points: string[], edges: [number, number][]}} Template */
/** @typedef {{x: number, y: number, v: number}} Keypoint */
/** @typedef {{label: string, points: Keypoint[], slice?: number | null}} Instance */

export const ABSENT = 0;
export const OCCLUDED = 1;
export const VISIBLE = 2;
export const VISIBILITY = ["absent", "occluded", "visible"];

/**
 * A wizard line's template part: `nose, left_eye, right_eye | 0-1, 0-2` (point names in order,
 * then the skeleton's edges as pairs of 0-based point numbers). Throws saying what is wrong.
 * @param {string} text @returns {Template}
 */
export function parseTemplate(text) {
  const [names, edges = "", ...rest] = text.split("|");
  if (rest.length) throw new Error(`“${text}” has more than one “|”: write points | edges`);
  const points = names.split(",").map((n) => n.trim()).filter(Boolean);
  if (!points.length) throw new Error(`“${text}” names no points: write e.g. nose, left_eye, right_eye | 0-1, 0-2`);
  /** @type {[number, number][]} */
  const pairs = [];
  for (const edge of edges.split(",").map((e) => e.trim()).filter(Boolean)) {
    const m = edge.match(/^(\d+)\s*-\s*(\d+)$/);
    if (!m) throw new Error(`edge “${edge}” is not two point numbers such as 0-1 (points count from 0)`);
    pairs.push([Number(m[1]), Number(m[2])]);
  }
  return { points, edges: pairs };
}

/**
 * A wizard class line, for any task type: `Name`, `Name = k` (its key), and for keypoints
 * `Name = k: point, point | 0-1` (its template).
 * @param {string} line @param {boolean} keypoints
 * @returns {{name: string, key?: string, keypoints?: Template}}
 */
export function parseClassLine(line, keypoints) {
  let head = line;
  /** @type {Template | undefined} */
  let template;
  if (keypoints) {
    const colon = line.indexOf(":");
    if (colon < 0) throw new Error(`“${line}” has no point template: write e.g. face: nose, left_eye, right_eye | 0-1, 0-2`);
    head = line.slice(0, colon).trim();
    template = parseTemplate(line.slice(colon + 1));
  }
  const m = head.match(/^(.*?)\s*=\s*([0-9a-z])$/);
  const named = m ? { name: m[1], key: m[2] } : { name: head };
  return template ? { ...named, keypoints: template } : named;
}

/** A new instance of a class: every point absent until placed. @param {string} label @param {Template} template @returns {Instance} */
export const newInstance = (label, template) => ({ label, points: template.points.map(() => ({ x: 0, y: 0, v: ABSENT })) });

/** The first point of `instance` not placed yet at or after `from`, or -1. @param {Instance} instance @param {number} [from] */
export function nextUnplaced(instance, from = 0) {
  for (let k = from; k < instance.points.length; k++) if (instance.points[k].v === ABSENT) return k;
  return -1;
}

/** Where a point placed from the keyboard starts: beside the last placed point, else the centre.
 * @param {Instance} instance @param {number} k @returns {[number, number]} */
export function startPlace(instance, k) {
  for (let j = k - 1; j >= 0; j--) {
    const p = instance.points[j];
    if (p.v !== ABSENT) return [Math.min(1, p.x + 0.05), p.y];
  }
  const placed = instance.points.find((p) => p.v !== ABSENT);
  return placed ? [Math.min(1, placed.x + 0.05), placed.y] : [0.5, 0.5];
}

/** `instance` with point `k` at (x, y) with visibility `v` (absent: at 0, 0).
 * @param {Instance} instance @param {number} k @param {number} x @param {number} y @param {number} v */
export function place(instance, k, x, y, v) {
  instance.points[k] = v === ABSENT ? { x: 0, y: 0, v } : { x: Math.min(1, Math.max(0, x)), y: Math.min(1, Math.max(0, y)), v };
}

/** The skeleton's segments whose two ends are placed. @param {Instance} instance @param {Template} template */
export function drawnEdges(instance, template) {
  return template.edges.filter(([a, b]) => instance.points[a]?.v > ABSENT && instance.points[b]?.v > ABSENT);
}

/** Whether every point of the instance is absent (the API refuses such an instance). @param {Instance} instance */
export const nothingPlaced = (instance) => instance.points.every((p) => p.v === ABSENT);
