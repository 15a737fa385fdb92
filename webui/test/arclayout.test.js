// Where relation arcs go over a text: stacked where they overlap on a line, split across lines.
import { test } from "node:test";
import assert from "node:assert/strict";
import { STEP, arcLayout, arcPath } from "../src/arclayout.js";

const directed = (/** @type {string} */ label) => label !== "met";
/** Spans at x (centre) on a line whose top is `top`. */
const at = (/** @type {[number, number, number][]} */ rows) => new Map(rows.map(([start, x, top]) => [start, { x, top }]));

test("a short arc under a long one on the same line stacks below it; disjoint ones share the lowest level", () => {
  const anchors = at([[0, 10, 0], [5, 50, 0], [9, 90, 0], [20, 200, 0], [30, 260, 0]]);
  const relations = [{ label: "r", from: 0, to: 9 }, { label: "r", from: 0, to: 5 }, { label: "r", from: 20, to: 30 }];
  const { segments, gap } = arcLayout(relations, anchors, 300, directed);
  assert.deepEqual(segments.map((g) => [g.relation, g.level]), [[0, 2], [1, 1], [2, 1]]);
  assert.ok(gap > 2 * STEP, "the lines leave room for the highest arc");
});

test("an arc goes from its from span to its to span, with an arrow only when its class is directed", () => {
  const anchors = at([[0, 10, 0], [5, 50, 0]]);
  const [back] = arcLayout([{ label: "r", from: 5, to: 0 }], anchors, 300, directed).segments;
  assert.equal(back.a, 50);
  assert.equal(back.b, 10);
  assert.equal(back.arrow, true);
  assert.equal(arcLayout([{ label: "met", from: 0, to: 5 }], anchors, 300, directed).segments[0].arrow, false);
  assert.match(arcPath(back), /^M50 0V/); // rises from the from span…
  assert.match(arcPath(back), /V0$/); // …and lands on the to span
});

test("spans on two lines: the arc runs off the first line's right edge and in from the next line's left", () => {
  const anchors = at([[0, 250, 0], [40, 30, 40]]);
  const { segments } = arcLayout([{ label: "r", from: 40, to: 0 }], anchors, 300, directed);
  assert.deepEqual(segments.map((g) => ({ a: g.a, b: g.b, y: g.y, open: g.open, named: g.named, arrow: g.arrow })), [
    { a: 30, b: 0, y: 40, open: "b", named: true, arrow: false },
    { a: 300, b: 250, y: 0, open: "a", named: false, arrow: true },
  ]);
  assert.match(arcPath(segments[0]), /H0$/); // the open end stays up at the edge
});

test("no relations, or ends without a span, need no room", () => {
  assert.deepEqual(arcLayout([], at([[0, 1, 0]]), 100, directed), { segments: [], gap: 0 });
  assert.equal(arcLayout([{ label: "r", from: 0, to: 7 }], at([[0, 1, 0]]), 100, directed).segments.length, 0);
});
