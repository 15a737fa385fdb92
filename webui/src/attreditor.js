// @ts-check
// The owner's editor of the label classes' attributes, shared by Details and the create
// wizard: a class chooser and that class's attributes in their text form (attrs.js). What is
// typed for a class is kept while another class is shown, so the wizard can declare several
// before the project exists; Details saves the class shown.
import { h } from "./dom.js";
import { SYNTAX, formatAttributes, parseAttributes } from "./attrs.js";

/** @typedef {import("./attrs.js").Attribute} Attribute */

/** What attributes are, for the owner (Details and the create wizard). */
export const ATTRIBUTES_NOTE = "What each box, polygon, keypoint instance, mask or span of a class (or a classification answer) may carry; labelers set them with Shift+1…9.";
/** @typedef {import("./attrs.js").DeclaringClass} DeclaringClass */

/**
 * @param {object} options
 * @param {string} options.prefix the controls' ids: `${prefix}-class`, `${prefix}-text`
 * @param {() => DeclaringClass[]} options.classes the classes as they are now (their attributes: what is saved)
 */
export function attributeEditor({ prefix, classes }) {
  const select = h("select", { id: `${prefix}-class`, "aria-label": "Class" });
  const text = h("textarea", { id: `${prefix}-text`, rows: 4, placeholder: SYNTAX, "aria-label": "Attributes, one per row" });
  /** @type {Map<string, string>} what was typed, by class */
  const typed = new Map();
  const textOf = (/** @type {string} */ name) => typed.get(name) ?? formatAttributes(classes().find((c) => c.name === name)?.attributes);
  const show = () => { text.value = textOf(select.value); };
  select.addEventListener("change", show);
  text.addEventListener("input", () => typed.set(select.value, text.value));

  /** Lists the classes again (the wizard's list changed), keeping the one shown where it stays. */
  function refresh() {
    const names = classes().map((c) => c.name);
    const shown = names.includes(select.value) ? select.value : names[0] ?? "";
    select.replaceChildren(...names.map((n) => h("option", { value: n, selected: n === shown }, n)));
    select.value = shown;
    show();
  }

  /** A class's attributes as typed (or as saved); `error` names the class and the row that is wrong.
   * @param {string} name @returns {{attributes: Attribute[], error: string | null}} */
  function parsed(name) {
    const { attributes, error } = parseAttributes(textOf(name));
    return { attributes, error: error && `Attributes of ${name}: ${error}` };
  }

  refresh();
  return { node: h("div", { class: "attribute-editor" }, h("div", { class: "bar" }, select), text), refresh, parsed, get chosen() { return select.value; } };
}
