// @ts-check
// DICOM window/level: the item's values (modality LUT applied, as the server stored them) are
// drawn on a canvas through a window (centre and width), redrawn as the window changes: the
// real thing, not brightness and contrast on an 8-bit picture. A multi-frame item shows its
// other frames' values on the same canvas, through the same window (frames.js). The window
// starts as the file's (WindowCenter/WindowWidth) or as the labeler last left it on this item
// (windows.js).
import { h } from "./dom.js";
import { browserStore, savedWindow, saveWindow } from "./windows.js";

/** @typedef {import("./api-types").components["schemas"]["DicomView"]} DicomView */
/** @typedef {{id: string, width?: number | null, height?: number | null, dicom?: DicomView | null}} DicomItem */
/** @typedef {{stored: Uint16Array, offset: number, scale: number}} Values one frame's values: value = stored * scale + offset */
/**
 * @typedef {object} Windowing the window of a DICOM canvas, and the values it shows
 * @property {number} center
 * @property {number} width
 * @property {number} min the lowest value of the frames shown so far
 * @property {number} max the highest
 * @property {number} fileCenter
 * @property {number} fileWidth
 * @property {string | null | undefined} modality
 * @property {Values} values the frame on the canvas
 * @property {() => void} draw
 * @property {(center: number, width: number) => void} set
 * @property {() => void} reset
 * @property {(values: Values) => void} show puts another frame's values on the canvas, in the same window
 * @property {(() => void) | null} [onchange]
 */
/** @typedef {HTMLCanvasElement & {windowing: Windowing}} DicomCanvas */

/** Presets by modality (centre, width), as radiology viewers offer them. @type {Record<string, [string, number, number][]>} */
const PRESETS = {
  CT: [["Brain", 40, 80], ["Subdural", 75, 215], ["Lung", -600, 1500], ["Mediastinum", 50, 350], ["Abdomen", 40, 400], ["Liver", 60, 160], ["Bone", 400, 1800]],
};

/** zlib'd little-endian uint16, as stored. @param {ReadableStream<Uint8Array>} body */
async function inflate(body) {
  const stream = /** @type {ReadableWritablePair<Uint8Array, Uint8Array>} */ (/** @type {unknown} */ (new DecompressionStream("deflate")));
  const inflated = body.pipeThrough(stream);
  const buffer = await new Response(inflated).arrayBuffer();
  const view = new DataView(buffer);
  const out = new Uint16Array(buffer.byteLength / 2);
  for (let i = 0; i < out.length; i++) out[i] = view.getUint16(2 * i, true); // little-endian on any CPU
  return out;
}

/** @param {string} url @param {string} what */
async function fetched(url, what) {
  const response = await fetch(url);
  if (!response.ok || !response.body) throw new Error(`The DICOM values of ${what} did not load (HTTP ${response.status}).`);
  return response;
}

/** The item's values (its first frame), as ingestion stored them. @param {DicomView} dicom @returns {Promise<Values>} */
async function itemValues(dicom) {
  const response = await fetched(dicom.pixelsUrl, "the item");
  return { stored: await inflate(/** @type {ReadableStream<Uint8Array>} */ (response.body)), offset: dicom.offset, scale: dicom.scale };
}

/** A frame's values: its offset and scale (two little-endian float64), then the values.
 * @param {string} url `{framesUrl}/{n}/pixels` @returns {Promise<Values>} */
export async function frameValues(url) {
  const buffer = await (await fetched(url, "the frame")).arrayBuffer();
  const head = new DataView(buffer, 0, 16);
  const stored = await inflate(new Blob([buffer.slice(16)]).stream());
  return { stored, offset: head.getFloat64(0, true), scale: head.getFloat64(8, true) };
}

/** The highest stored value. @param {Uint16Array} stored */
function topOf(stored) {
  let top = 0;
  for (let i = 0; i < stored.length; i++) if (stored[i] > top) top = stored[i];
  return top;
}

