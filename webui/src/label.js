// @ts-check
// The labeling screen: classification (one item or a grid of 4/6/9), boxes, polygons, text
// classification and NER spans, with keys for everything frequent, undo/redo, previous task,
// and tasks leased and decoded ahead (queue.js) so that submit → next never waits on the
// network; a multi-frame DICOM item moves through its frames (frames.js). One state object
// (`S`) holds the session; the editors redraw only what changed.
import { call, post } from "./api.js";
import { attributePanel } from "./attrpanel.js";
import { pruned, setAttribute, targetOf } from "./attrs.js";
import { dicomCanvas, windowControls } from "./dicom.js";
import { colorOf, h, markdown, showError } from "./dom.js";
import { keypointEditor } from "./editor/keypoints.js";
import { maskEditor } from "./editor/masks.js";
import { shapeEditor } from "./editor/shapes.js";
import { frameNavigator } from "./frames.js";
import { textEditor } from "./editor/text.js";
import { keyMap, keysHelp } from "./keys.js";
import { classPicker } from "./picker.js";
import { leaseKeeper, taskQueue } from "./queue.js";
import { chosenClasses, classify, clone, describe, isMaskType, newTask, problem, redo, undo } from "./state.js";
import { zoomable } from "./zoom.js";

/** @typedef {import("./state.js").TaskItem} TaskItem */
/** @typedef {import("./state.js").Task} Task */
/** @typedef {import("./state.js").AnnotationValue} AnnotationValue */
/** @typedef {import("./api-types").components["schemas"]["PageAnswer"]} PageAnswer */
/** @typedef {HTMLImageElement | HTMLCanvasElement} Picture */

const W = /** @type {any} */ (window);
/** @type {number[]} submit → next on screen, in ms (the browser tests read them) */
const timings = (W.loupeTimings = W.loupeTimings || []);
const AHEAD = 6; // tasks kept leased and decoded ahead (1-item tasks; grids keep 2 pages)

