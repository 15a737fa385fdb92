// @ts-check
// Relations drawn as arcs over a text_ner text, as brat draws them: each relation rises from the
// top of one span and comes down on the other, its class named on it and, for a directed class,
// an arrow where it lands (arclayout.js places them). The lines are spaced to hold the highest
// arc, and the arcs are placed again whenever the text wraps otherwise (a resize, a phone
// turned). The relation list under the text stays the keyboard's and screen readers' way to
// the same relations.
import { STEP, arcLayout, arcPath } from "../arclayout.js";
import { h, s } from "../dom.js";

/** @typedef {import("../arclayout.js").Relation} Relation */
/** @typedef {import("../arclayout.js").Anchor} Anchor */

/** Records how long drawing took, as the page's last `name` measure (the browser tests read it).
 * @param {string} name @param {number} start */
export function measured(name, start) {
  performance.clearMeasures(name); // only the last: a long session does not pile them up
  performance.measure(name, { start });
}

/**
 * The arcs' layer over the text box `box` (its marks: `mark.span[data-start]`).
 * @param {object} options
 * @param {HTMLElement} options.box
 * @param {(n: number) => void} options.onPick a click on relation n's arc
 */
export function arcLayer({ box, onPick }) {
  const svg = s("svg", { class: "arcs", "aria-hidden": "true" });
  const node = h("div", { class: "arc-host" }, box, svg);
  const arrowHead = s("defs");
  const marker = s("marker", { id: "arc-arrow", viewBox: "0 0 8 8", refX: 7, refY: 4, markerWidth: 7, markerHeight: 7, markerUnits: "userSpaceOnUse", orient: "auto" });
  marker.append(s("path", { d: "M0 0L8 4L0 8z" }));
  arrowHead.append(marker);
  /** @type {{relations: Relation[], directed: (label: string) => boolean, chosen: number | null}} */
  let shown = { relations: [], directed: () => true, chosen: null };

  /** Where each span meets its arcs, relative to the layer. */
  function anchors() {
    const origin = node.getBoundingClientRect();
    /** @type {Map<number, Anchor>} */
    const out = new Map();
    let tallest = 0;
    for (const mark of box.querySelectorAll("mark.span")) {
      const rect = mark.getClientRects()[0];
      if (!rect) continue;
      tallest = Math.max(tallest, rect.height);
      out.set(Number(/** @type {HTMLElement} */ (mark).dataset.start), { x: rect.left + rect.width / 2 - origin.left, top: rect.top - origin.top });
    }
    return { anchors: out, tallest, width: origin.width };
  }

  /** Spaces the lines for `gap` between them (none: the text's own spacing). @param {number} gap @param {number} tallest */
  function space(gap, tallest) {
    const height = gap ? `${Math.ceil(tallest + gap)}px` : "";
    const pad = gap ? `${Math.ceil(gap / 2) + 8}px` : "";
    if (box.style.lineHeight === height && box.style.paddingTop === pad) return false;
    box.style.lineHeight = height;
    box.style.paddingTop = pad;
    return true;
  }

  /** Draws the relations (again, after the text changed or wrapped). */
  function draw(relations = shown.relations, directed = shown.directed, chosen = shown.chosen) {
    shown = { relations, directed, chosen };
    if (!node.isConnected) return; // not laid out yet: drawn once it is (the observer below)
    const began = performance.now();
    let at = anchors();
    const first = arcLayout(relations, at.anchors, at.width, directed);
    if (space(first.gap, at.tallest)) at = anchors(); // taller lines move the spans down, never sideways
    const { segments } = arcLayout(relations, at.anchors, at.width, directed);
    /** @type {Map<number, SVGGElement>} */
    const groups = new Map();
    for (const g of segments) {
      let group = groups.get(g.relation);
      if (!group) {
        const n = g.relation;
        group = s("g", { class: `arc${n === chosen ? " selected" : ""}`, "data-index": n, "data-label": relations[n].label });
        group.addEventListener("click", () => onPick(n));
        groups.set(n, group);
      }
      const d = arcPath(g);
      group.append(s("path", { class: "arc-hit", d }), s("path", { class: "arc-line", d, ...(g.arrow ? { "marker-end": "url(#arc-arrow)" } : {}) }));
      if (g.named) {
        const name = s("text", { x: (g.a + g.b) / 2, y: g.y - g.level * STEP, class: "arc-label" });
        name.textContent = relations[g.relation].label;
        group.append(name);
      }
    }
    svg.replaceChildren(arrowHead, ...groups.values());
    measured("loupe:arcs-drawn", began);
  }

  let queued = false;
  let width = -1; // the text wraps otherwise only when its width changes (its height is ours)
  let shownOnce = false;
  const watcher = new ResizeObserver(([entry]) => {
    if (node.isConnected) shownOnce = true;
    else if (shownOnce) { watcher.disconnect(); return; } // the item left the screen
    if (queued || entry.contentRect.width === width) return;
    width = entry.contentRect.width;
    queued = true;
    requestAnimationFrame(() => { queued = false; draw(); }); // a frame later: no resize loop
  });
  watcher.observe(box);
  return { node, draw };
}