/** A canvas showing a greyscale DICOM item; `canvas.windowing` carries its state.
 * @param {DicomItem} item @returns {Promise<DicomCanvas>} */
export async function dicomCanvas(item) {
  const dicom = item.dicom;
  if (!dicom) throw new Error("Only greyscale DICOM items have values for window/level.");
  const { invert } = dicom;
  let values = await itemValues(dicom);
  const width = item.width || 1; const height = item.height || 1;
  const canvas = /** @type {DicomCanvas} */ (h("canvas", { width, height, class: "photo dicom", dataset: { itemId: item.id } }));
  const context = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
  const image = context.createImageData(width, height);
  const pixels = new Uint32Array(image.data.buffer);
  let top = topOf(values.stored);
  let lut = new Uint32Array(top + 1);
  const min = values.offset; const max = top * values.scale + values.offset;
  const fileCenter = dicom.windowCenter ?? (min + max) / 2;
  const fileWidth = dicom.windowWidth ?? Math.max(max - min, 1);
  let queued = false;
  const store = browserStore();
  const [center, span] = savedWindow(store, item.id) || [fileCenter, fileWidth];
  /** @type {Windowing} */
  const w = {
    center, width: span, min, max, fileCenter, fileWidth, modality: dicom.modality, values,
    draw() {
      const { stored, offset, scale } = values;
      const low = w.center - w.width / 2;
      for (let s = 0; s <= top; s++) {
        let g = Math.round(((s * scale + offset - low) / w.width) * 255);
        g = g < 0 ? 0 : g > 255 ? 255 : g;
        if (invert) g = 255 - g;
        lut[s] = 0xff000000 | (g << 16) | (g << 8) | g; // RGBA bytes, read as one little-endian word
      }
      for (let i = 0; i < pixels.length; i++) pixels[i] = lut[stored[i]];
      context.putImageData(image, 0, 0);
      canvas.dataset.center = String(w.center);
      canvas.dataset.width = String(w.width);
    },
    set(center, width) {
      w.center = tidy(center); w.width = Math.max(0.001, tidy(width));
      if (!queued) {
        queued = true;
        requestAnimationFrame(() => {
          queued = false; w.draw(); w.onchange?.();
          const own = w.center === tidy(fileCenter) && w.width === Math.max(0.001, tidy(fileWidth));
          saveWindow(store, item.id, own ? null : [w.center, w.width]); // the file's own: nothing to remember
        });
      }
    },
    reset: () => w.set(fileCenter, fileWidth),
    show(next) {
      values = w.values = next;
      top = topOf(next.stored);
      if (lut.length < top + 1) lut = new Uint32Array(top + 1);
      w.min = Math.min(w.min, next.offset);
      w.max = Math.max(w.max, top * next.scale + next.offset);
      w.draw();
      w.onchange?.();
    },
  };
  w.draw();
  canvas.windowing = w;
  return canvas;
}

/** No 703.9999999 in the readout. @param {number} v */
const tidy = (v) => Math.round(v * 1000) / 1000;

/** @param {number} v */
const round = (v) => (Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 100) / 100);

/** The side panel's window/level control: sliders, readout, presets, reset; `attach(canvas)`
 * points it at the canvas on screen (or null to hide it). */
