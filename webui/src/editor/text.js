// @ts-check
// Text items: the text to classify, or the NER span editor (select text, press a class key;
// click a span to pick it, Delete removes it). Redrawn only when the value changes.
import { colorOf, h, showError } from "../dom.js";
import { overlaps, pieces, trimSpan } from "../geometry.js";
import { commit, spansOf } from "../state.js";
import { arcLayer, measured } from "./arcs.js";
import { dropRelationsOf, relationTool, relationsOf } from "./relations.js";

/** @typedef {import("../state.js").Task} Task */

/** Characters from the start of `box` to (node, offset). @param {Node} box @param {Node} node @param {number} offset */
function offsetIn(box, node, offset) {
  const range = document.createRange();
  range.setStart(box, 0);
  range.setEnd(node, offset);
  return range.toString().length;
}

/**
 * @param {object} options
 * @param {{id: string, text?: string | null}} options.item
 * @param {string} options.type
 * @param {{name: string}[]} options.classes
 * @param {Task} options.task
 * @param {() => void} options.changed
 * @param {import("./relations.js").RelationClass[]} [options.relationClasses] a text_ner project's
 */
export function textEditor({ item, type, classes, task, changed, relationClasses = [] }) {
  const text = item.text || "";
  const box = h("div", { class: "text", id: "text" });
  const ner = type === "text_ner";
  let drawn = "";
  const links = ner && relationClasses.length
    ? relationTool({ task, itemId: item.id, text, relationClasses, changed: () => { update(); changed(); } })
    : null;
  const arcs = links ? arcLayer({ box, onPick: (n) => links.select(n) }) : null;
  const directed = (/** @type {string} */ label) => relationClasses.find((k) => k.name === label)?.directed !== false;

  function update() {
    if (!ner) { if (!drawn) { box.append(text); drawn = "text"; } return; }
    const began = performance.now();
    const spans = spansOf(task.values[item.id]);
    const relations = relationsOf(task.values[item.id]);
    links?.update();
    const sig = JSON.stringify([spans, task.tool.selected, links ? [spans.map(links.marks), relations, links.chosen] : null]);
    if (sig === drawn) return;
    drawn = sig;
    box.replaceChildren(...pieces(text, spans).map((piece) => {
      if (!("span" in piece)) return piece.text;
      const color = colorOf(classes, piece.span.label);
      const marked = `${task.tool.selected === piece.index ? "selected" : ""} ${links?.marks(piece.span) || ""}`;
      const mark = h("mark", { class: `span ${marked}`, dataset: { label: piece.span.label, index: piece.index, start: piece.span.start }, title: piece.span.label,
        onclick: () => { if (links?.clicked(piece.index)) return; task.tool.selected = piece.index; task.tool.picked = true; links?.spanPicked(); update(); changed(); } }, piece.text);
      mark.style.background = `${color}33`;
      mark.style.borderColor = color;
      return mark;
    }));
    if (links && arcs) arcs.draw(relations, directed, links.chosen);
    measured("loupe:text-drawn", began); // the spans and their arcs, laid out
  }

  /** The selected text as a span's range, trimmed; null when none. */
  function current() {
    const sel = window.getSelection();
    if (!sel || !sel.rangeCount || sel.isCollapsed) return null;
    const range = sel.getRangeAt(0);
    if (!box.contains(range.startContainer) || !box.contains(range.endContainer)) return null;
    return trimSpan(text, offsetIn(box, range.startContainer, range.startOffset), offsetIn(box, range.endContainer, range.endOffset));
  }
  // On a touch screen, tapping a class clears the text selection before the tap lands: keep
  // the last selection for a moment after it goes, so the tap still makes the span.
  /** @type {{start: number, end: number} | null} */
  let kept = null;
  let lostAt = 0;
  const watch = () => {
    const now = current();
    if (now) { kept = now; lostAt = 0; } else if (kept && !lostAt) lostAt = performance.now();
  };
  document.addEventListener("selectionchange", watch);
  function selection() {
    const now = current();
    if (now) return now;
    // Not reported gone yet (the tap's click comes before the selectionchange), or just now.
    return kept && (!lostAt || performance.now() - lostAt < 1500) ? kept : null;
  }

  /** A class key: a span over the selected text, or the picked span relabeled. @param {string} name */
  function apply(name) {
    const range = ner ? selection() : null;
    if (range) {
      const spans = spansOf(task.values[item.id]);
      if (overlaps(spans, range.start, range.end)) { showError(new Error("Spans may not overlap: delete the other span first.")); return true; }
      window.getSelection()?.removeAllRanges();
      kept = null;
      commit(task, (values) => { spansOf(values[item.id]).push({ label: name, ...range }); });
      update(); changed();
      return true;
    }
    const i = task.tool.selected;
    if (ner && i !== null && task.tool.picked) {
      commit(task, (values) => { spansOf(values[item.id])[i].label = name; });
      update(); changed();
      return true;
    }
    return false;
  }

  function deleteSelected() {
    if (links?.removeChosen()) return true; // a relation selected (its arc or row)
    const i = task.tool.selected;
    if (!ner || i === null) return false;
    task.tool.selected = null;
    commit(task, (values) => {
      const [gone] = spansOf(values[item.id]).splice(i, 1);
      if (gone) dropRelationsOf(values[item.id], gone.start); // a relation goes with its span
    });
    update(); changed();
    return true;
  }

  function cancel() {
    if (links?.cancel()) return true;
    if (task.tool.selected === null) return false;
    task.tool.selected = null; update(); changed();
    return true;
  }

  update();
  // The listener goes with the text: the editor is dropped when its item leaves the screen.
  const gone = new MutationObserver(() => { if (!box.isConnected) { document.removeEventListener("selectionchange", watch); gone.disconnect(); } });
  queueMicrotask(() => box.parentNode && gone.observe(document.body, { childList: true, subtree: true }));
  const hint = ner ? `Select text, then press a label key. Click a span and press Delete to remove it, or a key to relabel it.${links ? " ↓/↑ pick spans by keyboard; L links the picked span to another." : ""}` : "";
  return {
    node: links && arcs ? h("div", { class: "text-editor" }, arcs.node, links.node) : box, update, apply, deleteSelected, cancel, hint,
    key,
  };

  /** The relation tool's keys: ↓/↑, Enter and numbers while linking (before the class keys, so
   * a number chooses the relation class), and the "relate" action, which starts linking.
   * @param {KeyboardEvent} e @param {import("../keys.js").Bound | null} [bound] */
  function key(e, bound = null) {
    if (!links) return false;
    if (links.key(e)) return true;
    return bound?.kind === "action" && bound.name === "relate" && links.start();
  }
}