/** @param {{project: any, pane: HTMLElement}} context */
export async function labelView({ project, pane }) {
  const base = `/projects/${encodeURIComponent(project.id)}`;
  /** @type {string} */
  const type = project.taskType;
  /** @type {{name: string, key?: string, attributes?: import("./attrs.js").Attribute[] | null}[]} */
  const classes = project.labelClasses;
  const isImage = type.startsWith("image_");
  const isClassify = type.endsWith("multiclass") || type.endsWith("multilabel");
  const shapesType = type === "image_bounding_box" || type === "image_polygon";
  const keypointsType = type === "image_keypoints";
  const masksType = isMaskType(type);
  const canGrid = isImage && isClassify;

  /** The session: everything the screen's behaviour depends on, in one place. */
  const S = {
    size: canGrid ? Number(localStorage.getItem(`loupe.size.${project.id}`) || 1) : 1,
    /** @type {string} the class a new shape or span takes */
    next: classes[0]?.name,
    /** @type {Task | null} */
    task: null,
    /** @type {Task | null} the task put aside while correcting the previous one */
    stash: null,
    /** @type {{items: TaskItem[], values: Record<string, any>, grid: boolean} | null} */
    last: null,
    /** @type {Promise<unknown>[]} submissions in flight */
    pending: [],
    /** @type {number | null} */
    pressedAt: null,
    /** @type {import("./frames.js").Frames | null} the frames of the item on screen */
    frames: null,
    stopped: false,
    /** @type {{id: string, done: () => void} | null} waiting for the key to bind */
    rebinding: null,
    /** today's count before this session, what this session saved, what is left */
    progress: { before: /** @type {number | null} */ (null), saved: 0, left: 0, savedThen: 0 },
  };
  /** @type {Map<string, Promise<Picture>>} */
  const pictures = new Map();
  /** @type {{update: () => void, cancel: () => boolean, deleteSelected: () => boolean, relabel?: (n: string) => boolean, apply?: (n: string) => boolean, zoom?: (f: number) => void, drafting?: boolean, closeDraft?: () => void, key?: (e: KeyboardEvent, bound?: import("./keys.js").Bound | null) => boolean, sliceChanged?: () => void, slices?: () => Set<number>} | null} */
  let editor = null;
  const keys = keyMap(project);
  const windowing = windowControls();
  // Leases in hand are renewed at half the length the server states (see leaseKeeper).
  const keeper = leaseKeeper(() => {
    const ids = queue.held();
    if (ids.length) post(`${base}/tasks/renew`, { itemIds: ids.slice(0, 100) }).then((t) => keeper.leased(t.leaseSeconds)).catch(() => {});
  });
  let queue = makeQueue();

  const stage = h("div", { id: "stage", class: "stage", tabindex: -1 });
  const info = h("p", { id: "task-info", class: "note" });
  const progress = h("p", { id: "progress", class: "progress-line", "aria-live": "polite" });
  const remarks = h("div", { id: "item-comments", class: "comments", hidden: true });
  const picker = classPicker({
    classes, keys, color: (name) => colorOf(classes, name), onPick: (name) => choose(name),
    onRebind: (name, kbd) => { kbd.textContent = "…"; kbd.classList.add("waiting"); rebind(`class:${name}`, () => kbd.classList.remove("waiting")); },
  });
  const attributes = attributePanel({ classes, read: () => targetOf(S.task),
    write: (name, value) => { if (S.task && setAttribute(S.task, name, value)) refresh(); } });
  const instructions = h("details", { id: "instructions", open: !localStorage.getItem("loupe.hideInstructions") },
    h("summary", {}, "Instructions (I)"),
    project.instructions?.url
      ? h("p", {}, h("a", { href: project.instructions.url, target: "_blank", rel: "noopener noreferrer" }, project.instructions.url))
      : markdown(project.instructions?.markdown || "_No instructions._"));
  const feedback = feedbackPanel(base);
  const help = h("div", { id: "help", class: "overlay", hidden: true, onclick: (/** @type {Event} */ e) => { if (e.target === help) help.hidden = true; } });
  const showHelp = (open = help.hidden) => {
    help.hidden = !open;
    if (open) help.replaceChildren(keysHelp({ keys, classes, rebind, close: () => (help.hidden = true) }));
  };
  /** Waits for the next key press and binds it to `id` ("class:NAME" or "action:ID"). @param {string} id @param {() => void} done */
  function rebind(id, done) { S.rebinding = { id, done: () => { done(); picker.refreshKeys(); } }; }

  const sizeSelect = canGrid ? h("select", { id: "grid-size", onchange: async () => {
    S.size = Number(/** @type {HTMLSelectElement} */ (sizeSelect).value); localStorage.setItem(`loupe.size.${project.id}`, String(S.size));
    await flush(); await release(); queue = makeQueue(); S.task = null; await advance();
  } }, [1, 4, 6, 9].map((n) => h("option", { value: n, selected: n === S.size }, n === 1 ? "One image" : `Grid of ${n}`))) : null;
  const buttons = h("div", { class: "actions" },
    h("button", { class: "primary", id: "submit", onclick: () => submit() }, "Submit ⏎"),
    h("button", { id: "skip", onclick: () => skip() }, "Skip (S)"),
    h("button", { id: "undo", onclick: () => act(undo) }, "Undo"), h("button", { id: "redo", onclick: () => act(redo) }, "Redo"),
    h("button", { id: "previous", onclick: () => previous() }, "Previous (P)"),
    h("button", { id: "help-button", onclick: () => showHelp() }, "?"));
  pane.replaceChildren(h("div", { class: "labeling" }, h("div", { class: "work" }, remarks, stage),
    h("aside", {}, progress, sizeSelect ? h("label", {}, "Show ", sizeSelect) : null, info, windowing.panel, picker.node, attributes.node, buttons, feedback.node, instructions)), help);
  instructions.addEventListener("toggle", () => localStorage[instructions.open ? "removeItem" : "setItem"]("loupe.hideInstructions", "1"));

  function makeQueue() {
    const grid = S.size > 1;
    return taskQueue({
      lease: async (n, holding) => {
        const task = await post(`${base}/tasks/next`, { size: n, holding });
        keeper.leased(task.leaseSeconds);
        const p = S.progress;
        if (task.progress) {
          if (p.before === null) p.before = task.progress.today - p.saved;
          p.left = task.progress.left; p.savedThen = p.saved;
          showProgress();
        }
        return /** @type {TaskItem[]} */ (task.items);
      },
      prepare: (item) => picture(item) || Promise.resolve(),
      per: grid ? S.size : canGrid ? 4 : 1, pages: grid, ahead: grid ? 2 : AHEAD,
    });
  }

  /** The item's picture, fetched and decoded once. @param {TaskItem} item */
  function picture(item) {
    if (!item.url) return null;
    let ready = pictures.get(item.id);
    if (ready) return ready;
    if (item.dicom) ready = dicomCanvas(item).catch((e) => { showError(e); return plain(item); });
    else ready = plain(item);
    pictures.set(item.id, ready);
    return ready;
  }
  /** @param {TaskItem} item @returns {Promise<Picture>} */
  function plain(item) {
    const img = new Image();
    img.src = /** @type {string} */ (item.url);
    img.draggable = false;
    img.alt = item.path;
    return img.decode().then(() => img, () => img);
  }

  /** "N done today · M left": the server's figures at the last lease, plus what this session
   * saved since (a lease answered while answers were on their way cannot say which it counted). */
  function showProgress() {
    const p = S.progress;
    progress.replaceChildren(h("strong", { id: "done-today" }, String((p.before ?? 0) + p.saved)), " done today · ",
      h("strong", { id: "left" }, String(Math.max(0, p.left - (p.saved - p.savedThen)))), " left in the project");
  }

  async function flush() {
    const waiting = S.pending; S.pending = [];
    const results = await Promise.allSettled(waiting);
    for (const r of results) if (r.status === "rejected") showError(r.reason);
  }

  async function release() {
    const ids = [...queue.drain(), ...(S.task && !S.task.correcting ? S.task.items.map((i) => i.id) : [])];
    queue.done(ids);
    if (ids.length) await post(`${base}/tasks/release`, { itemIds: ids }).catch(() => {});
  }

  async function advance() {
    if (S.stopped) return;
    /** @type {TaskItem[]} */
    let items;
    let waiting = "No items to label right now; this page checks again by itself.";
    try {
      items = await queue.next();
    } catch (e) {
      const err = /** @type {any} */ (e);
      if (err.status !== 409 && err.status !== 423) throw e;
      items = [];
      waiting = err.message;
    }
    if (S.stopped) return;
    if (!items.length) {
      S.task = null; editor = null; S.frames = null;
      stage.replaceChildren(h("p", { class: "empty", id: "no-tasks" }, waiting));
      stage.dataset.itemId = "";
      remarks.hidden = true;
      setTimeout(() => { if (!S.task && !S.stopped) { queue.retry(); advance().catch(showError); } }, 2000);
      return;
    }
    S.task = newTask(type, items, { grid: S.size > 1 });
    await show();
  }

  /** Builds the stage for the task on hand (once per task). */
  async function show() {
    const task = S.task;
    if (!task) return;
    const item = task.items[0];
    const pics = await Promise.all(task.items.map((i) => picture(i)));
    if (S.task !== task) return;
    stage.dataset.itemId = task.items.map((i) => i.id).join(",");
    info.textContent = `${task.correcting ? "Correcting your previous answer · " : ""}${task.grid ? `${task.items.length} images` : item.path}`;
    showRemarks(task.items);
    /** @type {Picture | null} */
    const pic = pics[0] || null;
    const frames = S.frames = !task.grid && pic ? frameNavigator({ item, picture: pic, onframe: () => editor?.sliceChanged?.() }) : null;
    const slice = frames ? () => frames.frame : undefined; // a volume: what is drawn goes on the slice on screen
    if (task.grid) { editor = null; stage.replaceChildren(...gridView(task, /** @type {Picture[]} */ (pics))); }
    else if (shapesType && pic) {
      const shapes = shapeEditor({ item, type, classes, task, image: pic, active: () => S.next, changed: refresh, windowing, vh: 72, slice });
      editor = shapes;
      stage.replaceChildren(h("p", { class: "note" }, type === "image_bounding_box"
        ? "Drag to draw a box; click a box to pick it (a key then relabels it), drag it to move, a corner to resize."
        : "Click to add points; click the first point or press Enter to close. Click a polygon to pick it.", " ", suggestion(item)), frames?.node || "", shapes.node);
    } else if (keypointsType && pic) {
      const points = keypointEditor({ item, classes, task, image: pic, active: () => S.next, changed: refresh, keyOf: keys.actionKey, windowing, vh: 68, slice });
      editor = points;
      stage.replaceChildren(h("p", { class: "note" }, "Place an instance's points in order by clicking (the hint names the next one); drag a point to move it. Keyboard: ",
        `${keys.actionKey("newInstance").toUpperCase()} starts an instance, ${keys.actionKey("visible").toUpperCase()} / ${keys.actionKey("occluded").toUpperCase()} / ${keys.actionKey("absent").toUpperCase()} mark the point visible / occluded / absent, arrows move it, Tab goes to the next point.`,
      " ", suggestion(item)), frames?.node || "", points.node);
    } else if (masksType && pic) {
      const masks = maskEditor({ item, type, classes, task, image: pic, active: () => S.next, changed: refresh, windowing, vh: 66, slice });
      editor = masks;
      stage.replaceChildren(h("p", { class: "note" }, "Paint with the brush (B), erase (E), fill a region of like colour (F) or a polygon (L, Enter closes it); [ and ] size the brush",
        type === "image_instance_segmentation" ? "; N starts the next object, ↓/↑ pick a painted one." : ".", " ", suggestion(item)), frames?.node || "", masks.node);
    } else if (isImage && pic) {
      pic.classList.add("photo");
      const frame = h("div", { class: "frame" }, pic);
      const view = zoomable(frame, item, task.tool, { pan: "left", vh: 66, windowing });
      editor = { update() {}, cancel: () => false, deleteSelected: () => false, zoom: view.zoom };
      stage.replaceChildren(h("figure", { class: "single" }, frames?.node || "", view.scroller, h("figcaption", { class: "chosen" }, "—"), suggestion(item)));
    } else {
      const text = textEditor({ item, type, classes, task, changed: refresh, relationClasses: project.relationClasses || [] });
      editor = text;
      stage.replaceChildren(h("p", { class: "note" }, text.hint), text.node, type === "text_ner" ? "" : h("p", { class: "chosen" }, "—"), suggestion(item));
    }
    windowing.attach(!task.grid && pic && /** @type {any} */ (pic).windowing ? pic : null);
    refresh();
    markShown();
  }

  /** The grid's tiles. @param {Task} task @param {Picture[]} pics */
  function gridView(task, pics) {
    const grid = h("div", { class: `grid grid-${S.size}`, id: "grid", dataset: { ids: task.items.map((i) => i.id).join(",") } });
    task.items.forEach((item, n) => {
      const tile = h("figure", { class: "tile", dataset: { itemId: item.id }, onclick: () => {
        if (task.selected.has(item.id)) task.selected.delete(item.id); else task.selected.add(item.id);
        refresh();
      } });
      if (pics[n]) tile.append(pics[n]);
      tile.append(h("figcaption", { class: "chosen" }, "—"), suggestion(item));
      grid.append(tile);
    });
    const selectedNote = h("span", { class: "note", id: "grid-note" });
    return [h("div", { class: "gridbar" },
      h("button", { id: "select-all", onclick: () => { task.selected = new Set(task.items.map((i) => i.id)); refresh(); } }, "Select all (A)"),
      h("button", { id: "select-none", onclick: () => { task.selected.clear(); refresh(); } }, "Select none"), selectedNote), grid];
  }

  /** Brings what shows the answer in line with the state: captions, marks, tiles. */
  function refresh() {
    const task = S.task;
    if (!task) return;
    editor?.update();
    if (editor?.slices) S.frames?.mark(editor.slices());
    const item = task.items[0];
    const value = task.values[item.id];
    if (task.grid) {
      for (const tile of stage.querySelectorAll("#grid .tile")) {
        const id = /** @type {HTMLElement} */ (tile).dataset.itemId || "";
        tile.classList.toggle("selected", task.selected.has(id));
        const caption = tile.querySelector(".chosen");
        const text = describe(task.values[id]) || "—";
        if (caption && caption.textContent !== text) caption.textContent = text;
      }
      const note = stage.querySelector("#grid-note");
      if (note) note.textContent = `${task.selected.size} of ${task.items.length} selected: a label key labels them${task.items.length < S.size ? ` (a page holds one group of similar images: ${task.items.length} here)` : ""}`;
      const ids = task.selected.size ? [...task.selected] : [];
      const common = ids.length ? ids.map((id) => chosenClasses(task.values[id])).reduce((a, b) => new Set([...a].filter((x) => b.has(x)))) : new Set();
      picker.setChosen(/** @type {Set<string>} */ (common));
    } else {
      const caption = stage.querySelector(".chosen");
      if (caption) caption.textContent = describe(value) || "—";
      picker.setChosen(chosenClasses(value));
    }
    const picked = task.tool.selected !== null && task.tool.picked;
    if (masksType) picker.setNext(S.next, "Paint with:");
    else if (shapesType || keypointsType || type === "text_ner") {
      const noun = type === "image_bounding_box" ? "box" : type === "image_polygon" ? "polygon" : keypointsType ? "instance" : "span";
      picker.setNext(S.next, picked ? `Picked ${noun}: a key relabels it. Next ${noun}:` : `Next ${noun}:`);
    } else picker.setNext(null);
    attributes.update();
  }

  /** @param {TaskItem} item */
  function suggestion(item) {
    if (!item.prediction || item.mine) return "";
    return h("span", { class: "suggestion", title: "ML assist's pre-label: accept by submitting, or correct it" }, `suggested (${Math.round(item.prediction.confidence * 100)}%)`);
  }

  /** A reviewer's comments on the items on screen (a rejection's reason comes back with it). @param {TaskItem[]} items */
  function showRemarks(items) {
    const notes = items.flatMap((i) => (i.comments || []).map((c) => ({ ...c, path: i.path })));
    remarks.hidden = !notes.length;
    remarks.replaceChildren(...notes.map((c) => h("p", { class: "comment" }, h("strong", {}, `${c.user}: `), c.text,
      h("span", { class: "note" }, ` · ${new Date(c.at).toLocaleString()}${items.length > 1 ? ` · ${c.path}` : ""}`))));
  }

  function markShown() {
    if (S.pressedAt === null) return;
    const t0 = S.pressedAt; S.pressedAt = null;
    requestAnimationFrame(() => setTimeout(() => timings.push(performance.now() - t0), 0));
  }

  /** @param {(task: Task) => boolean} step */
  function act(step) { if (S.task && step(S.task)) refresh(); }

  /** A class key or click. @param {string} label */
  function choose(label) {
    const task = S.task;
    if (!task || !label) return;
    if (isClassify) { if (classify(task, type, label)) refresh(); return; }
    if (editor?.relabel?.(label) || editor?.apply?.(label)) return;
    S.next = label; // the class the next shape or span takes
    refresh();
  }

  async function submit() {
    const task = S.task;
    if (!task) return;
    if (editor?.drafting) return editor.closeDraft?.();
    const wrong = problem(task, type);
    if (wrong) { showError(new Error(wrong)); return; }
    showError(null);
    S.pressedAt = performance.now();
    // Complete now (`problem` found nothing missing): each value is one the API takes.
    /** @type {PageAnswer[]} */
    const answers = task.items.map((i) => ({ itemId: i.id, value: /** @type {AnnotationValue} */ (pruned(task.values[i.id], classes)) }));
    const ids = answers.map((a) => a.itemId);
    const one = (/** @type {PageAnswer} */ a) => post(`${base}/items/${encodeURIComponent(a.itemId)}/annotation`, { value: a.value });
    /** @type {Promise<unknown>} */
    let sending;
    if (task.correcting) sending = Promise.all(answers.map((a) => call("PUT", `${base}/items/${encodeURIComponent(a.itemId)}/annotation`, { value: a.value })));
    else if (answers.length > 1) sending = post(`${base}/annotations`, { answers }).catch((e) => (e.status === 409 ? eachAlone(answers, one) : Promise.reject(e)));
    else sending = one(answers[0]);
    const watched = sending.catch((e) => {
      const paths = task.items.filter((i) => !e.itemIds || e.itemIds.includes(i.id)).map((i) => i.path);
      showError(new Error(`Not saved (${paths.join(", ")}): ${e.message}`));
      if (!task.correcting) S.last = null;
      throw e;
    }).then((saved) => {
      if (!task.correcting) { S.progress.saved += ids.length; showProgress(); }
      return saved;
    }).finally(() => { if (!task.correcting) queue.done(ids); });
    if (!task.correcting) { // the pictures of the task before the last are not needed again
      for (const old of S.last?.items || []) if (!ids.includes(old.id)) pictures.delete(old.id);
    }
    S.last = { items: task.items, values: clone(task.values), grid: task.grid };
    if (task.correcting) {
      await watched.catch(() => {});
      S.task = S.stash; S.stash = null;
      if (S.task) await show(); else await advance();
      return;
    }
    S.pending.push(watched);
    if (S.pending.length > 20) S.pending.splice(0, S.pending.length - 20);
    S.task = null;
    await advance();
  }

  /** A page is saved whole or not at all: when some of its items are no longer ours (a lease
   * ran out), save the others one by one and report only the ones that failed.
   * @param {PageAnswer[]} answers @param {(a: PageAnswer) => Promise<any>} one */
  async function eachAlone(answers, one) {
    const results = await Promise.allSettled(answers.map(one));
    const failed = answers.filter((_, i) => results[i].status === "rejected");
    if (!failed.length) return results.map((r) => /** @type {PromiseFulfilledResult<any>} */ (r).value);
    const error = /** @type {PromiseRejectedResult} */ (results.find((r) => r.status === "rejected")).reason;
    error.itemIds = failed.map((a) => a.itemId);
    throw error;
  }

  async function skip() {
    const task = S.task;
    if (!task || task.correcting) return;
    S.pressedAt = performance.now();
    S.task = null;
    const ids = task.items.map((i) => i.id);
    for (const id of ids) pictures.delete(id);
    S.pending.push(Promise.all(ids.map((id) => post(`${base}/items/${encodeURIComponent(id)}/skip`, {}))).finally(() => queue.done(ids)));
    await advance();
  }

  async function previous() {
    if (!S.last || S.task?.correcting) return;
    S.stash = S.task;
    S.task = newTask(type, S.last.items, { grid: S.last.grid, correcting: true, values: S.last.values });
    await show();
  }

  /** @param {KeyboardEvent} e */
  function onKey(e) {
    if (S.rebinding && !e.ctrlKey && !e.metaKey && !e.altKey && !["Shift", "CapsLock"].includes(e.key)) {
      e.preventDefault();
      const { id, done } = S.rebinding;
      S.rebinding = null;
      const wrong = e.key === "Escape" ? null : keys.bind(id, e.key);
      showError(wrong ? new Error(wrong) : null);
      return done();
    }
    const target = /** @type {HTMLElement} */ (e.target);
    if (target.closest?.("input:not([type=range]), textarea, select")) return; // a slider leaves the keys to the screen
    if (target.closest?.("dialog")) return;
    const key = e.key;
    if ((key === "Enter" || key === " ") && target.closest?.("button, a, summary")) return; // the focused control acts
    if ((e.ctrlKey || e.metaKey) && key.toLowerCase() === "z") { e.preventDefault(); return act(e.shiftKey ? redo : undo); }
    if ((e.ctrlKey || e.metaKey) && key.toLowerCase() === "y") { e.preventDefault(); return act(redo); }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (key === "Escape") {
      if (!help.hidden) { help.hidden = true; return; }
      editor?.cancel();
      return;
    }
    if (key === "/" && picker.focusSearch()) { e.preventDefault(); return; }
    if (S.frames?.key(e)) return;
    const bound = key.length === 1 ? keys.lookup(key) : null;
    // The tool's own keys come first, and each tool says which it takes (editor/*.js `key`).
    if (editor?.key?.(e, bound)) { e.preventDefault(); return; }
    if (attributes.key(e)) { e.preventDefault(); return; }
    if (bound?.kind === "class") { e.preventDefault(); return choose(bound.name); }
    if (key === "Enter") { e.preventDefault(); return submit(); }
    if (key === "Delete" || key === "Backspace") { if (editor?.deleteSelected()) e.preventDefault(); return; }
    if (bound?.kind === "action") {
      const action = bound.name;
      if (action === "skip") return skip();
      if (action === "previous") return previous();
      if (action === "instructions") { instructions.open = !instructions.open; return; }
      if (action === "selectAll" && S.task?.grid) { S.task.selected = new Set(S.task.items.map((i) => i.id)); return refresh(); }
      if (action === "resetWindow") return windowing.reset();
      return;
    }
    if (key === "?") return showHelp();
    if (key === "+" || key === "=") return editor?.zoom?.(1.25);
    if (key === "-") return editor?.zoom?.(0.8);
    if (key === "0") return editor?.zoom?.(0);
    if (windowing.key(key)) e.preventDefault();
  }
  document.addEventListener("keydown", onKey);
  stage.addEventListener("wheel", (e) => { S.frames?.wheel(e); }, { passive: false });

  showProgress();
  await advance().catch(showError);
  feedback.refresh();
  return () => {
    S.stopped = true;
    document.removeEventListener("keydown", onKey);
    keeper.stop();
    flush().then(release);
  };
}

/** The labeler's feedback: reviewers' comments on their items, newest first. @param {string} base */
function feedbackPanel(base) {
  const list = h("ul", { class: "feedback-list" });
  const summary = h("summary", {}, "Feedback from review");
  const node = h("details", { id: "feedback", hidden: true }, summary, list);
  async function refresh() {
    const { entries } = await call("GET", `${base}/feedback`).then((r) => r.data).catch(() => ({ entries: [] }));
    node.hidden = !entries.length;
    summary.textContent = `Feedback from review (${entries.length}${entries.length >= 50 ? "+" : ""})`;
    list.replaceChildren(...entries.map((/** @type {any} */ e) => h("li", { dataset: { itemId: e.itemId } }, h("strong", {}, e.path),
      h("span", { class: `state ${e.state}` }, ` ${e.state.replaceAll("_", " ")}`),
      ...e.comments.map((/** @type {any} */ c) => h("p", { class: "comment" }, h("strong", {}, `${c.user}: `), c.text)))));
  }
  return { node, refresh };
}