export function windowControls() {
  /** @type {Windowing | null} */
  let w = null;
  const center = /** @type {HTMLInputElement} */ (h("input", { type: "range", id: "dicom-center", step: "any", oninput: () => w && w.set(Number(center.value), w.width) }));
  const width = /** @type {HTMLInputElement} */ (h("input", { type: "range", id: "dicom-width", step: "any", oninput: () => w && w.set(w.center, Number(width.value)) }));
  const readout = h("output", { id: "dicom-readout" });
  const presets = /** @type {HTMLSelectElement} */ (h("select", { id: "dicom-preset", onchange: () => {
    const [c, wd] = presets.value.split(",").map(Number);
    if (w && presets.value) w.set(c, wd);
    presets.value = "";
  } }));
  const reset = h("button", { id: "dicom-reset", type: "button", onclick: () => w && w.reset() }, "Reset to the file's window");
  const panel = h("div", { id: "window-level", class: "window-level", hidden: true },
    h("strong", {}, "Window / level"), readout,
    h("label", {}, "Centre (level) ", center), h("label", {}, "Width (window) ", width),
    h("div", { class: "bar" }, presets, reset),
    h("p", { class: "note" }, "Right-drag or Shift+drag on the image: ↔ width, ↕ centre. Keys [ ] width (Shift+[ ] while painting masks), ; ' centre."));
  function ranges() {
    if (!w) return;
    const span = Math.max(w.max - w.min, 1);
    center.min = String(w.min - span / 2); center.max = String(w.max + span / 2);
    width.min = String(span / 1000); width.max = String(span * 2);
  }
  function show() {
    if (!w) return;
    ranges(); // another frame may widen the values' range
    readout.textContent = `C ${round(w.center)} / W ${round(w.width)}`;
    center.value = String(w.center); width.value = String(w.width);
    panel.dataset.center = String(w.center); panel.dataset.width = String(w.width);
  }
  /** @param {Element | null | undefined} canvas */
  function attach(canvas) {
    if (w) w.onchange = null;
    w = /** @type {Partial<DicomCanvas> | null | undefined} */ (canvas)?.windowing || null;
    panel.hidden = !w;
    if (!w) return;
    const list = PRESETS[w.modality || ""] || [];
    presets.replaceChildren(h("option", { value: "" }, list.length ? "Presets…" : "No presets"),
      ...list.map(([name, c, wd]) => h("option", { value: `${c},${wd}` }, `${name} (C ${c} / W ${wd})`)));
    presets.disabled = !list.length;
    w.onchange = show;
    show();
  }
  /** Keyboard steps: a hundredth of the data's range per press. @param {number} dCenter @param {number} dWidth */
  function nudge(dCenter, dWidth) {
    if (!w) return false;
    const step = Math.max(w.max - w.min, 1) / 100;
    w.set(w.center + dCenter * step, w.width + dWidth * step);
    return true;
  }
  /** The window keys: [ ] (or Shift+[ ], which the mask brush leaves free) width, ; ' centre.
   * Returns true if `key` was one (and a window is shown). @param {string} key */
  function key(key) {
    const step = /** @type {Record<string, [number, number]>} */ ({ "[": [0, -1], "]": [0, 1], "{": [0, -1], "}": [0, 1], ";": [-1, 0], "'": [1, 0] })[key];
    return !!step && nudge(...step);
  }
  /** Right-drag or Shift+drag on the image adjusts the window; returns true if it took the press. @param {PointerEvent} e */
  function drag(e) {
    const current = w;
    if (!current || !(e.button === 2 || (e.button === 0 && e.shiftKey))) return false;
    e.preventDefault(); e.stopPropagation();
    const target = /** @type {HTMLElement} */ (e.currentTarget);
    const start = { x: e.clientX, y: e.clientY, center: current.center, width: current.width };
    const perPixel = Math.max(current.max - current.min, 1) / Math.max(target.clientWidth || 500, 100);
    const move = (/** @type {PointerEvent} */ ev) => current.set(start.center + (ev.clientY - start.y) * perPixel, Math.max(perPixel, start.width + (ev.clientX - start.x) * perPixel));
    const up = () => { removeEventListener("pointermove", move); removeEventListener("pointerup", up); };
    addEventListener("pointermove", move);
    addEventListener("pointerup", up);
    return true;
  }
  return { panel, attach, nudge, key, drag, reset: () => (w ? (w.reset(), true) : false), get active() { return !!w; } };
}
