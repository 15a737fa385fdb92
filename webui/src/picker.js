// @ts-check
// The class list beside the work: every class with its key and colour, the item's current
// answer marked (✓, filled) apart from the class a key gives the next shape (outlined), groups
// of a hierarchy collapsible, and a search for long lists. Rows are made once; an update only
// flips the marks that changed, so a list of 1,000 classes stays instant.
import { h } from "./dom.js";
import { hasChildren, treeRows, visibleRows } from "./classtree.js";

const SEARCH_FROM = 12; // classes before the list gets a search box
const COLLAPSE_FROM = 60; // classes before groups start collapsed

const W = /** @type {any} */ (window);
/** @type {number[]} how long each filtering took, in ms (the browser tests read them) */
const timings = (W.loupePickerTimings = W.loupePickerTimings || []);

/**
 * @param {object} options
 * @param {{name: string, key?: string | null}[]} options.classes
 * @param {{classKey: (name: string) => string}} options.keys
 * @param {(name: string) => string} options.color
 * @param {(name: string) => void} options.onPick
 * @param {(name: string, kbd: HTMLElement) => void} options.onRebind
 */
export function classPicker({ classes, keys, color, onPick, onRebind }) {
  const started = performance.now();
  const rows = treeRows(classes);
  const collapsed = new Set(classes.length >= COLLAPSE_FROM ? rows.filter((r, i) => hasChildren(rows, i)).map((r) => r.id) : []);
  const search = h("input", { type: "search", id: "class-search", placeholder: `Search ${classes.length} classes ( / )`, autocomplete: "off", hidden: classes.length < SEARCH_FROM });
  const next = h("p", { id: "next-class", class: "next-class", hidden: true });
  const list = h("ol", { id: "labels", class: "labels" });
  const count = h("p", { class: "note", id: "class-count", hidden: true });
  /** @type {Map<string, HTMLElement>} */
  const items = new Map();
  /** @type {Map<string, HTMLElement>} */
  const kbds = new Map();
  /** @type {Map<string, HTMLElement>} */
  const folds = new Map();
  const groups = new Set(rows.filter((r) => r.group).map((r) => r.id));
  rows.forEach((row, index) => {
    const li = h("li", { dataset: row.group ? { group: row.id } : { label: row.id }, class: row.group ? "group" : "" });
    li.style.paddingLeft = `${0.4 + row.depth * 1.1}rem`;
    if (hasChildren(rows, index)) {
      const toggle = h("button", { type: "button", class: "fold", "aria-label": `Show or hide ${row.id}`, onclick: (/** @type {Event} */ e) => {
        e.stopPropagation();
        if (collapsed.has(row.id)) collapsed.delete(row.id); else collapsed.add(row.id);
        filter();
      } }, "▾");
      li.append(toggle);
      folds.set(row.id, toggle);
    }
    if (!row.group) {
      const kbd = h("kbd", { title: "Click, then press the key you want for this class", onclick: (/** @type {Event} */ e) => { e.stopPropagation(); onRebind(row.id, kbd); } }, keys.classKey(row.id));
      const swatch = h("span", { class: "swatch" });
      swatch.style.background = color(row.id);
      li.append(kbd, swatch);
      li.addEventListener("click", () => onPick(row.id));
      kbds.set(row.id, kbd);
    }
    li.append(h("span", { class: "name", title: row.id }, row.name));
    items.set(row.id, li);
    list.append(li);
  });
  filter();
  (W.loupePickerBuild = W.loupePickerBuild || []).push(performance.now() - started);

  /** Shows the rows the search and the folds leave. */
  function filter() {
    const t0 = performance.now();
    const shown = new Set(visibleRows(rows, search.value, collapsed).map((r) => r.id));
    for (const [id, li] of items) {
      const hide = !shown.has(id);
      if (li.hidden !== hide) li.hidden = hide;
      const fold = folds.get(id);
      if (fold) { const open = !collapsed.has(id) || !!search.value.trim(); fold.textContent = open ? "▾" : "▸"; li.classList.toggle("folded", !open); }
    }
    const matches = search.value.trim() ? [...shown].filter((id) => !groups.has(id)).length : null;
    count.hidden = matches === null;
    count.textContent = matches === null ? "" : `${matches} match${matches === 1 ? "" : "es"}`;
    timings.push(performance.now() - t0);
  }
  search.addEventListener("input", filter);
  search.addEventListener("keydown", (e) => {
    if (e.key === "Enter") { // the first class shown
      e.preventDefault();
      const first = [...items.entries()].find(([id, li]) => !li.hidden && li.dataset.label === id);
      if (first) { onPick(first[0]); search.value = ""; filter(); search.blur(); }
    } else if (e.key === "Escape") { search.value = ""; filter(); search.blur(); }
  });

  /** @type {Set<string>} */
  let chosen = new Set();
  /** @type {string | null} */
  let nextName = null;
  return {
    node: h("div", { class: "picker" }, next, search, count, list),
    /** Marks the classes the item's answer holds. @param {Set<string>} names */
    setChosen(names) {
      for (const name of chosen) if (!names.has(name)) items.get(name)?.classList.remove("chosen");
      for (const name of names) items.get(name)?.classList.add("chosen");
      chosen = new Set(names);
    },
    /** The class the next shape or span takes, and how to say so (null: keys apply at once). @param {string | null} name @param {string} [what] */
    setNext(name, what = "") {
      if (nextName) items.get(nextName)?.classList.remove("next");
      nextName = name;
      next.hidden = !name;
      if (!name) return;
      items.get(name)?.classList.add("next");
      next.replaceChildren(`${what} `, h("strong", {}, name));
    },
    refreshKeys() { for (const [name, kbd] of kbds) kbd.textContent = keys.classKey(name); },
    focusSearch() { if (!search.hidden) { search.focus(); search.select(); return true; } return false; },
  };
}
