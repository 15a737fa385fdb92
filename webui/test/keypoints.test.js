// Keypoints as data: the wizard's template text, and placing an instance's points in order.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ABSENT, VISIBLE, drawnEdges, newInstance, nextUnplaced, nothingPlaced, parseClassLine, parseTemplate, place, startPlace } from "../src/keypoints.js";
import { describe, emptyValue, newTask, problem } from "../src/state.js";

test("a template is point names, then the skeleton's edges as 0-based pairs", () => {
  assert.deepEqual(parseTemplate(" nose, left_eye ,right_eye | 0-1, 0 - 2"), { points: ["nose", "left_eye", "right_eye"], edges: [[0, 1], [0, 2]] });
  assert.deepEqual(parseTemplate("wrist, thumb"), { points: ["wrist", "thumb"], edges: [] });
  assert.throws(() => parseTemplate("a, b | 0-x"), /edge “0-x” is not two point numbers/);
  assert.throws(() => parseTemplate(" | 0-1"), /names no points/);
});

test("a wizard line carries a key and, for keypoints, a template", () => {
  assert.deepEqual(parseClassLine("Cat = c", false), { name: "Cat", key: "c" });
  assert.deepEqual(parseClassLine("face = f: nose, eye | 0-1", true), { name: "face", key: "f", keypoints: { points: ["nose", "eye"], edges: [[0, 1]] } });
  assert.throws(() => parseClassLine("face", true), /has no point template/);
});

test("points are placed in order, absent ones skipped, and bones join placed points only", () => {
  const template = { points: ["nose", "left_eye", "right_eye"], edges: /** @type {[number, number][]} */ ([[0, 1], [0, 2]]) };
  const face = newInstance("face", template);
  assert.ok(nothingPlaced(face));
  place(face, 0, 0.5, 0.5, VISIBLE);
  assert.equal(nextUnplaced(face, 1), 1);
  assert.deepEqual(startPlace(face, 1), [0.55, 0.5]);
  place(face, 2, 1.2, 0.4, VISIBLE); // clamped into the image
  assert.deepEqual(face.points[2], { x: 1, y: 0.4, v: VISIBLE });
  assert.deepEqual(drawnEdges(face, template), [[0, 2]]);
  place(face, 2, 0.3, 0.3, ABSENT);
  assert.deepEqual(face.points[2], { x: 0, y: 0, v: ABSENT });
});

test("an instance with no point placed cannot be submitted", () => {
  const items = [{ id: "a", path: "a.png", kind: "image", state: "unlabeled" }];
  const task = newTask("image_keypoints", /** @type {any} */ (items));
  assert.deepEqual(emptyValue("image_keypoints"), { keypoints: [] });
  assert.equal(problem(task, "image_keypoints"), null);
  /** @type {any} */ (task.values.a).keypoints.push(newInstance("face", { points: ["nose"], edges: [] }));
  assert.match(problem(task, "image_keypoints") || "", /A face has no point placed/);
  assert.equal(describe(task.values.a), "1 instance(s): face");
});
