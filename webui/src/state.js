// @ts-check
// The labeling state of one task, as plain data with pure transitions: the answers per item,
// undo/redo, the grid's selection, the class a key applies next, and what the shape tools hold.
// The screens keep one such object and redraw only what a transition changed.

/** @typedef {import("./api-types").components["schemas"]} Schemas */
/** @typedef {Schemas["TaskItem"]} TaskItem */
/** @typedef {Schemas["Span"]} Span */
/** @typedef {NonNullable<TaskItem["mine"]>} AnnotationValue an answer as the API takes and gives it: one shape per task type */
/** @typedef {AnnotationValue | {label?: undefined}} Value an answer being made: an `AnnotationValue` once complete (a multi-class one has no label until a class is chosen) */

/**
 * @typedef {object} Tool
 * @property {number | null} selected the selected shape or span (index into the value)
 * @property {boolean} picked whether the user picked it (a click): then a class key relabels it
 * @property {[number, number][] | null} draft the polygon being drawn
 * @property {number} point keypoints: the current point of the selected instance
 * @property {boolean} placing keypoints: a click places the current point, then moves on
 * @property {number} zoom
 * @property {[number, number] | null} center the view's centre while zoomed
 */

/**
 * @typedef {object} Task
 * @property {TaskItem[]} items
 * @property {Record<string, Value>} values
 * @property {Record<string, Value>[]} history
 * @property {Record<string, Value>[]} future
 * @property {Set<string>} selected the grid's selected items
 * @property {boolean} grid
 * @property {boolean} correcting
 * @property {Tool} tool
 */

/** @param {any} value @returns {any} */
export const clone = (value) => JSON.parse(JSON.stringify(value));

/** @returns {Tool} */
export const freshTool = () => ({ selected: null, picked: false, draft: null, point: 0, placing: false, zoom: 1, center: null });

/** The empty answer of a task type. @param {string} type @returns {Value} */
export function emptyValue(type) {
  if (type.endsWith("multiclass")) return {};
  if (type.endsWith("multilabel")) return { labels: [] };
  if (type === "image_bounding_box") return { boxes: [] };
  if (type === "image_polygon") return { polygons: [] };
  if (type === "image_keypoints") return { keypoints: [] };
  if (isMaskType(type)) return { masks: [] };
  return { spans: [] };
}

/** Semantic or instance segmentation: painted masks (editor/masks.js). @param {string} type */
export const isMaskType = (type) => type === "image_semantic_segmentation" || type === "image_instance_segmentation";

/** The value's list of shapes or spans, by task type. @param {string} type */
export function shapeKey(type) {
  if (type === "image_keypoints") return "keypoints";
  if (isMaskType(type)) return "masks";
  return type === "image_bounding_box" ? "boxes" : type === "image_polygon" ? "polygons" : "spans";
}

/**
 * What an item starts with: the labeler's own answer, a kept label to confirm, ML assist's
 * suggestion, or nothing.
 * @param {string} type @param {Partial<TaskItem>} item @returns {Value}
 */
export function startValue(type, item) {
  return clone(item.mine || item.prefill || item.prediction?.value || emptyValue(type));
}

/**
 * @param {string} type @param {TaskItem[]} items
 * @param {{grid?: boolean, correcting?: boolean, values?: Record<string, Value>}} [options]
 * @returns {Task}
 */
export function newTask(type, items, { grid = false, correcting = false, values } = {}) {
  return {
    items, grid, correcting, history: [], future: [], tool: freshTool(),
    values: values ? clone(values) : Object.fromEntries(items.map((i) => [i.id, startValue(type, i)])),
    selected: new Set(items.map((i) => i.id)),
  };
}

/** Applies `mutate` to the values as one undoable step. @param {Task} task @param {(values: Record<string, Value>) => void} mutate */
export function commit(task, mutate) {
  task.history.push(clone(task.values));
  task.future = [];
  mutate(task.values);
}

/** Records `before` as the undo step of a change already made in place (a drag). @param {Task} task @param {Record<string, Value>} before */
export function settle(task, before) {
  if (JSON.stringify(before) === JSON.stringify(task.values)) return false;
  task.history.push(before);
  task.future = [];
  return true;
}

/** @param {Task} task @returns {boolean} whether anything changed */
export function undo(task) {
  const previous = task.history.pop();
  if (!previous) return false;
  task.future.push(clone(task.values));
  task.values = previous;
  task.tool.selected = null;
  return true;
}

