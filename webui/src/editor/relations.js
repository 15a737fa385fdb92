// @ts-check
// Relations between the spans of a text_ner answer: pick a span (click, or ↓/↑), press L (or
// "Link"), pick the other span (click, or ↓/↑ then Enter), then the relation class (click, or
// its number; with one class allowed it is taken at once). The answer's relations are drawn as
// arcs over the text (arcs.js) and listed under it, each row with a button that deletes it;
// clicking an arc, or clicking or tabbing to its row, selects the relation (both show it, and
// its spans). A relation names its spans by their start offsets (spans never overlap), so
// adding or removing other spans never changes it.
import { h, showError } from "../dom.js";
import { commit, spansOf } from "../state.js";

/** @typedef {import("../state.js").Task} Task */
/** @typedef {import("../state.js").Span} Span */
/** @typedef {{label: string, from: number, to: number}} Relation */
/** @typedef {{name: string, directed?: boolean, heads?: string[] | null, tails?: string[] | null}} RelationClass */

/** The relations of an answer (none when it has no `relations`). @param {any} value @returns {Relation[]} */
export const relationsOf = (value) => (value && Array.isArray(value.relations) ? value.relations : []);

/** Whether `kind` may link a `head` span to a `tail` span (either way round when undirected).
 * @param {RelationClass} kind @param {string} head @param {string} tail */
export function allows(kind, head, tail) {
  const fits = (/** @type {string} */ a, /** @type {string} */ b) => (!kind.heads || kind.heads.includes(a)) && (!kind.tails || kind.tails.includes(b));
  return fits(head, tail) || (kind.directed === false && fits(tail, head));
}

/** The answer without the relations that touch the span starting at `start`. @param {any} value @param {number} start */
export function dropRelationsOf(value, start) {
  const kept = relationsOf(value).filter((r) => r.from !== start && r.to !== start);
  if (kept.length) value.relations = kept; else delete value.relations; // no empty key: as stored
}

/**
 * @param {object} options
 * @param {Task} options.task
 * @param {string} options.itemId
 * @param {string} options.text
 * @param {RelationClass[]} options.relationClasses
 * @param {() => void} options.changed redraws the editor and the screen
 */
