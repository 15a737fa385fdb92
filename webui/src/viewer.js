// @ts-check
// The review viewer: one item at full size in the labeling tools of its task type, so a
// reviewer fixes a label, box, polygon or span in place and approves the fix; the labelers'
// answers side by side (an undecided item is settled by picking one or making one), comments
// the labelers see, the item's history, and previous/next through the grid. Greyscale DICOM
// gets the labeling screen's window/level, and a multi-frame item its frames.
import { call, get, post } from "./api.js";
import { attributePanel } from "./attrpanel.js";
import { pruned, setAttribute, targetOf } from "./attrs.js";
import { dicomCanvas, windowControls } from "./dicom.js";
import { confirmAction } from "./dialogs.js";
import { colorOf, h, showError, words } from "./dom.js";
import { keypointEditor } from "./editor/keypoints.js";
import { maskEditor } from "./editor/masks.js";
import { shapeEditor } from "./editor/shapes.js";
import { textEditor } from "./editor/text.js";
import { frameNavigator } from "./frames.js";
import { projectKeys } from "./keys.js";
import { classPicker } from "./picker.js";
import { chosenClasses, classify, clone, describe, emptyValue, isMaskType, newTask, redo, undo } from "./state.js";
import { zoomable } from "./zoom.js";

/** @typedef {import("./api-types").components["schemas"]["ItemView"]} ItemView */

/** @param {string} action */
const said = (action) => ({
  "annotation.submitted": "labeled", "annotation.corrected": "corrected their answer", "item.skipped": "skipped",
  "item.approved": "approved", "item.rejected": "rejected (back to the queue)", "item.commented": "commented",
}[action] || words(action.replaceAll(".", " ")));

/**
 * @param {object} options
 * @param {any} options.project
 * @param {string} options.base
 * @param {string[]} options.ids the grid's items, in order
 * @param {number} options.at
 * @param {boolean} options.reviewer
 * @param {(id: string) => Promise<ItemView>} options.onChanged
 * @param {(id: string) => void} options.onClose
 */
