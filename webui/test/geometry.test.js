// Geometry of the shape and span tools: what a drag, a resize, a move or a selection makes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { boxFrom, fixedCorner, fraction, moveBox, movePolygon, near, overlaps, pieces, pinchZoom, resizeBox, tooSmall, trimSpan } from "../src/geometry.js";

const rect = { left: 100, top: 50, width: 400, height: 200 };

test("a pointer is a fraction of the image, clamped inside it", () => {
  assert.deepEqual(fraction({ clientX: 300, clientY: 100 }, rect), [0.5, 0.25]);
  assert.deepEqual(fraction({ clientX: 0, clientY: 999 }, rect), [0, 1]);
});

test("a drag makes the same box in any direction", () => {
  assert.deepEqual(boxFrom("car", [0.25, 0.5], [0.75, 1]), { label: "car", x: 0.25, y: 0.5, w: 0.5, h: 0.5 });
  const back = boxFrom("car", [0.4, 0.6], [0.1, 0.2]);
  assert.ok(Math.abs(back.w - 0.3) < 1e-9 && back.x === 0.1);
});

test("a moved box stays inside the image; a resize keeps the opposite corner", () => {
  const box = { label: "car", x: 0.1, y: 0.1, w: 0.5, h: 0.5 };
  assert.deepEqual(moveBox(box, [0.9, 0.9], [0.1, 0.1]), { ...box, x: 0.5, y: 0.5 });
  assert.deepEqual(fixedCorner(box, 3), [0.1, 0.1]); // dragging bottom-right keeps top-left
  assert.deepEqual(fixedCorner(box, 0), [0.6, 0.6]);
  const resized = resizeBox(box, [0.1, 0.1], [0.3, 0.2]);
  assert.ok(Math.abs(resized.w - 0.2) < 1e-9 && Math.abs(resized.h - 0.1) < 1e-9);
  assert.ok(tooSmall(rect, { ...box, w: 0.005 }));
  assert.ok(!tooSmall(rect, box));
});

test("a polygon moves whole and never past the image's edge", () => {
  const polygon = { label: "lake", points: [[0.1, 0.1], [0.5, 0.1], [0.3, 0.4]] };
  const moved = movePolygon(polygon, 0.9, -0.5);
  assert.deepEqual(moved.points.map((p) => p.map((v) => Math.round(v * 100) / 100)), [[0.6, 0], [1, 0], [0.8, 0.3]]);
  assert.ok(near([0.1, 0.1], [0.11, 0.11], rect));
  assert.ok(!near([0.1, 0.1], [0.2, 0.2], rect));
});

test("a text selection is trimmed of whitespace; spans never overlap; pieces cut at their edges", () => {
  const text = "  Ada Lovelace met Babbage ";
  assert.deepEqual(trimSpan(text, 0, 14), { start: 2, end: 14 });
  assert.equal(trimSpan(text, 0, 2), null);
  const spans = [{ label: "PER", start: 19, end: 26 }, { label: "PER", start: 2, end: 14 }];
  assert.ok(overlaps(spans, 10, 20));
  assert.ok(!overlaps(spans, 14, 19));
  const cut = pieces(text, spans);
  assert.deepEqual(cut.map((p) => p.text), ["  ", "Ada Lovelace", " met ", "Babbage", " "]);
  assert.equal(cut[1].index, 1);
});

test("a pinch scales the zoom by the fingers' spread, within bounds", () => {
  assert.equal(pinchZoom(1, 100, 200), 2);
  assert.equal(pinchZoom(2, 100, 10), 1);
  assert.equal(pinchZoom(4, 100, 1000), 8);
  assert.equal(pinchZoom(3, 0, 50), 3);
});
