// @ts-check
// The attributes panel of the labeling screen and the review viewer: the attributes the
// selected shape's class (or the item's chosen classes) declares, each with its control and,
// for the first nine, a key: Shift+1…9 flips a boolean, steps a one-of through its options,
// or puts the cursor in a number or text field (Enter or Esc hands the keys back).
import { h } from "./dom.js";
import { declaredFor, stepped } from "./attrs.js";

/** @typedef {import("./attrs.js").Attribute} Attribute */
/** @typedef {import("./attrs.js").AttributeValue} AttributeValue */

/**
 * @param {object} options
 * @param {import("./attrs.js").DeclaringClass[]} options.classes
 * @param {() => import("./attrs.js").Target | null} options.read what is selected now
 * @param {(name: string, value: AttributeValue | undefined) => void} options.write sets (undefined: clears) one attribute
 */
export function attributePanel({ classes, read, write }) {
  const list = h("div", { class: "attribute-list" });
  const node = h("section", { id: "attributes", class: "attributes", hidden: true, "aria-label": "Attributes" },
    h("h3", {}, "Attributes"), list);
  /** @type {Attribute[]} */
  let shown = [];
  /** @type {Map<string, HTMLInputElement | HTMLSelectElement>} */
  const controls = new Map();

  function update() {
    const target = read();
    const declared = target ? declaredFor(classes, target.labels) : [];
    node.hidden = !declared.length;
    const sig = JSON.stringify([declared, target?.attributes]);
    if (list.dataset.sig === sig) return;
    list.dataset.sig = sig;
    shown = declared;
    controls.clear();
    list.replaceChildren(...declared.map((a, i) => row(a, i, target?.attributes[a.name])));
  }

  /** @param {Attribute} a @param {number} i @param {AttributeValue | undefined} value */
  function row(a, i, value) {
    /** @type {HTMLInputElement | HTMLSelectElement} */
    let control;
    const done = () => control.blur(); // the screen's keys work again at once
    if (a.type === "boolean") {
      control = h("input", { type: "checkbox", checked: value === true, onchange: () => { write(a.name, /** @type {HTMLInputElement} */ (control).checked); done(); } });
    } else if (a.type === "one_of") {
      control = h("select", { onchange: () => { write(a.name, control.value || undefined); done(); } },
        h("option", { value: "" }, "—"), (a.options || []).map((o) => h("option", { value: o, selected: o === value }, o)));
    } else {
      const number = a.type === "number";
      control = h("input", number
        ? { type: "number", step: "any", min: a.min ?? null, max: a.max ?? null, value: value ?? "" }
        : { type: "text", maxlength: a.maxLength || 200, value: value ?? "" });
      control.addEventListener("change", () => {
        const text = control.value;
        write(a.name, text.trim() === "" ? undefined : number ? Number(text) : text);
      });
      control.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === "Escape") { e.preventDefault(); e.stopPropagation(); done(); }
      });
    }
    control.dataset.attribute = a.name;
    controls.set(a.name, control);
    const key = i < 9 ? h("kbd", { title: `Shift+${i + 1}` }, `⇧${i + 1}`) : "";
    const hint = a.type === "number" && (a.min != null || a.max != null) ? ` (${a.min ?? ""}–${a.max ?? ""})` : "";
    return h("label", { class: "attribute", dataset: { attribute: a.name, type: a.type } }, key, " ", control, ` ${a.name}${hint}`);
  }

  /** Shift+1…9 on the n-th attribute shown; true when the key was one. @param {KeyboardEvent} e */
  function key(e) {
    if (!e.shiftKey || e.ctrlKey || e.metaKey || e.altKey || node.hidden) return false;
    const digit = /^Digit([1-9])$/.exec(e.code);
    const a = digit ? shown[Number(digit[1]) - 1] : undefined;
    const target = read();
    if (!a || !target) return false;
    if (a.type === "boolean" || a.type === "one_of") write(a.name, stepped(a, target.attributes[a.name]));
    else controls.get(a.name)?.focus();
    return true;
  }

  return { node, update, key };
}
