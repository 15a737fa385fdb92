// DICOM window/level: the item's values (modality LUT applied, as the server stored them) are
// drawn on a canvas through a window (centre and width), redrawn as the window changes: the
// real thing, not brightness and contrast on an 8-bit picture.
import { h } from "./dom.js";

/** Presets by modality (centre, width), as radiology viewers offer them. */
const PRESETS = {
  CT: [["Brain", 40, 80], ["Subdural", 75, 215], ["Lung", -600, 1500], ["Mediastinum", 50, 350], ["Abdomen", 40, 400], ["Liver", 60, 160], ["Bone", 400, 1800]],
};

async function values(item) {
  const response = await fetch(item.dicom.pixelsUrl);
  if (!response.ok) throw new Error(`The DICOM values did not load (HTTP ${response.status}).`);
  const inflated = response.body.pipeThrough(new DecompressionStream("deflate"));
  const buffer = await new Response(inflated).arrayBuffer();
  const view = new DataView(buffer);
  const out = new Uint16Array(buffer.byteLength / 2);
  for (let i = 0; i < out.length; i++) out[i] = view.getUint16(2 * i, true); // little-endian on any CPU
  return out;
}

/** A canvas showing a greyscale DICOM item; `canvas.windowing` carries its state. */
export async function dicomCanvas(item) {
  const { offset, scale, invert } = item.dicom;
  const stored = await values(item);
  const canvas = h("canvas", { width: item.width, height: item.height, class: "photo dicom", dataset: { itemId: item.id } });
  const context = canvas.getContext("2d");
  const image = context.createImageData(item.width, item.height);
  const pixels = new Uint32Array(image.data.buffer);
  let top = 0;
  for (let i = 0; i < stored.length; i++) if (stored[i] > top) top = stored[i];
  const min = offset; const max = top * scale + offset;
  const fileCenter = item.dicom.windowCenter ?? (min + max) / 2;
  const fileWidth = item.dicom.windowWidth ?? Math.max(max - min, 1);
  const lut = new Uint32Array(top + 1);
  const w = { center: fileCenter, width: fileWidth, min, max, fileCenter, fileWidth, modality: item.dicom.modality };
  let queued = false;
  w.draw = () => {
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
  };
  w.set = (center, width) => {
    const tidy = (v) => Math.round(v * 1000) / 1000; // no 703.9999999 in the readout
    w.center = tidy(center); w.width = Math.max(0.001, tidy(width));
    if (!queued) { queued = true; requestAnimationFrame(() => { queued = false; w.draw(); w.onchange?.(); }); }
  };
  w.reset = () => w.set(fileCenter, fileWidth);
  w.draw();
  canvas.windowing = w;
  return canvas;
}

const round = (v) => (Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 100) / 100);

/** The side panel's window/level control: sliders, readout, presets, reset; `attach(canvas)`
 * points it at the canvas on screen (or null to hide it). */
export function windowControls() {
  let w = null;
  const center = h("input", { type: "range", id: "dicom-center", step: "any", oninput: () => w && w.set(Number(center.value), w.width) });
  const width = h("input", { type: "range", id: "dicom-width", step: "any", oninput: () => w && w.set(w.center, Number(width.value)) });
  const readout = h("output", { id: "dicom-readout" });
  const presets = h("select", { id: "dicom-preset", onchange: () => {
    const [c, wd] = presets.value.split(",").map(Number);
    if (w && presets.value) w.set(c, wd);
    presets.value = "";
  } });
  const reset = h("button", { id: "dicom-reset", type: "button", onclick: () => w && w.reset() }, "Reset to the file's window");
  const panel = h("div", { id: "window-level", class: "window-level", hidden: true },
    h("strong", {}, "Window / level"), readout,
    h("label", {}, "Centre (level) ", center), h("label", {}, "Width (window) ", width),
    h("div", { class: "bar" }, presets, reset),
    h("p", { class: "note" }, "Right-drag or Shift+drag on the image: ↔ width, ↕ centre. Keys [ ] width, , . centre."));
  function show() {
    if (!w) return;
    readout.textContent = `C ${round(w.center)} / W ${round(w.width)}`;
    center.value = String(w.center); width.value = String(w.width);
    panel.dataset.center = String(w.center); panel.dataset.width = String(w.width);
  }
  function attach(canvas) {
    if (w) w.onchange = null;
    w = canvas?.windowing || null;
    panel.hidden = !w;
    if (!w) return;
    const span = Math.max(w.max - w.min, 1);
    center.min = String(w.min - span / 2); center.max = String(w.max + span / 2);
    width.min = String(span / 1000); width.max = String(span * 2);
    const list = PRESETS[w.modality] || [];
    presets.replaceChildren(h("option", { value: "" }, list.length ? "Presets…" : "No presets"),
      ...list.map(([name, c, wd]) => h("option", { value: `${c},${wd}` }, `${name} (C ${c} / W ${wd})`)));
    presets.disabled = !list.length;
    w.onchange = show;
    show();
  }
  /** Keyboard steps: a hundredth of the data's range per press. */
  function nudge(dCenter, dWidth) {
    if (!w) return false;
    const step = Math.max(w.max - w.min, 1) / 100;
    w.set(w.center + dCenter * step, w.width + dWidth * step);
    return true;
  }
  /** Right-drag or Shift+drag on the image adjusts the window; returns true if it took the press. */
  function drag(e) {
    if (!w || !(e.button === 2 || (e.button === 0 && e.shiftKey))) return false;
    e.preventDefault(); e.stopPropagation();
    const target = e.currentTarget;
    const start = { x: e.clientX, y: e.clientY, center: w.center, width: w.width };
    const perPixel = Math.max(w.max - w.min, 1) / Math.max(target.clientWidth || 500, 100);
    const move = (ev) => w.set(start.center + (ev.clientY - start.y) * perPixel, Math.max(perPixel, start.width + (ev.clientX - start.x) * perPixel));
    const up = () => { removeEventListener("pointermove", move); removeEventListener("pointerup", up); };
    addEventListener("pointermove", move);
    addEventListener("pointerup", up);
    return true;
  }
  return { panel, attach, nudge, drag, reset: () => (w ? (w.reset(), true) : false), get active() { return !!w; } };
}
