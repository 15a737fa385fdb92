// The labeling state's transitions: keys on a grid, undo/redo, what counts as chosen.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chosenClasses, classify, commit, describe, emptyValue, newTask, problem, redo, settle, startValue, undo } from "../src/state.js";

const items = ["a", "b", "c"].map((id) => ({ id, path: `${id}.png`, kind: "image", state: "unlabeled" }));

test("a multi-class grid labels the selection, then selects what is left", () => {
  const task = newTask("image_multiclass", items, { grid: true });
  assert.equal(problem(task, "image_multiclass"), "Choose a label for every image first (keys 1–9).");
  task.selected = new Set(["a", "b"]);
  classify(task, "image_multiclass", "cat");
  assert.deepEqual([...task.selected], ["c"]);
  classify(task, "image_multiclass", "dog");
  assert.deepEqual(Object.values(task.values).map((v) => v.label), ["cat", "cat", "dog"]);
  assert.equal(problem(task, "image_multiclass"), null);
  undo(task);
  assert.equal(task.values.c.label, undefined);
  redo(task);
  assert.equal(task.values.c.label, "dog");
});

test("multi-label keys toggle, for every selected item at once", () => {
  const task = newTask("image_multilabel", items.slice(0, 2), { grid: true });
  classify(task, "image_multilabel", "people");
  classify(task, "image_multilabel", "indoor");
  assert.deepEqual(task.values.a.labels, ["people", "indoor"]);
  classify(task, "image_multilabel", "people"); // all have it: off for all
  assert.deepEqual(task.values.b.labels, ["indoor"]);
  assert.deepEqual([...chosenClasses(task.values.a)], ["indoor"]);
});

test("an answer starts from the labeler's own, a kept label, or a suggestion", () => {
  assert.deepEqual(startValue("text_ner", { mine: { spans: [1] }, prediction: { value: { spans: [2] } } }), { spans: [1] });
  assert.deepEqual(startValue("image_multiclass", { prefill: { label: "cat" } }), { label: "cat" });
  assert.deepEqual(startValue("image_polygon", {}), emptyValue("image_polygon"));
});

test("a drag is one undo step, and no step when nothing moved", () => {
  const task = newTask("image_bounding_box", items.slice(0, 1));
  commit(task, (v) => { v.a.boxes.push({ label: "car", x: 0, y: 0, w: 0.5, h: 0.5 }); });
  const before = JSON.parse(JSON.stringify(task.values));
  assert.equal(settle(task, before), false);
  task.values.a.boxes[0].x = 0.2;
  assert.equal(settle(task, before), true);
  assert.equal(task.history.length, 2);
  undo(task);
  assert.equal(task.values.a.boxes[0].x, 0);
  assert.equal(describe(task.values.a), "1 box(es): car");
  assert.deepEqual([...chosenClasses(task.values.a)], ["car"]);
});
