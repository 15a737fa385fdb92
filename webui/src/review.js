// @ts-check
// The review workspace (the Data tab): a grid of thumbnails with shapes and spans drawn on,
// filters (state, label, labeler, path, date, disagreement, pre-label confidence, review,
// attribute),
// keyboard navigation, a selection for bulk approve/reject or "everything matching", and the
// full-size viewer (viewer.js) where a reviewer fixes any item with the labeling tools.
import { get, post } from "./api.js";
import { anyAttributes, filterHints } from "./attrs.js";
import { confirmAction } from "./dialogs.js";
import { drawThumbKeypoints } from "./editor/keypoints.js";
import { colorOf, h, s, showError, words } from "./dom.js";
import { pieces } from "./geometry.js";
import { sampled } from "./masks.js";
import { describe } from "./state.js";
import { openViewer } from "./viewer.js";

/** @typedef {import("./api-types").components["schemas"]["ItemView"]} ItemView */

const STATES = ["labeled", "needs_review", "skipped", "unlabeled", "error"];
const PAGE = 60;

/** The answer a reviewer sees on an item: the final value, else the latest answer. @param {ItemView} item */
export function shownValue(item) {
  return item.final || item.annotations?.[item.annotations.length - 1]?.value || null;
}

/** A thumbnail with the item's boxes or polygons drawn over it, or its text with spans marked.
 * @param {ItemView} item @param {{name: string}[]} classes */
export function thumb(item, classes) {
  const value = /** @type {any} */ (shownValue(item) || {});
  const figure = h("figure", { class: "thumb" });
  if (item.kind === "text") {
    const text = (item.text || "").slice(0, 400);
    const spans = (value.spans || []).filter((/** @type {any} */ sp) => sp.end <= text.length);
    figure.append(h("div", { class: "snippet" }, ...pieces(text, spans).map((p) => {
      if (!("span" in p)) return p.text;
      const mark = h("mark", { class: "span", title: p.span.label }, p.text);
      mark.style.borderColor = colorOf(classes, p.span.label);
      return mark;
    })));
    const links = (value.relations || []).length;
    if (links) figure.append(h("span", { class: "relations-badge", title: "Relations between spans: open it to see them" }, `${links} relation${links === 1 ? "" : "s"}`));
    return figure;
  }
  if (item.thumbnailUrl) figure.append(h("img", { src: item.thumbnailUrl, loading: "lazy", alt: "" }));
  const svg = s("svg", { viewBox: "0 0 100 100", preserveAspectRatio: "none", class: "overlay-shapes" });
  // The thumbnail is a volume's first slice: the shapes of other slices are not drawn on it.
  const onFirst = (/** @type {{slice?: number | null}} */ x) => x.slice === undefined || x.slice === null || x.slice === 0;
  const drawn = [...value.boxes || [], ...value.polygons || [], ...value.keypoints || [], ...value.masks || []];
  const slices = new Set(drawn.map((x) => x.slice).filter((n) => typeof n === "number"));
  for (const b of (value.boxes || []).filter(onFirst)) svg.append(s("rect", { x: b.x * 100, y: b.y * 100, width: b.w * 100, height: b.h * 100, stroke: colorOf(classes, b.label) }));
  drawThumbKeypoints(svg, (value.keypoints || []).filter(onFirst), classes);
  for (const p of (value.polygons || []).filter(onFirst)) svg.append(s("polygon", { points: p.points.map((/** @type {number[]} */ [x, y]) => `${x * 100},${y * 100}`).join(" "), stroke: colorOf(classes, p.label) }));
  const masks = (value.masks || []).filter(onFirst); // a mask without a slice is on the first
  figure.append(masks.length ? maskOverlay(masks, classes) : svg);
  if ((item.frames || 1) > 1) figure.append(h("span", { class: "frames-badge", title: "Frames: open it to move through them" },
    `${item.frames} frames${slices.size ? ` · shapes on ${slices.size}` : ""}`));
  return figure;
}

/** The masks of a thumbnail, sampled onto a small canvas in their classes' colours.
 * @param {import("./masks.js").Mask[]} masks @param {{name: string}[]} classes */
