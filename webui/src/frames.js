// @ts-check
// Frames of a multi-frame DICOM item, for the labeling screen and the review viewer alike: a
// bar with previous/next, a slider and "n / N", driven also by the mouse wheel over the image,
// PageUp/PageDown, , and . (Home/End: first/last). The picture on screen stays the same
// element (the shapes drawn over it and the zoom stay put): a greyscale canvas is given the
// frame's values and keeps its window; a colour picture shows the frame's display image.
// Frames load as asked, newest wins, and the next ones in the direction of travel are fetched
// ahead; a few dozen stay in memory. Shapes drawn on a slice belong to it: `onframe` tells the
// editor which slice is on screen, and `mark` ticks the slices that have shapes on the slider.
import { frameValues } from "./dicom.js";
import { h, showError } from "./dom.js";
import { frameKey, stepped, wheelSteps } from "./framestep.js";

/** @typedef {import("./dicom.js").Values} Values */
/** @typedef {{frames?: number, framesUrl?: string | null, url?: string | null, path?: string}} FramedItem */
/** @typedef {ReturnType<typeof frameNavigator>} Frames */

const KEPT = 48; // frames held in memory per item
const AHEAD = 3; // frames fetched ahead in the direction of travel
/**
 * Navigation for `item`'s frames on `picture` (null for an item of one frame).
 * @param {{item: FramedItem, picture: HTMLImageElement | HTMLCanvasElement, onframe?: (n: number) => void}} options
 */
export function frameNavigator({ item, picture, onframe }) {
  const count = item.frames || 1;
  const base = item.framesUrl;
  if (count < 2 || !base) return null;
  const windowing = /** @type {Partial<import("./dicom.js").DicomCanvas>} */ (picture).windowing || null;
  const img = picture instanceof HTMLImageElement ? picture : null;
  if (!windowing && !img) return null;
  /** @type {Map<number, Promise<Values | HTMLImageElement>>} */
  const kept = new Map();
  let wanted = Number(picture.dataset.frame || 0); // a picture shown before keeps its frame
  let direction = 1;
  const wheel = wheelSteps();

  if (windowing?.values) kept.set(wanted, Promise.resolve(windowing.values));
  const slider = /** @type {HTMLInputElement} */ (h("input", { type: "range", id: "frame-slider", min: 1, max: count, step: 1, value: wanted + 1,
    "aria-label": "Frame", oninput: () => go(Number(slider.value) - 1) }));
  const readout = h("output", { id: "frame-readout", "aria-live": "polite" });
  const ticks = h("span", { class: "frame-marks", id: "frame-marks", "aria-hidden": "true" });
  /** @type {Set<number>} */
  let marked = new Set();
  const node = h("div", { class: "frames bar", id: "frames", dataset: { count: String(count) } },
    h("button", { type: "button", id: "frame-prev", title: "Previous frame (, or PageUp)", onclick: () => step(-1) }, "‹"),
    h("label", { class: "frame-label" }, "Frame ", h("span", { class: "frame-track" }, slider, ticks)), readout,
    h("button", { type: "button", id: "frame-next", title: "Next frame (. or PageDown)", onclick: () => step(1) }, "›"),
    h("span", { class: "note" }, "Wheel, PgUp/PgDn or , . to move through the frames"));

  /** @param {number} n */
  function url(n) {
    if (windowing) return `${base}/${n}/pixels`;
    return n === 0 && item.url ? item.url : `${base}/${n}/display`;
  }

  /** Frame `n`, fetched once (and decoded, for a picture). @param {number} n */
  function load(n) {
    let found = kept.get(n);
    if (found) { kept.delete(n); kept.set(n, found); return found; } // the most recent last
    if (windowing) found = frameValues(url(n));
    else {
      const next = new Image();
      next.src = url(n);
      found = next.decode().then(() => next);
    }
    found.catch(() => kept.delete(n)); // tried again when asked again
    kept.set(n, found);
    for (const old of kept.keys()) { if (kept.size <= KEPT) break; if (old !== wanted) kept.delete(old); }
    return found;
  }

  /** Shows frame `n` (when it is still the one wanted once it has arrived). @param {number} n */
  function go(n) {
    n = stepped(n, 0, count);
    if (n !== wanted) direction = n > wanted ? 1 : -1;
    const moved = n !== wanted;
    wanted = n;
    label();
    if (moved) onframe?.(n);
    load(n).then((frame) => {
      if (wanted !== n) return;
      if (windowing && !(frame instanceof HTMLImageElement)) windowing.show?.(frame);
      else if (img && frame instanceof HTMLImageElement) img.src = frame.src; // decoded already: shown at once
      picture.dataset.frame = String(n);
      node.dataset.shown = String(n);
    }, (e) => { if (wanted === n) showError(e); });
    for (let k = 1; k <= AHEAD; k++) { const m = n + direction * k; if (m >= 0 && m < count) load(m).catch(() => {}); }
  }

  function label() {
    slider.value = String(wanted + 1);
    readout.textContent = `${wanted + 1} / ${count}${marked.has(wanted) ? " ●" : ""}`;
    readout.title = marked.has(wanted) ? "This slice has shapes" : "";
    node.dataset.frame = String(wanted);
  }

  /** Ticks the slices that have shapes under the slider. @param {Iterable<number>} slices */
  function mark(slices) {
    marked = new Set(slices);
    const sig = [...marked].sort((a, b) => a - b).join(",");
    if (ticks.dataset.slices !== sig) {
      ticks.dataset.slices = sig;
      ticks.replaceChildren(...[...marked].filter((n) => n >= 0 && n < count).map((n) =>
        h("i", { class: "frame-mark", style: `left: ${(n / Math.max(count - 1, 1)) * 100}%`, dataset: { slice: String(n) } })));
    }
    label();
  }

  /** @param {number} by */
  function step(by) { go(stepped(wanted, by, count)); }

  node.dataset.shown = String(wanted);
  label();
  return {
    node,
    count,
    get frame() { return wanted; },
    step,
    go,
    mark,
    /** The wheel over the image: true if it moved (or was about to move) the frames. @param {WheelEvent} e */
    wheel(e) {
      if (e.ctrlKey) return false; // Ctrl+wheel zooms
      e.preventDefault();
      const by = wheel(e);
      if (by) step(by);
      return true;
    },
    /** A key: true if it moved the frames. @param {KeyboardEvent} e */
    key(e) {
      const by = frameKey(e.key);
      if (by === null) return false;
      e.preventDefault();
      step(by);
      return true;
    },
  };
}
