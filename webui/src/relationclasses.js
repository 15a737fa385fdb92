// @ts-check
// The card of a text_ner project's relation classes, in Details and the create wizard: the
// list (name, direction, the span classes allowed at each end) and a form that adds one. A class
// stays once the project has started (answers may hold it), so Details has no delete (the API
// says why if asked); the wizard, before the project exists, removes one with its × button.
import { h } from "./dom.js";

/** @typedef {import("./editor/relations.js").RelationClass} RelationClass */

/** @param {RelationClass} kind */
export function relationText(kind) {
  const ends = (/** @type {string[] | null | undefined} */ names) => (names?.length ? names.join(" or ") : "any");
  return `${ends(kind.heads)} ${kind.directed === false ? "—" : "→"} ${ends(kind.tails)}`;
}

/**
 * @param {{labelClasses: {name: string}[], relationClasses?: RelationClass[]}} project
 * @param {(added: RelationClass) => Promise<unknown>} add saves one more (on the project as it is then)
 * @param {(name: string) => void} [remove] takes one away (the wizard's, not yet saved)
 */
export function relationClassesCard(project, add, remove) {
  const known = project.relationClasses || [];
  const name = h("input", { id: "relation-name", placeholder: "relation name, e.g. works_for" });
  const directed = h("input", { type: "checkbox", id: "relation-directed", checked: true });
  const ends = (/** @type {string} */ id) => h("select", { id, multiple: true, size: Math.min(4, project.labelClasses.length), title: "None chosen: any class" },
    project.labelClasses.map((c) => h("option", { value: c.name }, c.name)));
  const heads = ends("relation-heads"), tails = ends("relation-tails");
  const chosen = (/** @type {HTMLSelectElement} */ select) => {
    const names = [...select.selectedOptions].map((o) => o.value);
    return names.length ? names : null;
  };
  return h("section", { class: "card", id: "relation-classes" }, h("h2", {}, "Relation classes"),
    h("p", { class: "note" }, "Links a labeler draws between two spans of a text (L on the labeling screen)."),
    h("ol", { id: "relation-class-list" }, known.length
      ? known.map((k) => h("li", { dataset: { name: k.name } }, h("strong", {}, k.name), ` ${relationText(k)}`,
        remove ? h("button", { type: "button", class: "relation-class-delete", "aria-label": `Remove ${k.name}`, onclick: () => remove(k.name) }, "×") : ""))
      : h("li", { class: "note" }, "None.")),
    h("h3", {}, "Add"), h("div", { class: "bar" }, name, h("label", {}, directed, " directed")),
    h("div", { class: "bar" }, h("label", {}, "from ", heads), h("label", {}, "to ", tails)),
    h("button", { type: "button", id: "add-relation-class", onclick: () => {
      /** @type {RelationClass} */
      const added = { name: name.value.trim(), directed: directed.checked };
      const from = chosen(heads), to = chosen(tails);
      if (from) added.heads = from;
      if (to) added.tails = to;
      return add(added);
    } }, "Add relation class"));
}