export function relationTool({ task, itemId, text, relationClasses, changed }) {
  /** @type {{from: number, to: number | null, choosing: RelationClass[] | null} | null} */
  let link = null;
  /** @type {number | null} the selected relation (its arc and row stand out) */
  let chosen = null;
  let listed = ""; // the relations the list's rows show: rebuilt only when they change, so a row keeps focus
  const list = h("ol", { id: "relation-list", class: "relation-list" });
  const status = h("p", { class: "note", id: "relation-status", "aria-live": "polite" });
  const choices = h("div", { class: "actions", id: "relation-choices" });
  const linkButton = h("button", { type: "button", id: "relation-link", onclick: () => start() }, "Link (L)");
  const node = h("section", { class: "relations", id: "relations" }, h("h3", {}, "Relations"), list, status, choices, linkButton);

  const spans = () => [...spansOf(task.values[itemId])].sort((a, b) => a.start - b.start);
  const spanAt = (/** @type {number} */ start) => spansOf(task.values[itemId]).find((s) => s.start === start);
  const words = (/** @type {Span | undefined} */ span) => (span ? `“${text.slice(span.start, span.end)}”` : "?");

  /** Starts a link from the picked span. */
  function start() {
    const i = task.tool.selected;
    const span = i === null ? undefined : spansOf(task.values[itemId])[i];
    if (!span) { showError(new Error("Pick a span first (click it, or ↓/↑), then link it.")); return true; }
    link = { from: span.start, to: null, choosing: null };
    changed();
    return true;
  }

  /** The other end is chosen: offer the classes that fit, or take the only one. @param {number} to */
  function chooseEnd(to) {
    if (!link) return;
    if (to === link.from) { showError(new Error("A relation links two different spans: pick the other one.")); return; }
    const head = spanAt(link.from), tail = spanAt(to);
    if (!head || !tail) return;
    const fitting = relationClasses.filter((k) => allows(k, head.label, tail.label));
    if (!fitting.length) {
      showError(new Error(`No relation class links ${head.label} to ${tail.label}.`));
      return;
    }
    link = { ...link, to, choosing: fitting };
    if (fitting.length === 1) add(fitting[0]); else changed();
  }

  /** @param {RelationClass} kind */
  function add(kind) {
    if (!link || link.to === null) return;
    let from = link.from, to = link.to;
    if (kind.directed === false && to < from) [from, to] = [to, from]; // stored earlier span first
    const exists = relationsOf(task.values[itemId]).some((r) => r.label === kind.name && r.from === from && r.to === to);
    link = null;
    if (exists) { showError(new Error(`That ${kind.name} relation is there already.`)); changed(); return; }
    showError(null);
    commit(task, (values) => {
      const value = /** @type {any} */ (values[itemId]);
      value.relations = [...relationsOf(value), { label: kind.name, from, to }];
    });
    changed();
  }

  /** Selects relation n (null: none). A relation or a span is selected, never both, so Delete
   * knows which goes. @param {number | null} n */
  function select(n) {
    if (chosen === n) return;
    chosen = n;
    if (n !== null) { task.tool.selected = null; task.tool.picked = false; }
    changed();
  }

  /** Delete: the selected relation (false: none is). */
  function removeChosen() {
    if (chosen === null) return false;
    remove(chosen);
    return true;
  }

  /** A span was picked: the relation selected before lets go (the caller redraws). */
  function spanPicked() { chosen = null; }

  /** @param {number} n */
  function remove(n) {
    chosen = null;
    commit(task, (values) => {
      const value = /** @type {any} */ (values[itemId]);
      const kept = relationsOf(value).filter((_, i) => i !== n);
      if (kept.length) value.relations = kept; else delete value.relations;
    });
    changed();
  }

  /** Moves the picked span (or, while linking, the other end) to the next or previous span. @param {number} step */
  function move(step) {
    const sorted = spans();
    if (!sorted.length) return;
    const all = spansOf(task.values[itemId]);
    if (link && !link.choosing) {
      const others = sorted.filter((s) => s.start !== link?.from);
      if (!others.length) return;
      const at = others.findIndex((s) => s.start === link?.to);
      const next = others[at < 0 ? (step > 0 ? 0 : others.length - 1) : (at + step + others.length) % others.length];
      link = { ...link, to: next.start };
    } else {
      const current = task.tool.selected === null ? undefined : all[task.tool.selected];
      const at = current ? sorted.indexOf(current) : -1;
      const next = sorted[at < 0 ? (step > 0 ? 0 : sorted.length - 1) : (at + step + sorted.length) % sorted.length];
      task.tool.selected = all.indexOf(next);
      task.tool.picked = true;
      spanPicked();
    }
    changed();
  }

  /** A span was clicked: while linking, it is the other end (true: the click is taken). @param {number} index */
  function clicked(index) {
    if (!link || link.choosing) return false;
    const span = spansOf(task.values[itemId])[index];
    if (span) chooseEnd(span.start);
    return true;
  }

  /** Keys while this tool may act: ↓/↑, L, and while linking Enter and the class numbers.
   * @param {KeyboardEvent} e @returns {boolean} whether the key was taken */
  function key(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return false;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") { move(e.key === "ArrowDown" ? 1 : -1); return true; }
    if (!link) return false;
    if (link.choosing) {
      const n = Number(e.key);
      if (Number.isInteger(n) && n >= 1 && n <= link.choosing.length) { add(link.choosing[n - 1]); return true; }
      return e.key.length === 1; // other letters wait for a class to be chosen or Esc
    }
    if (e.key === "Enter") { if (link.to !== null) chooseEnd(link.to); return true; }
    return false;
  }

  /** Esc: stops linking (true), or leaves the key to others. */
  function cancel() {
    if (!link && chosen === null) return false;
    if (link) link = null; else chosen = null;
    changed();
    return true;
  }

  /** The classes a span's mark carries: while linking, its end; an end of the selected relation. @param {Span} span */
  function marks(span) {
    const picked = chosen === null ? undefined : relationsOf(task.values[itemId])[chosen];
    const related = picked && (picked.from === span.start || picked.to === span.start) ? " related" : "";
    if (!link) return related.trim();
    if (span.start === link.from) return `link-from${related}`;
    return span.start === link.to ? `link-to${related}` : related.trim();
  }

  /** The list's rows, one a relation (Tab reaches each; focusing or clicking one selects it). @param {Relation[]} relations */
  function rows(relations) {
    return relations.map((r, n) => {
      const kind = relationClasses.find((k) => k.name === r.label);
      const arrow = kind?.directed === false ? "—" : "→";
      return h("li", { tabindex: 0, dataset: { label: r.label, from: r.from, to: r.to, index: n },
        onfocus: () => select(n), onclick: (/** @type {Event} */ e) => { if (!(/** @type {HTMLElement} */ (e.target)).closest("button")) select(n); } },
      `${words(spanAt(r.from))} `, h("strong", {}, `${arrow} ${r.label} ${arrow}`), ` ${words(spanAt(r.to))} `,
      h("button", { type: "button", class: "relation-delete", "aria-label": `Delete relation ${n + 1} (${r.label})`, onclick: () => remove(n) }, "×"));
    });
  }

  function update() {
    const relations = relationsOf(task.values[itemId]);
    if (chosen !== null && chosen >= relations.length) chosen = null; // undone, or another item's answer
    const sig = JSON.stringify([relations, spansOf(task.values[itemId])]);
    if (sig !== listed) {
      listed = sig;
      list.replaceChildren(...(relations.length ? rows(relations) : [h("li", { class: "note" }, "None yet.")]));
    }
    for (const row of list.children) row.classList.toggle("selected", chosen !== null && /** @type {HTMLElement} */ (row).dataset.index === String(chosen));
    linkButton.disabled = task.tool.selected === null || Boolean(link);
    if (!link) {
      status.textContent = "Pick a span (click, or ↓/↑), then L to link it to another.";
      choices.replaceChildren();
    } else if (!link.choosing) {
      status.textContent = `Linking from ${words(spanAt(link.from))}: pick the other span (click, or ↓/↑ then Enter); Esc cancels.`;
      choices.replaceChildren();
    } else {
      status.textContent = `Link ${words(spanAt(link.from))} to ${words(spanAt(link.to ?? -1))} as:`;
      choices.replaceChildren(...link.choosing.map((k, n) => h("button", { type: "button", class: "relation-choice", dataset: { name: k.name },
        onclick: () => add(k) }, `${n + 1} ${k.name}`)));
    }
  }

  return { node, update, key, cancel, clicked, marks, start, select, removeChosen, spanPicked, get chosen() { return chosen; }, get linking() { return Boolean(link); } };
}
