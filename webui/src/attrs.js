// @ts-check
// Attributes, as plain data with pure functions (tested without a browser): the owner's text
// form of a class's attributes, which attributes the selected shape (or a classification
// answer) may carry, setting one as an undoable step, and trimming those a class change left
// without a declaration. The panel that shows them is attrpanel.js.
import { commit, labelsOf, partsOf } from "./state.js";

/** @typedef {import("./api-types").components["schemas"]["Attribute"]} Attribute */
/** @typedef {boolean | number | string} AttributeValue */
/** @typedef {{name: string, attributes?: Attribute[] | null}} DeclaringClass */
/** @typedef {import("./state.js").Task} Task */
/** @typedef {{labels: string[], attributes: Record<string, AttributeValue>}} Target what the panel edits */

/** One line per attribute: `name: boolean`, `name: one of a, b, c`, `name: number [min]..[max]`, `name: text [max length]`. */
export const SYNTAX = "One per row: “occluded: boolean”, “color: one of red, blue”, “doors: number 2..5”, “note: text 100”.";

/**
 * The attributes an owner wrote, one per line; `error` names the first line that is not one.
 * @param {string} text @returns {{attributes: Attribute[], error: string | null}}
 */
export function parseAttributes(text) {
  /** @type {Attribute[]} */
  const attributes = [];
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  for (const [n, line] of lines.entries()) {
    const m = line.match(/^(.+?)\s*:\s*(boolean|one of|number|text)\b\s*(.*)$/i);
    if (!m) return { attributes, error: `Row ${n + 1} (“${line}”): write “name: boolean”, “name: one of a, b”, “name: number 1..5” or “name: text 100”.` };
    const [, name, kind, rest] = m;
    const type = kind.toLowerCase();
    if (type === "boolean") attributes.push({ name, type: "boolean" });
    else if (type === "one of") attributes.push({ name, type: "one_of", options: rest.split(",").map((o) => o.trim()).filter(Boolean) });
    else if (type === "number") {
      const range = rest.match(/^(-?\d+(?:\.\d+)?)?\s*(?:\.\.\s*(-?\d+(?:\.\d+)?)?)?$/);
      if (!range) return { attributes, error: `Row ${n + 1}: a number's range is written min..max (either may be left out).` };
      /** @type {Attribute} */
      const number = { name, type: "number" };
      if (range[1] !== undefined) number.min = Number(range[1]);
      if (range[2] !== undefined) number.max = Number(range[2]);
      attributes.push(number);
    } else {
      const most = rest.trim();
      if (most && !/^\d+$/.test(most)) return { attributes, error: `Row ${n + 1}: a text's limit is its most characters, a whole number.` };
      attributes.push(most ? { name, type: "text", maxLength: Number(most) } : { name, type: "text" });
    }
  }
  return { attributes, error: null };
}

/** The text form of a class's attributes (what `parseAttributes` reads back). @param {Attribute[] | null | undefined} attributes */
export function formatAttributes(attributes) {
  return (attributes || []).map((a) => {
    if (a.type === "one_of") return `${a.name}: one of ${(a.options || []).join(", ")}`;
    if (a.type === "number") return `${a.name}: number${a.min != null || a.max != null ? ` ${a.min ?? ""}..${a.max ?? ""}` : ""}`;
    if (a.type === "text") return `${a.name}: text${a.maxLength ? ` ${a.maxLength}` : ""}`;
    return `${a.name}: boolean`;
  }).join("\n");
}

/** The attributes the classes `labels` declare, each name once (the first class's wins). @param {DeclaringClass[]} classes @param {string[]} labels */
export function declaredFor(classes, labels) {
  /** @type {Map<string, Attribute>} */
  const found = new Map();
  for (const label of labels) {
    for (const a of classes.find((c) => c.name === label)?.attributes || []) if (!found.has(a.name)) found.set(a.name, a);
  }
  return [...found.values()];
}

/** Whether any class declares attributes (else the panel never shows). @param {DeclaringClass[]} classes */
export const anyAttributes = (classes) => classes.some((c) => (c.attributes || []).length > 0);

/** Whether a value is a classification answer (its attributes are its own), not a set of shapes. @param {any} value */
const isAnswer = (value) => "label" in value || "labels" in value || !Object.keys(value).length;

/**
 * What the attributes panel edits: the selected shape or span, or a single item's
 * classification answer once it has a class; null otherwise (a grid, nothing selected).
 * @param {Task | null} task @returns {Target | null}
 */
export function targetOf(task) {
  if (!task || task.grid) return null;
  const value = /** @type {any} */ (task.values[task.items[0].id]);
  if (!value) return null;
  if (!isAnswer(value)) {
    const part = task.tool.selected === null ? null : partsOf(value)[task.tool.selected];
    return part ? { labels: [part.label], attributes: part.attributes || {} } : null;
  }
  const labels = labelsOf(value);
  return labels.length ? { labels, attributes: value.attributes || {} } : null;
}

/**
 * Sets (or, with undefined, clears) attribute `name` on what `targetOf` names, as one undoable
 * step; false when there is nothing to set it on.
 * @param {Task} task @param {string} name @param {AttributeValue | undefined} value
 */
export function setAttribute(task, name, value) {
  if (!targetOf(task)) return false;
  const id = task.items[0].id;
  commit(task, (values) => {
    const answer = /** @type {any} */ (values[id]);
    const owner = isAnswer(answer) ? answer : partsOf(answer)[/** @type {number} */ (task.tool.selected)];
    const next = { ...(owner.attributes || {}) };
    if (value === undefined) delete next[name]; else next[name] = value;
    if (Object.keys(next).length) owner.attributes = next; else delete owner.attributes;
  });
  return true;
}

/**
 * The value to send: attributes the part's (or answer's) classes no longer declare are left
 * out (a shape relabeled, a class unchosen), and so are empty ones.
 * @template T @param {T} value @param {DeclaringClass[]} classes @returns {T}
 */
export function pruned(value, classes) {
  const copy = /** @type {any} */ (JSON.parse(JSON.stringify(value)));
  const trim = (/** @type {any} */ owner, /** @type {string[]} */ labels) => {
    if (!owner.attributes) return;
    const names = new Set(declaredFor(classes, labels).map((a) => a.name));
    for (const name of Object.keys(owner.attributes)) if (!names.has(name)) delete owner.attributes[name];
    if (!Object.keys(owner.attributes).length) delete owner.attributes;
  };
  for (const part of partsOf(copy)) trim(part, [part.label]);
  if (isAnswer(copy)) trim(copy, labelsOf(copy));
  return copy;
}

/** The next value a key gives an attribute: a boolean flips, a one-of steps through its options then back to unset.
 * @param {Attribute} attribute @param {AttributeValue | undefined} current @returns {AttributeValue | undefined} */
export function stepped(attribute, current) {
  if (attribute.type === "boolean") return !current;
  if (attribute.type === "one_of") {
    const options = attribute.options || [];
    const at = current === undefined ? -1 : options.indexOf(String(current));
    return at + 1 < options.length ? options[at + 1] : undefined;
  }
  return current;
}

/** Review filter suggestions: each attribute's name, and name=value for each boolean and option. @param {DeclaringClass[]} classes */
export function filterHints(classes) {
  const hints = new Set();
  for (const c of classes) {
    for (const a of c.attributes || []) {
      hints.add(a.name);
      if (a.type === "boolean") { hints.add(`${a.name}=true`); hints.add(`${a.name}=false`); }
      for (const o of a.options || []) hints.add(`${a.name}=${o}`);
    }
  }
  return [...hints];
}
