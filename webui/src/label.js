// The labeling screen: classification (one item or a grid of 4/6/9), boxes, polygons, text
// classification and NER spans, with keys for everything frequent, undo/redo, previous task,
// and the next items leased and decoded ahead so that submit → next is immediate.
import { call, post } from "./api.js";
import { dicomCanvas, windowControls } from "./dicom.js";
import { colorOf, h, markdown, s, showError } from "./dom.js";
import { keyMap, keysHelp } from "./keys.js";
import { pannable } from "./zoom.js";

const timings = (window.loupeTimings = window.loupeTimings || []);

function clone(value) { return JSON.parse(JSON.stringify(value)); }

export async function labelView({ project, pane }) {
  const base = `/projects/${encodeURIComponent(project.id)}`;
  const type = project.taskType;
  const classes = project.labelClasses;
  const isImage = type.startsWith("image_");
  const isClassify = type.endsWith("multiclass") || type.endsWith("multilabel");
  const multi = type.endsWith("multilabel");
  const canGrid = isImage && isClassify;
  let size = canGrid ? Number(localStorage.getItem(`loupe.size.${project.id}`) || 1) : 1;
  let active = classes[0]?.name;
  let buffer = []; // leased items not shown yet (single mode)
  let pending = []; // submissions still in flight
  let current = null; // {items, values: {id: value}, history, future, selected:Set, correcting}
  let stash = null; // the task put aside while correcting the previous one
  let last = null; // the last submitted task, for "previous"
  let tool = { drawing: null, selected: null, draft: null, zoom: 1, center: null };
  let pressedAt = null;
  let stopped = false;
  const images = new Map();
  const decoded = new Map();
  const place = (id, fn) => (decoded.has(id) ? fn(decoded.get(id)) : images.get(id).then(fn));
  const keys = keyMap(project);
  let rebinding = null; // {id, done} while waiting for the key to bind
  const windowing = windowControls(); // DICOM window/level over the item's own values

  const stage = h("div", { id: "stage", class: "stage", tabindex: -1 });
  const info = h("p", { id: "task-info", class: "note" });
  const labelList = h("ol", { id: "labels", class: "labels" });
  const instructions = h("details", { id: "instructions", open: !localStorage.getItem("loupe.hideInstructions") },
    h("summary", {}, "Instructions (I)"),
    project.instructions?.url
      ? h("p", {}, h("a", { href: project.instructions.url, target: "_blank", rel: "noopener noreferrer" }, project.instructions.url))
      : markdown(project.instructions?.markdown || "_No instructions._"));
  const help = h("div", { id: "help", class: "overlay", hidden: true, onclick: (e) => { if (e.target === help) help.hidden = true; } });
  const showHelp = (open = help.hidden) => {
    help.hidden = !open;
    if (open) help.replaceChildren(keysHelp({ keys, classes, rebind, close: () => (help.hidden = true) }));
  };
  /** Waits for the next key press and binds it to `id` ("class:NAME" or "action:ID"). */
  function rebind(id, done) {
    rebinding = { id, done: () => { done(); renderLabels(); } };
  }
  const sizeSelect = canGrid && h("select", { id: "grid-size", onchange: async () => {
    size = Number(sizeSelect.value); localStorage.setItem(`loupe.size.${project.id}`, String(size));
    await flush(); await release(); current = null; await advance();
  } }, [1, 4, 6, 9].map((n) => h("option", { value: n, selected: n === size }, n === 1 ? "One image" : `Grid of ${n}`)));
  const buttons = h("div", { class: "actions" },
    h("button", { class: "primary", id: "submit", onclick: () => submit() }, "Submit ⏎"),
    h("button", { id: "skip", onclick: () => skip() }, "Skip (S)"),
    h("button", { id: "undo", onclick: () => undo() }, "Undo"), h("button", { id: "redo", onclick: () => redo() }, "Redo"),
    h("button", { id: "previous", onclick: () => previous() }, "Previous (P)"),
    h("button", { id: "help-button", onclick: () => showHelp() }, "?"));
  pane.replaceChildren(h("div", { class: "labeling" }, stage,
    h("aside", {}, sizeSelect ? h("label", {}, "Show ", sizeSelect) : null, info, windowing.panel, labelList, buttons, instructions)), help);
  instructions.addEventListener("toggle", () => localStorage[instructions.open ? "removeItem" : "setItem"]("loupe.hideInstructions", "1"));

  function renderLabels() {
    labelList.replaceChildren(...classes.map((c) => {
      const id = `class:${c.name}`;
      const kbd = h("kbd", { title: "Click, then press the key you want for this class", class: rebinding?.id === id ? "waiting" : "",
        onclick: (e) => { e.stopPropagation(); rebind(id, renderLabels); renderLabels(); } }, rebinding?.id === id ? "…" : keys.classKey(c.name));
      return h("li", { class: c.name === active ? "active" : "", dataset: { label: c.name }, onclick: () => choose(c.name) },
        kbd, h("span", { class: "swatch", style: `background:${colorOf(classes, c.name)}` }), c.name);
    }));
  }

  function empty() {
    if (type.endsWith("multiclass")) return {};
    if (multi) return { labels: [] };
    if (type === "image_bounding_box") return { boxes: [] };
    if (type === "image_polygon") return { polygons: [] };
    return { spans: [] };
  }

  function startValue(item) {
    return clone(item.mine || item.prefill || item.prediction?.value || empty());
  }

  function preload(item) {
    if (!item.url || images.has(item.id)) return images.get(item.id);
    if (item.dicom) { // greyscale DICOM: drawn from its values, through a window
      const ready = dicomCanvas(item).catch((e) => { showError(e); images.delete(item.id); return plain(item); });
      ready.then((canvas) => decoded.set(item.id, canvas));
      images.set(item.id, ready);
      return ready;
    }
    const ready = plain(item);
    ready.then((img) => decoded.set(item.id, img));
    images.set(item.id, ready);
    return ready;
  }
  function plain(item) {
    const img = new Image();
    img.src = item.url;
    img.draggable = false;
    return img.decode().then(() => img, () => img);
  }

  async function lease(n) {
    const task = await post(`${base}/tasks/next`, { size: n });
    task.items.forEach(preload);
    return task.items;
  }

  async function flush() {
    const waiting = pending; pending = [];
    const results = await Promise.allSettled(waiting);
    for (const r of results) if (r.status === "rejected") showError(r.reason);
  }

  async function release() {
    const ids = [...buffer, ...(current?.items || [])].map((i) => i.id);
    buffer = [];
    if (ids.length) await post(`${base}/tasks/release`, { itemIds: ids }).catch(() => {});
  }

  async function advance() {
    if (stopped) return;
    let items;
    let waiting = "No items to label right now; this page checks again by itself.";
    try {
      if (size === 1) {
        if (!buffer.length) {
          await flush();
          buffer = await lease(canGrid ? 4 : 1);
        }
        items = buffer.length ? [buffer.shift()] : [];
      } else {
        await flush();
        items = await lease(size);
      }
    } catch (e) {
      if (e.status !== 409 && e.status !== 423) throw e;
      items = [];
      waiting = e.message;
    }
    if (!items.length) {
      current = null;
      stage.replaceChildren(h("p", { class: "empty", id: "no-tasks" }, waiting));
      stage.dataset.itemId = "";
      setTimeout(() => !current && !stopped && advance().catch(showError), 2000);
      return;
    }
    await Promise.all(items.map(preload));
    current = { items, values: Object.fromEntries(items.map((i) => [i.id, startValue(i)])), history: [], future: [],
      selected: new Set(items.map((i) => i.id)), grid: size > 1 };
    tool = { drawing: null, selected: null, draft: null, zoom: 1, center: null };
    render();
  }

  function markShown() {
    if (pressedAt === null) return;
    const t0 = pressedAt; pressedAt = null;
    requestAnimationFrame(() => setTimeout(() => timings.push(performance.now() - t0), 0));
  }

  function commit(mutate) {
    current.history.push(clone(current.values));
    current.future = [];
    mutate(current.values);
    render();
  }
  function undo() { if (current?.history.length) { current.future.push(clone(current.values)); current.values = current.history.pop(); tool.selected = null; render(); } }
  function redo() { if (current?.future.length) { current.history.push(clone(current.values)); current.values = current.future.pop(); tool.selected = null; render(); } }

  function choose(label) {
    active = label;
    if (!current) return renderLabels();
    const ids = current.grid ? [...current.selected] : [current.items[0].id];
    if (isClassify) {
      if (!ids.length) return renderLabels();
      commit((values) => {
        if (multi) {
          const all = ids.every((id) => values[id].labels?.includes(label));
          for (const id of ids) {
            const set = new Set(values[id].labels || []);
            if (all) set.delete(label); else set.add(label);
            values[id] = { labels: [...set] };
          }
        } else for (const id of ids) values[id] = { label };
      });
      if (current.grid && !multi) {
        const open = current.items.filter((i) => !current.values[i.id].label).map((i) => i.id);
        current.selected = new Set(open);
        render();
      }
      return;
    }
    const sel = tool.selected;
    const key = type === "image_bounding_box" ? "boxes" : type === "image_polygon" ? "polygons" : "spans";
    if (sel !== null) return commit((values) => { values[current.items[0].id][key][sel].label = label; });
    if (type === "text_ner") { const range = selectedRange(); if (range) return addSpan(range); }
    render();
  }

  function render() {
    renderLabels();
    if (!current) return;
    const item = current.items[0];
    stage.dataset.itemId = current.items.map((i) => i.id).join(",");
    info.textContent = `${current.correcting ? "Correcting your previous answer · " : ""}${current.grid ? `${current.items.length} images` : item.path}`;
    if (current.grid) renderGrid();
    else if (type === "image_bounding_box" || type === "image_polygon") renderShapes(item);
    else if (isImage) renderImage(item);
    else renderText(item);
    windowing.attach(!current.grid && decoded.get(item.id)?.windowing ? decoded.get(item.id) : null);
    markShown();
  }

  function suggestion(item) {
    if (!item.prediction || item.mine) return null;
    return h("span", { class: "suggestion", title: "ML assist's pre-label: accept by submitting, or correct it" }, `suggested (${Math.round(item.prediction.confidence * 100)}%)`);
  }

  function valueText(value) {
    if (value.label) return value.label;
    if (value.labels) return value.labels.join(", ");
    return "";
  }

  function renderImage(item) {
    const value = current.values[item.id];
    const frame = h("div", { class: "frame", style: frameWidth(item, 66) });
    place(item.id, (img) => { img.classList.add("photo"); frame.prepend(img); });
    const figure = h("figure", { class: "single" }, h("figcaption", { class: "chosen" }, valueText(value) || "—", suggestion(item)));
    stage.replaceChildren(figure);
    figure.prepend(pannable(frame, tool, { zoom, pan: "left", windowing }));
  }

  /** At zoom 1 the whole image fits `vh` of the screen's height; zooming widens the frame. */
  function frameWidth(item, vh) {
    const W = item.width || 1000; const H = item.height || 1000;
    return `width:calc(min(100%, ${(vh * W / H).toFixed(3)}vh) * ${tool.zoom})`;
  }

  function renderGrid() {
    const grid = h("div", { class: `grid grid-${size}`, id: "grid", dataset: { ids: current.items.map((i) => i.id).join(",") } });
    for (const item of current.items) {
      const tile = h("figure", { class: `tile ${current.selected.has(item.id) ? "selected" : ""}`, dataset: { itemId: item.id },
        onclick: () => { current.selected.has(item.id) ? current.selected.delete(item.id) : current.selected.add(item.id); render(); } });
      place(item.id, (img) => tile.prepend(img));
      tile.append(h("figcaption", { class: "chosen" }, valueText(current.values[item.id]) || "—", suggestion(item)));
      grid.append(tile);
    }
    stage.replaceChildren(h("div", { class: "gridbar" },
      h("button", { id: "select-all", onclick: () => { current.selected = new Set(current.items.map((i) => i.id)); render(); } }, "Select all (A)"),
      h("button", { id: "select-none", onclick: () => { current.selected.clear(); render(); } }, "Select none"),
      h("span", { class: "note" }, `${current.selected.size} of ${current.items.length} selected: a label key labels them`,
        current.items.length < size ? ` (a page holds one group of similar images: ${current.items.length} here)` : "")), grid);
  }

  // ---- boxes and polygons, drawn on an SVG in image pixels over the image ----
  function renderShapes(item) {
    const value = current.values[item.id];
    const W = item.width || 1000; const H = item.height || 1000;
    const frame = h("div", { class: "frame", style: frameWidth(item, 74) });
    const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", id: "canvas", class: "canvas" });
    const r = Math.max(W, H) * 0.008;
    const boxes = value.boxes || [];
    const polygons = value.polygons || [];
    boxes.forEach((b, i) => {
      const g = s("g", { class: `shape ${tool.selected === i ? "selected" : ""}`, "data-index": i });
      const color = colorOf(classes, b.label);
      g.append(s("rect", { x: b.x * W, y: b.y * H, width: b.w * W, height: b.h * H, stroke: color, fill: `${color}22`, "data-body": i }));
      const t = s("text", { x: b.x * W + r, y: b.y * H + 3 * r, fill: color, "font-size": 3 * r }); t.textContent = b.label; g.append(t);
      if (tool.selected === i) [[0, 0], [1, 0], [0, 1], [1, 1]].forEach(([cx, cy], k) =>
        g.append(s("circle", { cx: (b.x + cx * b.w) * W, cy: (b.y + cy * b.h) * H, r: 1.5 * r, class: "handle", "data-handle": k })));
      svg.append(g);
    });
    polygons.forEach((p, i) => {
      const g = s("g", { class: `shape ${tool.selected === i ? "selected" : ""}`, "data-index": i });
      const color = colorOf(classes, p.label);
      g.append(s("polygon", { points: p.points.map(([x, y]) => `${x * W},${y * H}`).join(" "), stroke: color, fill: `${color}22`, "data-body": i }));
      const t = s("text", { x: p.points[0][0] * W + r, y: p.points[0][1] * H - r, fill: color, "font-size": 3 * r }); t.textContent = p.label; g.append(t);
      if (tool.selected === i) p.points.forEach(([x, y], k) => g.append(s("circle", { cx: x * W, cy: y * H, r: 1.5 * r, class: "handle", "data-handle": k })));
      svg.append(g);
    });
    if (tool.drawing?.kind === "draw") {
      const d = tool.drawing;
      svg.append(s("rect", { class: "temp", id: "temp-box", x: Math.min(d.x0, d.x1) * W, y: Math.min(d.y0, d.y1) * H, width: Math.abs(d.x1 - d.x0) * W, height: Math.abs(d.y1 - d.y0) * H }));
    }
    if (tool.draft) {
      svg.append(s("polyline", { class: "temp", id: "draft", points: tool.draft.map(([x, y]) => `${x * W},${y * H}`).join(" ") }));
      tool.draft.forEach(([x, y], k) => svg.append(s("circle", { class: `handle ${k === 0 ? "first" : ""}`, cx: x * W, cy: y * H, r: 1.5 * r })));
    }
    place(item.id, (img) => { img.classList.add("photo"); frame.prepend(img); });
    frame.append(svg);
    svg.addEventListener("pointerdown", (e) => pointerDown(e, svg, item));
    const hint = type === "image_bounding_box" ? "Drag to draw a box; drag a box to move it, a corner to resize it." : "Click to add points; click the first point or press Enter to close.";
    stage.replaceChildren(h("p", { class: "note" }, hint, " ", suggestion(item)));
    stage.append(pannable(frame, tool, { zoom, pan: "middle", windowing }));
  }

  function zoom(f) {
    if (current?.grid || !isImage) return;
    tool.zoom = f === 0 ? 1 : Math.min(8, Math.max(1, tool.zoom * f));
    tool.center = tool.zoom === 1 ? null : tool.center || [0.5, 0.5];
    render();
  }

  function point(e, svg) {
    const rect = svg.getBoundingClientRect();
    return [Math.min(1, Math.max(0, (e.clientX - rect.left) / rect.width)), Math.min(1, Math.max(0, (e.clientY - rect.top) / rect.height))];
  }

  function pointerDown(e, svg, item) {
    if (e.button !== 0) return;
    e.preventDefault();
    const [x, y] = point(e, svg);
    const value = current.values[item.id];
    const target = e.target;
    const handle = target.dataset?.handle;
    const body = target.dataset?.body;
    // The SVG is redrawn as the gesture goes: follow the pointer on the window, not on it.
    const canvas = () => document.getElementById("canvas");
    const move = (ev) => pointerMove(ev, canvas());
    const up = (ev) => { removeEventListener("pointermove", move); removeEventListener("pointerup", up); pointerUp(ev, canvas()); };
    addEventListener("pointermove", move);
    addEventListener("pointerup", up);
    const before = clone(current.values);
    if (type === "image_bounding_box") {
      if (handle !== undefined && tool.selected !== null) {
        const b = value.boxes[tool.selected];
        const k = Number(handle);
        tool.drawing = { kind: "resize", before, fx: k % 2 ? b.x : b.x + b.w, fy: k > 1 ? b.y : b.y + b.h };
      } else if (body !== undefined) {
        tool.selected = Number(body);
        const b = value.boxes[tool.selected];
        tool.drawing = { kind: "move", before, dx: x - b.x, dy: y - b.y };
        render();
      } else {
        tool.selected = null;
        tool.drawing = { kind: "draw", x0: x, y0: y, x1: x, y1: y, sx: e.clientX, sy: e.clientY };
        render();
      }
      return;
    }
    // polygons
    if (tool.draft) {
      const [fx, fy] = tool.draft[0];
      const rect = svg.getBoundingClientRect();
      const near = Math.hypot((fx - x) * rect.width, (fy - y) * rect.height) < 10;
      if (near && tool.draft.length >= 3) return closeDraft();
      tool.draft.push([x, y]);
      return render();
    }
    if (handle !== undefined && tool.selected !== null) {
      tool.drawing = { kind: "vertex", before, k: Number(handle) };
    } else if (body !== undefined) {
      tool.selected = Number(body);
      tool.drawing = { kind: "move", before, x, y };
      render();
    } else {
      tool.selected = null;
      tool.draft = [[x, y]];
      render();
    }
  }

  function pointerMove(e, svg) {
    const d = tool.drawing;
    if (!d || !current) return;
    const [x, y] = point(e, svg);
    const value = current.values[current.items[0].id];
    if (d.kind === "draw") { d.x1 = x; d.y1 = y; }
    else if (type === "image_bounding_box" && d.kind === "move") {
      const b = value.boxes[tool.selected];
      b.x = Math.min(1 - b.w, Math.max(0, x - d.dx)); b.y = Math.min(1 - b.h, Math.max(0, y - d.dy));
    } else if (d.kind === "resize") {
      const b = value.boxes[tool.selected];
      Object.assign(b, { x: Math.min(d.fx, x), y: Math.min(d.fy, y), w: Math.abs(x - d.fx), h: Math.abs(y - d.fy) });
    } else if (d.kind === "vertex") {
      value.polygons[tool.selected].points[d.k] = [x, y];
    } else if (d.kind === "move") {
      const p = value.polygons[tool.selected];
      const dx = x - d.x; const dy = y - d.y; d.x = x; d.y = y;
      p.points = p.points.map(([px, py]) => [px + dx, py + dy]);
    }
    render();
  }

  function pointerUp(e, svg) {
    const d = tool.drawing;
    if (!d || !current) return;
    tool.drawing = null;
    const value = current.values[current.items[0].id];
    if (d.kind === "draw") {
      const small = Math.abs(e.clientX - d.sx) < 4 || Math.abs(e.clientY - d.sy) < 4;
      if (!small) {
        const box = { label: active, x: Math.min(d.x0, d.x1), y: Math.min(d.y0, d.y1), w: Math.abs(d.x1 - d.x0), h: Math.abs(d.y1 - d.y0) };
        commit((values) => { values[current.items[0].id].boxes.push(box); });
        tool.selected = current.values[current.items[0].id].boxes.length - 1;
      }
      return render();
    }
    if (d.kind === "resize") {
      const b = value.boxes[tool.selected];
      const rect = svg.getBoundingClientRect();
      if (b.w * rect.width < 4 || b.h * rect.height < 4) { current.values = d.before; tool.selected = null; return render(); }
    }
    const after = clone(current.values);
    if (JSON.stringify(after) !== JSON.stringify(d.before)) { current.history.push(d.before); current.future = []; }
    render();
  }

  function closeDraft() {
    const points = tool.draft;
    tool.draft = null;
    if (points.length < 3) return render();
    commit((values) => { values[current.items[0].id].polygons.push({ label: active, points }); });
    tool.selected = current.values[current.items[0].id].polygons.length - 1;
    render();
  }

  function deleteSelected() {
    if (tool.selected === null || !current) return false;
    const key = type === "image_bounding_box" ? "boxes" : type === "image_polygon" ? "polygons" : "spans";
    const index = tool.selected;
    tool.selected = null;
    commit((values) => { values[current.items[0].id][key].splice(index, 1); });
    return true;
  }

  // ---- text ----
  let textBox = null;
  function renderText(item) {
    const value = current.values[item.id];
    const text = item.text || "";
    textBox = h("div", { class: "text", id: "text" });
    if (type === "text_ner") {
      const spans = [...(value.spans || [])].map((sp, i) => ({ ...sp, i })).sort((a, b) => a.start - b.start);
      let at = 0;
      for (const sp of spans) {
        if (sp.start > at) textBox.append(text.slice(at, sp.start));
        const color = colorOf(classes, sp.label);
        textBox.append(h("mark", { class: `span ${tool.selected === sp.i ? "selected" : ""}`, style: `background:${color}33;border-color:${color}`, dataset: { label: sp.label, index: sp.i },
          onclick: () => { tool.selected = sp.i; render(); }, title: sp.label }, text.slice(sp.start, sp.end)));
        at = sp.end;
      }
      textBox.append(text.slice(at));
      stage.replaceChildren(h("p", { class: "note" }, "Select text, then press a label key. Click a span and press Delete to remove it."), textBox);
    } else {
      textBox.append(text);
      stage.replaceChildren(textBox, h("p", { class: "chosen" }, valueText(value) || "—", suggestion(item)));
    }
  }

  function offsetIn(container, node, offset) {
    const range = document.createRange();
    range.setStart(container, 0);
    range.setEnd(node, offset);
    return range.toString().length;
  }
  function selectedRange() {
    const selection = window.getSelection();
    if (!textBox || !selection.rangeCount || selection.isCollapsed) return null;
    const range = selection.getRangeAt(0);
    if (!textBox.contains(range.startContainer) || !textBox.contains(range.endContainer)) return null;
    let start = offsetIn(textBox, range.startContainer, range.startOffset);
    let end = offsetIn(textBox, range.endContainer, range.endOffset);
    const text = current.items[0].text || "";
    while (start < end && /\s/.test(text[start])) start++;
    while (end > start && /\s/.test(text[end - 1])) end--;
    return end > start ? { start, end } : null;
  }
  function addSpan({ start, end }) {
    const spans = current.values[current.items[0].id].spans;
    if (spans.some((sp) => sp.start < end && start < sp.end)) { showError(new Error("Spans may not overlap: delete the other span first.")); return; }
    window.getSelection().removeAllRanges();
    commit((values) => { values[current.items[0].id].spans.push({ label: active, start, end }); });
  }

  // ---- submit, skip, previous ----
  function check() {
    for (const item of current.items) {
      const v = current.values[item.id];
      if (type.endsWith("multiclass") && !v.label) return `Choose a label${current.grid ? " for every image" : ""} first (keys 1–9).`;
    }
    return null;
  }

  async function submit() {
    if (!current) return;
    if (tool.draft) return closeDraft();
    const problem = check();
    if (problem) { showError(new Error(problem)); return; }
    showError(null);
    pressedAt = performance.now();
    const task = current;
    const answers = task.items.map((i) => ({ itemId: i.id, value: task.values[i.id] }));
    const one = (a) => post(`${base}/items/${encodeURIComponent(a.itemId)}/annotation`, { value: a.value });
    let sending;
    if (task.correcting) sending = Promise.all(answers.map((a) => call("PUT", `${base}/items/${encodeURIComponent(a.itemId)}/annotation`, { value: a.value })));
    else if (answers.length > 1) sending = post(`${base}/annotations`, { answers }).catch((e) => (e.status === 409 ? eachAlone(answers, one) : Promise.reject(e)));
    else sending = one(answers[0]);
    const watched = sending.catch((e) => {
      const paths = task.items.filter((i) => !e.itemIds || e.itemIds.includes(i.id)).map((i) => i.path);
      showError(new Error(`Not saved (${paths.join(", ")}): ${e.message}`));
      if (!task.correcting) last = null;
      throw e;
    });
    last = { items: task.items, values: clone(task.values), grid: task.grid };
    if (task.correcting) {
      await watched.catch(() => {});
      current = stash; stash = null;
      if (current) render(); else await advance();
      return;
    }
    pending.push(watched);
    current = null;
    await advance();
  }

  /** A page is saved whole or not at all: when some of its items are no longer ours (a lease
   * ran out), save the others one by one and report only the ones that failed. */
  async function eachAlone(answers, one) {
    const results = await Promise.allSettled(answers.map(one));
    const failed = answers.filter((_, i) => results[i].status === "rejected");
    if (!failed.length) return results.map((r) => r.value);
    const error = results.find((r) => r.status === "rejected").reason;
    error.itemIds = failed.map((a) => a.itemId);
    throw error;
  }

  async function skip() {
    if (!current || current.correcting) return;
    pressedAt = performance.now();
    const task = current;
    current = null;
    pending.push(Promise.all(task.items.map((i) => post(`${base}/items/${encodeURIComponent(i.id)}/skip`, {}))));
    await advance();
  }

  function previous() {
    if (!last || current?.correcting) return;
    stash = current;
    current = { items: last.items, values: clone(last.values), history: [], future: [], selected: new Set(last.items.map((i) => i.id)), correcting: true, grid: last.grid };
    tool = { drawing: null, selected: null, draft: null, zoom: 1, center: null };
    render();
  }

  function onKey(e) {
    if (rebinding && !e.ctrlKey && !e.metaKey && !e.altKey && !["Shift", "CapsLock"].includes(e.key)) {
      e.preventDefault();
      const { id, done } = rebinding;
      rebinding = null;
      const problem = e.key === "Escape" ? null : keys.bind(id, e.key);
      showError(problem ? new Error(problem) : null);
      return done();
    }
    if (e.target.closest && e.target.closest("input, textarea, select")) return;
    const key = e.key;
    if ((key === "Enter" || key === " ") && e.target.closest && e.target.closest("button, a, summary")) return; // the focused control acts
    if ((e.ctrlKey || e.metaKey) && key.toLowerCase() === "z") { e.preventDefault(); return e.shiftKey ? redo() : undo(); }
    if ((e.ctrlKey || e.metaKey) && key.toLowerCase() === "y") { e.preventDefault(); return redo(); }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (key === "Escape") {
      if (!help.hidden) { help.hidden = true; return; }
      if (tool.drawing?.kind === "draw") { tool.drawing = null; return render(); }
      if (tool.drawing) { current.values = tool.drawing.before; tool.drawing = null; return render(); }
      if (tool.draft) { tool.draft = null; return render(); }
      tool.selected = null; return render();
    }
    const bound = key.length === 1 ? keys.lookup(key) : null;
    if (bound?.kind === "class") { e.preventDefault(); return choose(bound.name); }
    if (key === "Enter") { e.preventDefault(); return submit(); }
    if (key === "Delete" || key === "Backspace") { if (deleteSelected()) e.preventDefault(); return; }
    if (bound?.kind === "action") {
      const act = bound.name;
      if (act === "skip") return skip();
      if (act === "previous") return previous();
      if (act === "instructions") { instructions.open = !instructions.open; return; }
      if (act === "selectAll" && current?.grid) { current.selected = new Set(current.items.map((i) => i.id)); return render(); }
      if (act === "resetWindow") return windowing.reset();
      return;
    }
    if (key === "?") return showHelp();
    if (key === "+" || key === "=") return zoom(1.25);
    if (key === "-") return zoom(0.8);
    if (key === "0") return zoom(0);
    const step = { "[": [0, -1], "]": [0, 1], ",": [-1, 0], ".": [1, 0] }[key];
    if (step && windowing.nudge(...step)) e.preventDefault();
  }
  document.addEventListener("keydown", onKey);
  const renewer = setInterval(() => {
    const ids = [...buffer, ...(current && !current.correcting ? current.items : [])].map((i) => i.id);
    if (ids.length) post(`${base}/tasks/renew`, { itemIds: ids }).catch(() => {});
  }, 4 * 60 * 1000);

  renderLabels();
  await advance().catch(showError);
  return () => {
    stopped = true;
    document.removeEventListener("keydown", onKey);
    clearInterval(renewer);
    flush().then(release);
  };
}