function maskOverlay(masks, classes) {
  const [height, width] = masks[0].size;
  const cols = 96; const rows = Math.max(1, Math.round((cols * height) / width));
  const canvas = h("canvas", { width: cols, height: rows, class: "overlay-masks", dataset: { masks: masks.length } });
  const ctx = canvas.getContext("2d");
  if (!ctx) return canvas;
  const image = ctx.createImageData(cols, rows);
  const colours = masks.map((m) => colorOf(classes, m.label)).map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));
  sampled(masks, cols, rows).forEach((id, p) => { if (id) image.data.set([...colours[id - 1], 140], p * 4); });
  ctx.putImageData(image, 0, 0);
  return canvas;
}

/** @param {{project: any, pane: HTMLElement, role: string}} context */
export async function reviewView({ project, pane, role }) {
  const base = `/projects/${encodeURIComponent(project.id)}`;
  const classes = project.labelClasses;
  const reviewer = role !== "labeler";
  const f = {
    state: h("select", { id: "filter-state" }, h("option", { value: "" }, "all states"), STATES.map((st) => h("option", { value: st }, words(st)))),
    label: h("input", { id: "filter-label", list: "filter-label-list", placeholder: "any label", autocomplete: "off" }),
    labeler: h("input", { id: "filter-labeler", placeholder: "labeler" }),
    path: h("input", { id: "filter-path", placeholder: "path starts with" }),
    since: h("input", { id: "filter-since", type: "date", title: "Changed on or after" }),
    until: h("input", { id: "filter-until", type: "date", title: "Changed on or before" }),
    disputed: h("input", { id: "filter-disputed", type: "checkbox" }),
    min: h("input", { id: "filter-min-confidence", type: "number", min: 0, max: 1, step: 0.05, placeholder: "min" }),
    max: h("input", { id: "filter-max-confidence", type: "number", min: 0, max: 1, step: 0.05, placeholder: "max" }),
    reviewed: h("select", { id: "filter-reviewed" }, h("option", { value: "" }, "reviewed or not"), h("option", { value: "unreviewed" }, "not reviewed"), h("option", { value: "approved" }, "approved")),
    attribute: h("input", { id: "filter-attribute", list: "filter-attribute-list", placeholder: "attribute or attribute=value", autocomplete: "off", hidden: !anyAttributes(classes) }),
  };
  const attributeHints = h("datalist", { id: "filter-attribute-list" }, filterHints(classes).map((hint) => h("option", { value: hint })));
  const labels = h("datalist", { id: "filter-label-list" }, classes.map((/** @type {{name: string}} */ c) => h("option", { value: c.name })));
  const grid = h("div", { class: "review-grid", id: "items", role: "grid", "aria-label": "Items" });
  const sentinel = h("div", { class: "sentinel" }, "…");
  const total = h("span", { id: "match-count", class: "note" });
  const selectedNote = h("span", { id: "selected-count" });
  const bulk = {
    approve: h("button", { id: "bulk-approve", class: "approve", disabled: true, onclick: () => bulkSelected("approve") }, "Approve selected (A)"),
    reject: h("button", { id: "bulk-reject", class: "reject", disabled: true, onclick: () => bulkSelected("reject") }, "Reject selected… (R)"),
    approveAll: h("button", { id: "approve-matching", onclick: () => bulkMatching("approve") }, "Approve all matching…"),
    rejectAll: h("button", { id: "reject-matching", onclick: () => bulkMatching("reject") }, "Reject all matching…"),
    all: h("button", { id: "select-shown", onclick: () => selectAll() }, "Select all shown"),
    none: h("button", { id: "select-clear", onclick: () => clearSelection() }, "Clear"),
  };
  const bar = h("div", { class: "bar bulkbar", id: "bulk-bar" }, total, selectedNote, reviewer ? [bulk.all, bulk.none, bulk.approve, bulk.reject, bulk.approveAll, bulk.rejectAll] : []);
  pane.replaceChildren(h("div", { class: "filters bar", id: "filters" }, f.state, f.label, labels, f.labeler, f.path,
    h("label", {}, "from ", f.since), h("label", {}, "to ", f.until), h("label", {}, f.disputed, " labelers disagree"),
    h("label", { title: "ML assist's confidence in the pre-label" }, "confidence ", f.min, "–", f.max), f.reviewed, f.attribute, attributeHints,
    h("button", { id: "filter-clear", type: "button", onclick: () => { for (const el of Object.values(f)) { if (el instanceof HTMLInputElement && el.type === "checkbox") el.checked = false; else /** @type {HTMLInputElement} */ (el).value = ""; } reset(); } }, "Clear filters")),
    bar, grid, sentinel,
    h("p", { class: "note keys-note" }, "Keys: arrows move · Space selects · Enter opens · A approves · R rejects · Ctrl+A selects all shown · Esc clears"));

  /** @type {Map<string, ItemView>} */
  const shown = new Map();
  /** @type {Set<string>} */
  const selected = new Set();
  /** @type {string | null | undefined} */
  let continuation = null;
  let loading = false;
  let generation = 0;
  let lookedAt = new Date();

  /** The filter as the API takes it (query parameters; the bulk body's `filter`). */
  function filter() {
    /** @type {Record<string, any>} */
    const out = {};
    const v = (/** @type {HTMLElement} */ el) => /** @type {HTMLInputElement} */ (el).value.trim();
    if (v(f.state)) out.state = v(f.state);
    if (v(f.label)) out.label = v(f.label);
    if (v(f.labeler)) out.labeler = v(f.labeler);
    if (v(f.path)) out.path = v(f.path);
    if (v(f.since)) out.since = new Date(`${v(f.since)}T00:00:00`).toISOString();
    if (v(f.until)) out.until = new Date(`${v(f.until)}T23:59:59.999`).toISOString();
    if (/** @type {HTMLInputElement} */ (f.disputed).checked) out.disputed = true;
    if (v(f.min)) out.minConfidence = Number(v(f.min));
    if (v(f.max)) out.maxConfidence = Number(v(f.max));
    if (v(f.reviewed)) out.reviewed = v(f.reviewed);
    if (v(f.attribute)) out.attribute = v(f.attribute);
    return out;
  }

  /** @param {ItemView} item */
  function tile(item) {
    const value = shownValue(item);
    const check = h("input", { type: "checkbox", class: "pick", "aria-label": `Select ${item.path}`, checked: selected.has(item.id), tabindex: -1,
      onclick: (/** @type {Event} */ e) => { e.stopPropagation(); toggle(item.id); } });
    const node = h("article", { class: `tile ${item.state} ${selected.has(item.id) ? "selected" : ""}`, tabindex: 0, role: "gridcell",
      dataset: { itemId: item.id, state: item.state }, onclick: () => open(item.id), onfocus: () => (focusId = item.id) },
      reviewer ? check : "", thumb(item, classes),
      h("div", { class: "meta" },
        h("span", { class: "path", title: item.path }, item.path),
        h("span", { class: `state ${item.state}` }, words(item.state), item.review ? ` · ${item.review.decision} by ${item.review.user}` : "", item.disputed ? " · disputed" : ""),
        h("span", { class: "answer" }, describe(value) || "—"),
        h("span", { class: "note" }, (item.annotations || []).map((a) => a.user).join(", "),
          item.prediction ? ` · pre-label ${Math.round(item.prediction.confidence * 100)}%` : "",
          item.comments?.length ? ` · 💬 ${item.comments.length}` : ""),
        item.error ? h("span", { class: "error" }, item.error) : ""));
    return node;
  }

  /** @type {string | null} */
  let focusId = null;
  /** @param {string} id */
  function toggle(id) {
    if (selected.has(id)) selected.delete(id); else selected.add(id);
    const node = grid.querySelector(`[data-item-id="${CSS.escape(id)}"]`);
    node?.classList.toggle("selected", selected.has(id));
    const box = /** @type {HTMLInputElement | null} */ (node?.querySelector(".pick") || null);
    if (box) box.checked = selected.has(id);
    counts();
  }
  function selectAll() { for (const id of shown.keys()) if (!selected.has(id)) toggle(id); }
  function clearSelection() { for (const id of [...selected]) toggle(id); }
  function counts() {
    selectedNote.textContent = selected.size ? `${selected.size} selected` : "";
    /** @type {HTMLButtonElement} */ (bulk.approve).disabled = !selected.size;
    /** @type {HTMLButtonElement} */ (bulk.reject).disabled = !selected.size;
  }

  async function more() {
    if (loading || continuation === undefined) return;
    loading = true;
    const mine = generation;
    try {
      const q = new URLSearchParams({ pageSize: String(PAGE), ...filter() });
      if (continuation) q.set("continuation", continuation);
      else q.set("total", "true");
      const page = await get(`${base}/items?${q}`);
      if (mine !== generation) return;
      if (page.total !== undefined && page.total !== null) total.textContent = `${page.total} item${page.total === 1 ? "" : "s"} match`;
      for (const item of page.items) shown.set(item.id, item);
      grid.append(...page.items.map(tile));
      continuation = page.continuation || undefined;
      sentinel.textContent = continuation ? "…" : grid.children.length ? "" : "No items.";
    } catch (e) { showError(e); } finally { loading = false; }
    if (continuation && nearBottom()) more();
  }
  // Judged when called, not by the observer's entry: its first report (the grid still empty)
  // can arrive after the first page is shown, and would load a second one nobody scrolled to.
  const nearBottom = () => sentinel.getBoundingClientRect().top < innerHeight + 400;
  /** @type {string | null} */
  let asked = null;
  /** Starts over from the first page, unless the filter is what is shown (a change event can
   * come twice: a field losing focus as another one changes). @param {boolean} [force] */
  function reset(force = false) {
    const query = JSON.stringify(filter());
    if (!force && query === asked) return;
    asked = query;
    generation++; continuation = null; loading = false; lookedAt = new Date();
    shown.clear(); selected.clear(); counts(); grid.replaceChildren(); total.textContent = "";
    more();
  }
  for (const el of Object.values(f)) el.addEventListener("change", () => reset());
  const observer = new IntersectionObserver(() => nearBottom() && more());
  observer.observe(sentinel);

  /** Redraws one tile from the server's copy (after a review or a fix). @param {string} id */
  async function reload(id) {
    const fresh = await get(`${base}/items/${encodeURIComponent(id)}`);
    shown.set(id, fresh);
    grid.querySelector(`[data-item-id="${CSS.escape(id)}"]`)?.replaceWith(tile(fresh));
    return fresh;
  }

  /** @param {{reviewed: string[], skipped: {itemId: string, reason: string}[]}} report */
  function tell(report) {
    const left = report.skipped.length ? ` ${report.skipped.length} left as they were: ${report.skipped.slice(0, 3).map((x) => `${shown.get(x.itemId)?.path || x.itemId} (${x.reason})`).join("; ")}${report.skipped.length > 3 ? "…" : ""}` : "";
    showError(left ? new Error(`${report.reviewed.length} reviewed.${left}`) : null);
    const done = document.getElementById("review-note");
    if (done) done.textContent = `${report.reviewed.length} item(s) ${report.reviewed.length ? "reviewed" : ""}`;
  }

  /** @param {"approve" | "reject"} decision */
  async function bulkSelected(decision) {
    const ids = [...selected].slice(0, 200);
    if (!ids.length) return;
    let note = "";
    if (decision === "reject") {
      const labels = ids.reduce((n, id) => n + ((shown.get(id)?.annotations || []).length), 0);
      const answer = await confirmAction({
        title: `Reject ${ids.length} item(s)?`, danger: true, confirm: `Reject ${ids.length} item(s)`,
        body: [`Their ${labels} answer(s) come off (kept in each item's history) and the ${ids.length} item(s) go back to the queue to be labeled again.`],
        note: "Why (the labelers see it, with the item)",
      });
      if (!answer.ok) return;
      note = answer.note;
    }
    try {
      const report = await post(`${base}/reviews`, { decision, ...(note ? { note } : {}), items: ids.map((id) => ({ itemId: id, etag: shown.get(id)?.etag })) });
      tell(report);
      for (const id of ids) if (selected.has(id)) toggle(id);
      await Promise.all(report.reviewed.map(reload));
    } catch (e) { showError(e); }
  }

  /** @param {"approve" | "reject"} decision */
  async function bulkMatching(decision) {
    const where = filter();
    const q = new URLSearchParams({ pageSize: "1", total: "true", ...where,
      ...(where.until ? {} : { until: lookedAt.toISOString() }) });
    if (decision === "approve" && !where.reviewed) q.set("reviewed", "unreviewed");
    /** @type {number} */
    let count;
    try { count = (await get(`${base}/items?${q}`)).total || 0; } catch (e) { showError(e); return; }
    const described = Object.entries(where).map(([k, v]) => `${k} ${v}`).join(", ") || "no filter: every item";
    const answer = await confirmAction({
      title: `${decision === "approve" ? "Approve" : "Reject"} everything matching?`, danger: decision === "reject",
      confirm: `${decision === "approve" ? "Approve" : "Reject"} up to ${count} item(s)`,
      body: [`Filter: ${described}; as it stood when you looked (${lookedAt.toLocaleTimeString()}).`,
        decision === "reject"
          ? `Up to ${count} item(s) lose their answers (kept in their history) and go back to the queue.`
          : `Up to ${count} item(s) not yet approved are approved as they are (items under review need your own answer each and are left out).`],
      note: decision === "reject" ? "Why (the labelers see it, with each item)" : undefined,
    });
    if (!answer.ok) return;
    /** @type {{reviewed: string[], skipped: {itemId: string, reason: string}[]}} */
    const all = { reviewed: [], skipped: [] };
    try {
      for (;;) {
        const report = await post(`${base}/reviews`, { decision, filter: where, asOf: lookedAt.toISOString(), ...(answer.note ? { note: answer.note } : {}) });
        all.reviewed.push(...report.reviewed); all.skipped.push(...report.skipped);
        if (!report.more || !report.reviewed.length) break;
      }
    } catch (e) { showError(e); }
    tell(all);
    reset(true);
  }

  /** @param {string} id */
  function open(id) {
    const order = [...shown.keys()];
    openViewer({ project, base, ids: order, at: Math.max(0, order.indexOf(id)), reviewer, onChanged: reload,
      onClose: (last) => { const node = /** @type {HTMLElement | null} */ (grid.querySelector(`[data-item-id="${CSS.escape(last)}"]`)); node?.focus(); } });
  }

  /** Arrow keys move through the grid by its columns. @param {KeyboardEvent} e */
  function onKey(e) {
    if (document.querySelector("dialog[open], #viewer")) return;
    const target = /** @type {HTMLElement} */ (e.target);
    if (target.closest?.("input, textarea, select")) return;
    const tiles = /** @type {HTMLElement[]} */ ([...grid.children]);
    if (!tiles.length) return;
    const at = Math.max(0, tiles.findIndex((t) => t.dataset.itemId === focusId));
    const columns = Math.max(1, Math.round(grid.clientWidth / (tiles[0].offsetWidth || 1)));
    const moves = /** @type {Record<string, number>} */ ({ ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns, ArrowUp: -columns });
    if (e.key in moves) {
      e.preventDefault();
      const next = tiles[Math.min(tiles.length - 1, Math.max(0, at + moves[e.key]))];
      next.focus();
      if (at + moves[e.key] >= tiles.length - columns) more();
      return;
    }
    const current = tiles[at];
    const id = current?.dataset.itemId || "";
    if (e.key === " " && reviewer) { e.preventDefault(); toggle(id); return; }
    if (e.key === "Enter") { e.preventDefault(); open(id); return; }
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "a" && reviewer) { e.preventDefault(); selectAll(); return; }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "Escape") { clearSelection(); return; }
    if (!reviewer) return;
    if (e.key.toLowerCase() === "a" || e.key.toLowerCase() === "r") {
      e.preventDefault();
      if (!selected.size && id) toggle(id);
      bulkSelected(e.key.toLowerCase() === "a" ? "approve" : "reject");
    }
  }
  document.addEventListener("keydown", onKey);
  reset();
  return () => { observer.disconnect(); document.removeEventListener("keydown", onKey); };
}
