// @ts-check
// The Details card of a text_ner project's relation classes: the list (name, direction, the
// span classes allowed at each end) and a form that adds one. A class stays once the project
// has started (answers may hold it), so there is no delete here; the API says why if asked.
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
 */
export function relationClassesCard(project, add) {
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
      ? known.map((k) => h("li", { dataset: { name: k.name } }, h("strong", {}, k.name), ` ${relationText(k)}`))
      : h("li", { class: "note" }, "None.")),
    h("h3", {}, "Add"), h("div", { class: "bar" }, name, h("label", {}, directed, " directed")),
    h("div", { class: "bar" }, h("label", {}, "from ", heads), h("label", {}, "to ", tails)),
    h("button", { id: "add-relation-class", onclick: () => {
      /** @type {RelationClass} */
      const added = { name: name.value.trim(), directed: directed.checked };
      const from = chosen(heads), to = chosen(tails);
      if (from) added.heads = from;
      if (to) added.tails = to;
      return add(added);
    } }, "Add relation class"));
}
