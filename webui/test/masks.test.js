// Masks in the browser: COCO's compressed RLE as pycocotools writes it, label maps both ways,
// and the edge-following fill.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeCounts, encodeCounts, fillPolygon, floodRegion, fromLabelMap, toLabelMap } from "../src/masks.js";

test("counts compress as pycocotools does, large runs and negative deltas too", () => {
  assert.equal(encodeCounts([0, 3, 1]), "031"); // pycocotools on [[1, 1], [1, 0]]
  assert.equal(encodeCounts([0, 2, 1, 1]), "021O"); // deltas go negative
  for (const counts of [[6], [0, 5, 100000, 3, 7, 2000000, 1], [3, 1, 1, 40, 2, 0]]) {
    assert.deepEqual(decodeCounts(encodeCounts(counts)), counts);
  }
});

test("a label map's masks are column-major runs and paint back the same pixels", () => {
  const width = 5; const height = 3;
  const lm = toLabelMap([], width, height);
  lm.labels.push("car", "road");
  lm.map.set([1, 1, 0, 0, 2, 1, 1, 0, 0, 2, 0, 0, 0, 2, 2]);
  const masks = fromLabelMap(lm);
  assert.deepEqual(masks.map((m) => [m.label, m.size]), [["car", [3, 5]], ["road", [3, 5]]]);
  assert.deepEqual(decodeCounts(masks[0].counts), [0, 2, 1, 2, 10]); // (0,0),(0,1) then (1,0),(1,1)
  const back = toLabelMap(masks, width, height);
  assert.deepEqual([...back.map], [...lm.map]);
});

test("the fill stops where the colour changes", () => {
  const width = 4; const height = 2;
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let p = 0; p < width * height; p++) rgba.set(p % width < 2 ? [10, 10, 10, 255] : [200, 30, 30, 255], p * 4);
  rgba.set([20, 15, 12, 255], 4); // a little noise inside the dark half
  assert.deepEqual([...floodRegion(rgba, width, height, 0, 0, 16)], [1, 1, 0, 0, 1, 1, 0, 0]);
  assert.deepEqual([...floodRegion(rgba, width, height, 0, 0, 4)], [1, 0, 0, 0, 1, 1, 0, 0]);
});

test("a polygon takes the pixels whose centres it encloses", () => {
  /** @type {number[]} */
  const inside = [];
  fillPolygon([[2, 2], [6, 2], [6, 6], [2, 6]], 8, 8, (p) => inside.push(p));
  assert.deepEqual(inside, [2, 3, 4, 5].flatMap((row) => [2, 3, 4, 5].map((col) => row * 8 + col)));
});
