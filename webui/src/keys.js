// @ts-check
// A labeler's own keys for label classes and frequent actions, kept per project in this
// browser. Binding a key that something else holds swaps the two, so no key is ever lost.
import { h } from "./dom.js";

/** @typedef {{id: string, labelClasses: {name: string, key?: string | null}[]}} KeyedProject */
/** @typedef {{kind: string, name: string}} Bound what a key does: a class ("class", its name) or an action ("action", its id) */
/** @typedef {ReturnType<typeof keyMap>} KeyMap */

/** @type {Record<string, {key: string, what: string}>} */
export const ACTIONS = {
  skip: { key: "s", what: "skip" },
  previous: { key: "p", what: "previous task (correct it)" },
  instructions: { key: "i", what: "show or hide instructions" },
  selectAll: { key: "a", what: "select all images (grid)" },
  resetWindow: { key: "r", what: "reset the DICOM window to the file's" },
  newInstance: { key: "n", what: "start a keypoint instance of the next class (keypoints)" },
  visible: { key: "v", what: "mark the current point visible, placing it if it is not (keypoints)" },
  occluded: { key: "o", what: "mark the current point occluded: hidden, its place known (keypoints)" },
  absent: { key: "x", what: "mark the current point absent: not in the image (keypoints)" },
  relate: { key: "l", what: "link the picked span to another (a relation)" },
};

/** Keys with a fixed meaning: Enter submits, Esc cancels, ? helps, zoom, window and frame keys. */
const FIXED = new Set(["enter", "escape", "?", "+", "=", "-", "0", "[", "]", "{", "}", ";", "'", ",", ".", "delete", "backspace", " ", "tab"]);

/** The project's keys as this labeler set them. @param {KeyedProject} project */
export function keyMap(project) {
  const storeKey = `loupe.keys.${project.id}`;
  /** @type {Record<string, string>} */
  let custom = {};
  try { custom = JSON.parse(localStorage.getItem(storeKey) || "{}") || {}; } catch { custom = {}; }
  const defaults = defaultKeys(project.labelClasses);
  const keyOf = (/** @type {string} */ id) => (id in custom ? custom[id] : defaults.get(id) || "");
  const owner = (/** @type {string} */ key) => [...defaults.keys()].find((id) => keyOf(id) === key);
  const api = {
    /** @param {string} name */
    classKey: (name) => keyOf(`class:${name}`),
    /** @param {string} id */
    actionKey: (id) => keyOf(`action:${id}`),
    /** What a pressed key does: {kind: "class"|"action", name} or null. @param {string} key @returns {Bound | null} */
    lookup: (key) => boundOf(owner(key.toLowerCase())),
    /** Binds `key` to `id` ("class:NAME" or "action:ID"); returns an error text or null.
     * @param {string} id @param {string} key @returns {string | null} */
    bind(id, key) {
      key = key.toLowerCase();
      if (key.length !== 1 || FIXED.has(key)) return `“${key}” has a fixed meaning here; choose a letter, a digit 1–9 or a sign.`;
      const mine = keyOf(id);
      const other = owner(key);
      if (other && other !== id) custom[other] = mine; // swap
      custom[id] = key;
      localStorage.setItem(storeKey, JSON.stringify(custom));
      return null;
    },
    reset() { custom = {}; localStorage.removeItem(storeKey); },
    get customized() { return Object.keys(custom).length > 0; },
  };
  return api;
}

/** Each class's and action's key as the project sets them ("class:NAME" / "action:ID" → key).
 * @param {KeyedProject["labelClasses"]} classes @returns {Map<string, string>} */
function defaultKeys(classes) {
  return new Map([
    ...classes.map((c) => /** @type {[string, string]} */ ([`class:${c.name}`, (c.key || "").toLowerCase()])),
    ...Object.entries(ACTIONS).map(([id, a]) => /** @type {[string, string]} */ ([`action:${id}`, a.key])),
  ]);
}

/** @param {string | undefined} id "class:NAME" or "action:ID" @returns {Bound | null} */
function boundOf(id) {
  if (!id) return null;
  const [kind, ...rest] = id.split(":");
  return { kind, name: rest.join(":") };
}

/** What a key does with the project's own keys, not a labeler's (the review viewer's keys).
 * @param {KeyedProject["labelClasses"]} classes @returns {(key: string) => Bound | null} */
export function projectKeys(classes) {
  const defaults = [...defaultKeys(classes)];
  return (key) => boundOf(defaults.find(([, k]) => k && k === key.toLowerCase())?.[0]);
}

const FIXED_HELP = [
  ["Enter", "submit (or close the polygon being drawn)"], ["Ctrl+Z / Ctrl+Shift+Z", "undo / redo"],
  ["Delete", "delete the selected box, polygon, span, relation, keypoint instance or painted object"], ["↓ / ↑", "pick the next / previous span (relations; Enter picks the other end) or painted object (instance masks)"],
  ["Arrows (Shift: further) / Tab, Shift+Tab", "keypoints: move the current point / go to the next or previous point"], ["Esc", "cancel the box or polygon being drawn; clear the selection"],
  ["+ / − / 0, Ctrl+wheel", "zoom in, out, reset; drag (middle button on shapes) to pan"],
  ["[ ] and ; '", "DICOM window width and centre (or right-drag on the image); Shift+[ ] width where [ ] size the brush (masks)"],
  [", . or PageUp / PageDown, wheel", "previous / next frame of a multi-frame DICOM (Home / End: first / last)"], ["?", "this help"],
];

/** The help overlay's card: every key, and the labeler's own keys with a button to change each.
 * @param {{keys: KeyMap, classes: {name: string}[], rebind: (id: string, done: () => void) => void, close: () => void}} options */
export function keysHelp({ keys, classes, rebind, close }) {
  const rows = h("tbody");
  const card = h("div", { class: "card keys-card" });
  /** @param {string} id @param {string} what @param {string} key */
  function row(id, what, key) {
    const button = h("button", { type: "button", class: "rebind", dataset: { bind: id }, title: "Change this key",
      onclick: () => { button.textContent = "press a key…"; button.classList.add("waiting"); rebind(id, draw); } }, key || "—");
    return h("tr", {}, h("td", {}, button), h("td", {}, what));
  }
  function draw() {
    rows.replaceChildren(
      ...classes.map((c) => row(`class:${c.name}`, c.name, keys.classKey(c.name))),
      ...Object.entries(ACTIONS).map(([id, a]) => row(`action:${id}`, a.what, keys.actionKey(id))));
  }
  draw();
  card.append(h("h2", {}, "Keyboard"),
    h("p", { class: "note" }, "Your keys for this project (kept in this browser): click one, then press the new key. A key in use swaps places."),
    h("table", { id: "my-keys" }, rows),
    h("div", { class: "actions" }, h("button", { type: "button", id: "reset-keys", onclick: () => { keys.reset(); draw(); } }, "Back to the project's keys"),
      h("button", { type: "button", onclick: close }, "Close")),
    h("dl", {}, ...FIXED_HELP.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])));
  return card;
}