export function openViewer({ project, base, ids, at, reviewer, onChanged, onClose }) {
  const type = project.taskType;
  const classes = project.labelClasses;
  const shapesType = type === "image_bounding_box" || type === "image_polygon";
  const keypointsType = type === "image_keypoints";
  const masksType = isMaskType(type);
  const isClassify = type.endsWith("multiclass") || type.endsWith("multilabel");
  const lookup = projectKeys(classes); // the project's keys: the labeling screen's defaults
  const stage = h("div", { class: "viewer-stage", id: "viewer-stage" });
  const side = h("aside", { class: "viewer-side" });
  const title = h("h2", { id: "viewer-title" });
  const position = h("span", { class: "note", id: "viewer-position" });
  const root = h("div", { id: "viewer", class: "viewer", role: "dialog", "aria-modal": "true", "aria-labelledby": "viewer-title" },
    h("header", { class: "viewer-bar" }, title, position,
      h("button", { id: "viewer-prev", onclick: () => go(-1) }, "‹ Previous (←)"), h("button", { id: "viewer-next", onclick: () => go(1) }, "Next (→) ›"),
      h("button", { id: "viewer-close", onclick: () => close() }, "Close (Esc)")),
    h("div", { class: "viewer-body" }, stage, side));
  document.body.append(root);
  document.body.classList.add("viewing");
  /** @type {ItemView | null} */
  let item = null;
  /** @type {ReturnType<typeof newTask> | null} */
  let task = null;
  /** @type {any} */
  let editor = null;
  /** @type {ReturnType<typeof classPicker> | null} */
  let picker = null;
  let next = classes[0]?.name;
  let original = "";
  const windowing = windowControls();
  /** @type {import("./frames.js").Frames | null} */
  let frames = null;

  const value = () => (task && item ? task.values[item.id] : null);
  const attributes = attributePanel({ classes, read: () => targetOf(task),
    write: (name, v) => { if (reviewer && task && setAttribute(task, name, v)) refresh(); } });
  const changed = () => JSON.stringify(value()) !== original;

  async function load() {
    const id = ids[at];
    position.textContent = `${at + 1} of ${ids.length}`;
    editor = null; frames = null; // keys pressed while the next item loads never act on the last one's editor
    try { item = /** @type {ItemView} */ (await get(`${base}/items/${encodeURIComponent(id)}`)); } catch (e) { showError(e); return; }
    if (!item || item.id !== ids[at]) return;
    const start = item.final || item.annotations?.[0]?.value || emptyValue(type);
    original = JSON.stringify(start);
    const view = { id: item.id, path: item.path, kind: item.kind, state: item.state, text: item.text, url: item.displayUrl,
      width: item.derivatives?.width || item.media?.width, height: item.derivatives?.height || item.media?.height,
      dicom: item.dicomView, frames: item.frames, framesUrl: item.framesUrl };
    task = newTask(type, [/** @type {any} */ (view)], { values: { [item.id]: clone(start) } });
    title.textContent = item.path;
    stage.dataset.itemId = item.id;
    stage.replaceChildren();
    windowing.attach(null);
    if (item.kind === "text") {
      editor = textEditor({ item: view, type, classes, task, changed: refresh, relationClasses: project.relationClasses || [] });
      stage.append(h("p", { class: "note" }, editor.hint), editor.node);
    } else if (view.url) {
      const pic = await picture(view);
      if (!task || item.id !== ids[at]) return;
      frames = frameNavigator({ item: view, picture: pic, onframe: () => editor?.sliceChanged?.() });
      if (frames) stage.append(frames.node);
      const shown = frames;
      const slice = shown ? () => shown.frame : undefined; // a volume: what is drawn goes on the slice on screen
      if (shapesType) {
        editor = shapeEditor({ item: view, type, classes, task, image: pic, active: () => next, changed: refresh, windowing, vh: frames ? 72 : 78, slice });
        stage.append(editor.node);
      } else if (keypointsType) {
        editor = keypointEditor({ item: view, classes, task, image: pic, active: () => next, changed: refresh, windowing, vh: frames ? 68 : 74, slice });
        stage.append(editor.node);
      } else if (masksType) {
        editor = maskEditor({ item: view, type, classes, task, image: pic, active: () => next, changed: refresh, windowing, vh: frames ? 66 : 72, slice });
        stage.append(editor.node);
      } else {
        pic.classList.add("photo");
        const zoom = zoomable(h("div", { class: "frame" }, pic), view, task.tool, { pan: "left", vh: frames ? 72 : 78, windowing });
        editor = { update() {}, cancel: () => false, deleteSelected: () => false, zoom: zoom.zoom };
        stage.append(zoom.scroller);
      }
      windowing.attach(pic);
    } else stage.append(h("p", { class: "note" }, item.error || "No picture for this item yet."));
    side.replaceChildren(...panel());
    refresh();
  }

  /** The item's picture: greyscale DICOM on a canvas of its values, the rest as an image.
   * @param {{id: string, path: string, url?: string | null, width?: number | null, height?: number | null, dicom?: import("./dicom.js").DicomView | null}} view
   * @returns {Promise<HTMLImageElement | HTMLCanvasElement>} */
  async function picture(view) {
    if (view.dicom) {
      try { return await dicomCanvas(view); } catch (e) { showError(e); }
    }
    const img = new Image();
    img.src = view.url || ""; img.alt = view.path; img.draggable = false;
    await img.decode().catch(() => {});
    return img;
  }

  function panel() {
    if (!item) return [];
    picker = classPicker({ classes, keys: { classKey: (name) => classes.find((/** @type {any} */ c) => c.name === name)?.key || "" },
      color: (name) => colorOf(classes, name), onPick: choose, onRebind: () => {} });
    const answers = (item.annotations || []).map((a) => h("li", { dataset: { user: a.user } },
      h("strong", {}, a.user), ` ${describe(a.value) || "—"} `, a.agreed === false ? h("span", { class: "error" }, "outvoted ") : "",
      reviewer ? h("button", { class: "use-answer", onclick: () => use(a.value) }, "Use this answer") : ""));
    const comments = (item.comments || []).map((c) => h("li", {}, h("strong", {}, `${c.user}: `), c.text, h("span", { class: "note" }, ` · ${new Date(c.at).toLocaleString()}`)));
    const text = h("textarea", { id: "comment-text", rows: 2, maxlength: 2000, placeholder: "A comment the labelers see" });
    const history = h("details", { id: "history" }, h("summary", {}, "History"), h("ol", { class: "history" }));
    history.addEventListener("toggle", () => { if (/** @type {HTMLDetailsElement} */ (history).open) showHistory(/** @type {HTMLElement} */ (history.lastChild)); });
    const reviewable = reviewer && ["labeled", "needs_review", "skipped"].includes(item.state);
    return [
      h("p", {}, h("span", { class: `state ${item.state}`, id: "viewer-state" }, words(item.state)),
        item.review ? ` · ${item.review.decision} by ${item.review.user}` : "", item.disputed ? " · labelers disagree" : ""),
      h("p", { class: "chosen", id: "viewer-answer" }),
      item.prediction ? h("p", { class: "note" }, `ML assist: ${describe(item.prediction.value)} (${Math.round(item.prediction.confidence * 100)}%)`) : "",
      windowing.panel,
      isClassify || shapesType || keypointsType || masksType || type === "text_ner" ? picker.node : "",
      attributes.node,
      reviewer ? h("div", { class: "actions" },
        h("button", { class: "primary approve", id: "viewer-approve", disabled: !reviewable, onclick: () => approve() }, "Approve (A)"),
        h("button", { class: "reject", id: "viewer-reject", disabled: !reviewable, onclick: () => reject() }, "Reject… (R)"),
        h("button", { id: "viewer-undo", onclick: () => { if (task && undo(task)) refresh(); } }, "Undo"),
        h("button", { id: "viewer-reset", onclick: () => use(JSON.parse(original)) }, "Reset")) : "",
      h("p", { class: "note", id: "viewer-fix" }),
      answers.length ? h("div", {}, h("h3", {}, "Answers"), h("ul", { class: "answers", id: "viewer-answers" }, answers)) : "",
      h("div", {}, h("h3", {}, "Comments"), h("ul", { class: "comments-list", id: "viewer-comments" }, comments),
        reviewer ? h("div", { class: "bar" }, text, h("button", { id: "comment-send", onclick: () => comment(/** @type {HTMLTextAreaElement} */ (text)) }, "Comment")) : ""),
      history,
    ];
  }

  function refresh() {
    if (!task || !item) return;
    editor?.update();
    if (editor?.slices) frames?.mark(editor.slices());
    const v = value();
    const answer = document.getElementById("viewer-answer");
    if (answer) answer.textContent = describe(v) || "—";
    picker?.setChosen(chosenClasses(v));
    if (masksType) picker?.setNext(next, "Paint with:");
    else if (shapesType || keypointsType || type === "text_ner") picker?.setNext(next, task.tool.picked ? "Picked: a key relabels it. Next:" : "Next:");
    const fix = document.getElementById("viewer-fix");
    if (fix) fix.textContent = changed() ? "Changed: Approve saves your fix as the item's label." : "";
    const approve = document.getElementById("viewer-approve");
    if (approve) approve.textContent = changed() ? "Approve with my fix (A)" : "Approve (A)";
    attributes.update();
  }

  /** @param {string} name */
  function choose(name) {
    if (!task) return;
    if (isClassify) { if (classify(task, type, name)) refresh(); return; }
    if (editor?.relabel?.(name) || editor?.apply?.(name)) return;
    next = name;
    refresh();
  }

  /** @param {any} v */
  function use(v) {
    if (!task || !item) return;
    const id = item.id;
    task.history.push(clone(task.values));
    task.values[id] = clone(v);
    task.tool.selected = null;
    refresh();
  }

  async function approve() {
    if (!item) return;
    const v = pruned(value(), classes);
    const body = changed() || item.state === "needs_review" ? { decision: "approve", value: v } : { decision: "approve" };
    try {
      await post(`${base}/items/${encodeURIComponent(item.id)}/review`, body);
      showError(null);
      await onChanged(item.id);
      if (at < ids.length - 1) go(1); else await load();
    } catch (e) { showError(e); }
  }

  async function reject() {
    if (!item) return;
    const answer = await confirmAction({ title: `Reject ${item.path}?`, danger: true, confirm: "Reject and send back",
      body: [`Its ${(item.annotations || []).length} answer(s) and ${(item.skips || []).length} skip(s) come off (kept in its history) and the item goes back to the queue.`],
      note: "Why (the labelers see it, with the item)" });
    if (!answer.ok) return;
    try {
      await post(`${base}/items/${encodeURIComponent(item.id)}/review`, { decision: "reject", ...(answer.note ? { note: answer.note } : {}) });
      showError(null);
      await onChanged(item.id);
      if (at < ids.length - 1) go(1); else await load();
    } catch (e) { showError(e); }
  }

  /** @param {HTMLTextAreaElement} box */
  async function comment(box) {
    if (!item || !box.value.trim()) return;
    try {
      await post(`${base}/items/${encodeURIComponent(item.id)}/comments`, { text: box.value.trim() });
      box.value = "";
      await onChanged(item.id);
      await load();
    } catch (e) { showError(e); }
  }

  /** @param {HTMLElement} list */
  async function showHistory(list) {
    if (!item) return;
    try {
      const { events } = await call("GET", `${base}/items/${encodeURIComponent(item.id)}/history`).then((r) => r.data);
      list.replaceChildren(...events.map((/** @type {any} */ e) => {
        const after = e.after || {};
        const before = e.before || {};
        const valueOf = (/** @type {any} */ side) => side.final || side.annotations?.[side.annotations.length - 1]?.value || null;
        // The value, where this event changed it (a comment or a plain approval leaves it).
        const shown = JSON.stringify(valueOf(after)) !== JSON.stringify(valueOf(before)) ? valueOf(after) : null;
        const note = after.review?.note || (e.action === "item.commented" ? after.comments?.[after.comments.length - 1]?.text : "");
        return h("li", { dataset: { action: e.action } }, h("span", { class: "note" }, new Date(e.at).toLocaleString()), " ",
          h("strong", {}, e.actor), ` ${said(e.action)}`, shown ? `: ${describe(shown)}` : "", note ? ` — “${note}”` : "");
      }));
      if (!events.length) list.replaceChildren(h("li", { class: "note" }, "Nothing recorded yet."));
    } catch (e) { showError(e); }
  }

  /** @param {number} step */
  function go(step) {
    const to = at + step;
    if (to < 0 || to >= ids.length) return;
    at = to;
    load();
  }

  function close() {
    document.removeEventListener("keydown", onKey, true);
    root.remove();
    document.body.classList.remove("viewing");
    onClose(ids[at]);
  }

  /** @param {KeyboardEvent} e */
  function onKey(e) {
    if (document.querySelector("dialog[open]")) return;
    const target = /** @type {HTMLElement} */ (e.target);
    if (target.closest?.("input:not([type=range]), textarea, select")) return; // a slider leaves the keys to the viewer
    e.stopPropagation();
    const key = e.key;
    if ((e.ctrlKey || e.metaKey) && key.toLowerCase() === "z") { e.preventDefault(); if (task && (e.shiftKey ? redo(task) : undo(task))) refresh(); return; }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (key === "Escape") { if (!editor?.cancel()) close(); return; }
    if (frames?.key(e)) return;
    const bound = key.length === 1 ? lookup(key) : null;
    // The tool's own keys (editor/*.js `key`): the reviewer fixes with the labeling screen's keys,
    // so [ ] size a mask brush here too, and the window's keys come after them as there.
    if (reviewer && editor?.key?.(e, bound)) { e.preventDefault(); return; }
    if (windowing.key(key)) { e.preventDefault(); return; }
    if (key === "ArrowRight") { e.preventDefault(); go(1); return; }
    if (key === "ArrowLeft") { e.preventDefault(); go(-1); return; }
    if (key === "Delete" || key === "Backspace") { if (editor?.deleteSelected()) e.preventDefault(); return; }
    if (key === "Enter" && editor?.drafting) { editor.closeDraft(); return; }
    if (key === "+" || key === "=") return editor?.zoom?.(1.25);
    if (key === "-") return editor?.zoom?.(0.8);
    if (key === "0") return editor?.zoom?.(0);
    if (!reviewer) return;
    if (attributes.key(e)) { e.preventDefault(); return; }
    if (bound?.kind === "class") { e.preventDefault(); choose(bound.name); return; }
    if (key.toLowerCase() === "a") { e.preventDefault(); approve(); return; }
    if (key.toLowerCase() === "r") { e.preventDefault(); reject(); }
  }
  document.addEventListener("keydown", onKey, true);
  stage.addEventListener("wheel", (e) => { frames?.wheel(e); }, { passive: false });
  load();
  return { close };
}
