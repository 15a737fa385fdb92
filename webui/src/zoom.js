// Zoom and pan for one image (classification, boxes, polygons): the frame is widened by the
// zoom factor inside a scroller; the view keeps its centre across redraws and zoom steps.
import { h } from "./dom.js";

/**
 * Wraps `frame` in a scroller. `tool.zoom` is the factor and `tool.center` the fraction of the
 * frame at the view's centre (kept here). `pan`: "left" drags with the left button (views where
 * the left button does nothing else), "middle" with the middle button only. Right-drag and
 * Shift+drag go to `windowing` (DICOM window/level) when it is active.
 */
export function pannable(frame, tool, { zoom, pan, windowing }) {
  const scroller = h("div", { class: `scroller ${tool.zoom > 1 ? "zoomed" : ""}`, id: "scroller", dataset: { zoom: String(tool.zoom) },
    title: tool.zoom > 1 ? `Zoom ×${tool.zoom.toFixed(2)}: drag${pan === "left" ? "" : " with the middle button"} to pan, 0 resets` : "Ctrl+wheel or + to zoom" }, frame);
  scroller.addEventListener("wheel", (e) => {
    if (!e.ctrlKey) return;
    e.preventDefault();
    zoom(e.deltaY < 0 ? 1.25 : 0.8);
  }, { passive: false });
  scroller.addEventListener("scroll", () => {
    tool.center = [(scroller.scrollLeft + scroller.clientWidth / 2) / scroller.scrollWidth, (scroller.scrollTop + scroller.clientHeight / 2) / scroller.scrollHeight];
  });
  scroller.addEventListener("contextmenu", (e) => { if (windowing.active) e.preventDefault(); });
  scroller.addEventListener("pointerdown", (e) => {
    if (windowing.drag(e)) return;
    const panning = e.button === 1 || (pan === "left" && e.button === 0 && tool.zoom > 1);
    if (!panning) return;
    e.preventDefault();
    const start = { x: e.clientX, y: e.clientY, left: scroller.scrollLeft, top: scroller.scrollTop };
    scroller.classList.add("panning");
    const move = (ev) => { scroller.scrollLeft = start.left - (ev.clientX - start.x); scroller.scrollTop = start.top - (ev.clientY - start.y); };
    const up = () => { scroller.classList.remove("panning"); removeEventListener("pointermove", move); removeEventListener("pointerup", up); };
    addEventListener("pointermove", move);
    addEventListener("pointerup", up);
  }, { capture: true });
  // Once on screen, scroll back to the remembered centre (a redraw makes a new scroller).
  requestAnimationFrame(() => restore(scroller, tool));
  queueMicrotask(() => restore(scroller, tool));
  return scroller;
}

function restore(scroller, tool) {
  if (!scroller.isConnected || !tool.center || tool.zoom <= 1) return;
  const [cx, cy] = tool.center;
  scroller.scrollLeft = cx * scroller.scrollWidth - scroller.clientWidth / 2;
  scroller.scrollTop = cy * scroller.scrollHeight - scroller.clientHeight / 2;
}
