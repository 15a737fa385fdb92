// @ts-check
// Zoom and pan for one image (classification, boxes, polygons): the frame is widened by the
// zoom factor inside a scroller that is made once per item; zooming changes its width and
// keeps the view's centre. Ctrl+wheel, + / - / 0, and two-finger pinch on touch screens.
import { h } from "./dom.js";
import { pinchZoom } from "./geometry.js";

/** @typedef {import("./state.js").Tool} Tool */
/** @typedef {{active: boolean, drag: (e: PointerEvent) => boolean}} Windowing */

/**
 * `frame` (an image with whatever is drawn over it) in a scroller. At zoom 1 the whole image
 * fits `vh` of the screen's height. `pan`: "left" drags with the left button (where the left
 * button does nothing else), "middle" with the middle button only (the shape tools). Right-drag
 * and Shift+drag go to `windowing` (DICOM window/level) when it is active.
 * @param {HTMLElement} frame
 * @param {{width?: number | null, height?: number | null}} item
 * @param {Tool} tool
 * @param {{pan: "left" | "middle", vh: number, windowing?: Windowing}} options
 */
export function zoomable(frame, item, tool, { pan, vh, windowing }) {
  const W = item.width || 1000; const H = item.height || 1000;
  // Where one finger draws, the page must not scroll or zoom under it: pinch is ours.
  const scroller = h("div", { class: `scroller ${pan === "middle" ? "touch-own" : ""}`, id: "scroller" }, frame);
  function apply() {
    frame.style.width = `calc(min(100%, ${((vh * W) / H).toFixed(3)}vh) * ${tool.zoom})`;
    scroller.classList.toggle("zoomed", tool.zoom > 1);
    scroller.dataset.zoom = String(tool.zoom);
    scroller.title = tool.zoom > 1 ? `Zoom ×${tool.zoom.toFixed(2)}: drag${pan === "left" ? "" : " with the middle button"} (or two fingers) to pan, 0 resets` : "Ctrl+wheel, + or a pinch to zoom";
    restore(); // reading the scroll size lays the new width out at once
    requestAnimationFrame(restore); // and once more when first on screen
  }
  function restore() {
    if (!scroller.isConnected || !tool.center || tool.zoom <= 1) return;
    const [cx, cy] = tool.center;
    scroller.scrollLeft = cx * scroller.scrollWidth - scroller.clientWidth / 2;
    scroller.scrollTop = cy * scroller.scrollHeight - scroller.clientHeight / 2;
  }
  /** @param {number} factor 0 resets */
  function zoom(factor) {
    tool.zoom = factor === 0 ? 1 : Math.min(8, Math.max(1, tool.zoom * factor));
    setZoom(tool.zoom);
  }
  /** @param {number} value */
  function setZoom(value) {
    tool.zoom = value;
    tool.center = tool.zoom === 1 ? null : tool.center || [0.5, 0.5];
    apply();
  }
  scroller.addEventListener("wheel", (e) => {
    if (!e.ctrlKey) return;
    e.preventDefault();
    zoom(e.deltaY < 0 ? 1.25 : 0.8);
  }, { passive: false });
  scroller.addEventListener("scroll", () => {
    if (tool.zoom > 1) tool.center = [(scroller.scrollLeft + scroller.clientWidth / 2) / scroller.scrollWidth, (scroller.scrollTop + scroller.clientHeight / 2) / scroller.scrollHeight];
  });
  scroller.addEventListener("contextmenu", (e) => { if (windowing?.active) e.preventDefault(); });
  // Two fingers pinch to zoom and pan together; one finger is the tools' (it draws).
  /** @type {Map<number, {x: number, y: number}>} */
  const touches = new Map();
  /** @type {{distance: number, zoom: number, x: number, y: number, left: number, top: number} | null} */
  let pinch = null;
  const spread = () => { const [a, b] = [...touches.values()]; return Math.hypot(a.x - b.x, a.y - b.y); };
  const middle = () => { const [a, b] = [...touches.values()]; return { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 }; };
  scroller.addEventListener("pointerdown", (e) => {
    if (e.pointerType === "touch") {
      touches.set(e.pointerId, { x: e.clientX, y: e.clientY });
      if (touches.size === 2) {
        e.preventDefault(); e.stopPropagation();
        const m = middle();
        pinch = { distance: spread(), zoom: tool.zoom, x: m.x, y: m.y, left: scroller.scrollLeft, top: scroller.scrollTop };
        frame.dispatchEvent(new CustomEvent("pinchstart"));
      }
      return;
    }
    if (windowing?.drag(e)) return;
    const panning = e.button === 1 || (pan === "left" && e.button === 0 && tool.zoom > 1);
    if (!panning) return;
    e.preventDefault();
    const start = { x: e.clientX, y: e.clientY, left: scroller.scrollLeft, top: scroller.scrollTop };
    scroller.classList.add("panning");
    const move = (/** @type {PointerEvent} */ ev) => { scroller.scrollLeft = start.left - (ev.clientX - start.x); scroller.scrollTop = start.top - (ev.clientY - start.y); };
    const up = () => { scroller.classList.remove("panning"); removeEventListener("pointermove", move); removeEventListener("pointerup", up); };
    addEventListener("pointermove", move);
    addEventListener("pointerup", up);
  }, { capture: true });
  const moved = (/** @type {PointerEvent} */ e) => {
    if (!touches.has(e.pointerId)) return;
    touches.set(e.pointerId, { x: e.clientX, y: e.clientY });
    if (!pinch || touches.size < 2) return;
    e.preventDefault(); e.stopPropagation();
    const next = pinchZoom(pinch.zoom, pinch.distance, spread());
    if (Math.abs(next - tool.zoom) > 0.01) setZoom(next);
    const m = middle();
    scroller.scrollLeft = pinch.left - (m.x - pinch.x) * 1; scroller.scrollTop = pinch.top - (m.y - pinch.y) * 1;
  };
  const lifted = (/** @type {PointerEvent} */ e) => { touches.delete(e.pointerId); if (touches.size < 2) pinch = null; };
  scroller.addEventListener("pointermove", moved, { capture: true });
  scroller.addEventListener("pointerup", lifted, { capture: true });
  scroller.addEventListener("pointercancel", lifted, { capture: true });
  apply();
  return { scroller, zoom, setZoom, get pinching() { return pinch !== null; } };
}