/** @param {Task} task @returns {boolean} */
export function redo(task) {
  const next = task.future.pop();
  if (!next) return false;
  task.history.push(clone(task.values));
  task.values = next;
  task.tool.selected = null;
  return true;
}

/**
 * A class key on a classification task: sets (multi-class) or toggles (multi-label) `label` on
 * the items it applies to (the grid's selection, or the one item). In a multi-class grid the
 * selection then moves to the images still without a label.
 * @param {Task} task @param {string} type @param {string} label @returns {boolean}
 */
export function classify(task, type, label) {
  const ids = task.grid ? [...task.selected] : [task.items[0].id];
  if (!ids.length) return false;
  const multi = type.endsWith("multilabel");
  commit(task, (values) => {
    const all = multi && ids.every((id) => labelsOf(values[id]).includes(label));
    for (const id of ids) { // the answer's attributes stay (those no chosen class declares are left out when sent)
      const { attributes } = /** @type {{attributes?: object}} */ (values[id]);
      if (!multi) { values[id] = /** @type {Value} */ ({ label, ...(attributes ? { attributes } : {}) }); continue; }
      const set = new Set(labelsOf(values[id]));
      if (all) set.delete(label); else set.add(label);
      values[id] = /** @type {Value} */ ({ labels: [...set], ...(attributes ? { attributes } : {}) });
    }
  });
  if (task.grid && !multi) task.selected = new Set(task.items.filter((i) => !labelsOf(task.values[i.id]).length).map((i) => i.id));
  return true;
}

/** The boxes, polygons or spans of an answer (none in a class answer). @param {Value} value */
export function partsOf(value) {
  if ("boxes" in value) return value.boxes;
  if ("polygons" in value) return value.polygons;
  if ("spans" in value) return value.spans;
  if ("keypoints" in value) return value.keypoints;
  if ("masks" in value) return value.masks;
  return [];
}

/** The spans of a text_ner answer. @param {Value} value @returns {Span[]} */
export const spansOf = (value) => ("spans" in value ? value.spans : []);

/**
 * The classes an answer uses, each once, in order of first use (as the API's item `labels`).
 * @param {Value | undefined | null} value @returns {string[]}
 */
export function labelsOf(value) {
  if (!value) return [];
  if ("labels" in value) return value.labels;
  if ("label" in value) return value.label ? [value.label] : [];
  return [...new Set(partsOf(value).map((part) => part.label))];
}

/**
 * The classes an answer holds (what the class list marks as chosen).
 * @param {Value | undefined | null} value @returns {Set<string>}
 */
export const chosenClasses = (value) => new Set(labelsOf(value));

const NOUNS = { boxes: "box(es)", polygons: "polygon(s)", spans: "span(s)", keypoints: "instance(s)", masks: "mask(s)" };

/** The answer in words. @param {Value | undefined | null} value */
export function describe(value) {
  if (!value) return "";
  const own = "attributes" in value ? attributesText(value.attributes) : "";
  if ("label" in value) return (value.label || "") + own;
  if ("labels" in value) return value.labels.join(", ") + own;
  for (const [key, noun] of Object.entries(NOUNS)) {
    if (!(key in value)) continue;
    const links = "relations" in value && value.relations?.length ? ` · ${value.relations.length} relation(s)` : "";
    return `${partsOf(value).length} ${noun}: ${partsOf(value).map((part) => part.label + attributesText(part.attributes)).join(", ")}${links}`;
  }
  return "";
}

/** A part's or answer's attributes in words (` [occluded, color=red]`; false ones left out), so
 * answers that differ only there are told apart. @param {Record<string, unknown> | null | undefined} attributes */
function attributesText(attributes) {
  const shown = Object.entries(attributes || {}).filter(([, v]) => v !== false).map(([k, v]) => (v === true ? k : `${k}=${v}`));
  return shown.length ? ` [${shown.join(", ")}]` : "";
}

/**
 * What must be fixed before a task can be submitted, or null.
 * @param {Task} task @param {string} type @returns {string | null}
 */
export function problem(task, type) {
  if (type === "image_keypoints") {
    const instances = task.items.flatMap((i) => { const v = task.values[i.id]; return "keypoints" in v ? v.keypoints : []; });
    const empty = instances.find((k) => k.points.every((p) => !p.v));
    return empty ? `A ${empty.label} has no point placed: place one (or press Delete to remove it).` : null;
  }
  if (!type.endsWith("multiclass")) return null;
  const open = task.items.some((i) => !labelsOf(task.values[i.id]).length);
  return open ? `Choose a label${task.grid ? " for every image" : ""} first (keys 1–9).` : null;
}
