// Attributes in the UI: the owner's text form, what the panel edits, keys, and what is sent.
import { test } from "node:test";
import assert from "node:assert/strict";
import { declaredFor, filterHints, formatAttributes, parseAttributes, pruned, setAttribute, stepped, targetOf } from "../src/attrs.js";
import { newTask, undo } from "../src/state.js";

const TEXT = "occluded: boolean\ncolor: one of red, blue\ndoors: number 2..5\nnote: text 100";
const CAR = { name: "car", attributes: parseAttributes(TEXT).attributes };
const CLASSES = [CAR, { name: "tree" }];

test("the text form reads into declarations and back", () => {
  const { attributes, error } = parseAttributes(TEXT);
  assert.equal(error, null);
  assert.deepEqual(attributes, [
    { name: "occluded", type: "boolean" },
    { name: "color", type: "one_of", options: ["red", "blue"] },
    { name: "doors", type: "number", min: 2, max: 5 },
    { name: "note", type: "text", maxLength: 100 },
  ]);
  assert.equal(formatAttributes(attributes), TEXT);
  assert.match(parseAttributes("colour red").error || "", /Row 1/);
  assert.deepEqual(parseAttributes("age: number ..9").attributes, [{ name: "age", type: "number", max: 9 }]);
});

test("the selected box's attributes are set as undoable steps, and only declared ones are sent", () => {
  const item = { id: "i", path: "a.jpg", kind: "image", state: "unlabeled" };
  const task = newTask("image_bounding_box", [/** @type {any} */ (item)], { values: { i: { boxes: [{ label: "car", x: 0, y: 0, w: 1, h: 1 }] } } });
  assert.equal(targetOf(task), null); // nothing selected
  task.tool.selected = 0;
  assert.deepEqual(targetOf(task), { labels: ["car"], attributes: {} });
  assert.ok(setAttribute(task, "occluded", true));
  assert.ok(setAttribute(task, "color", stepped(declaredFor(CLASSES, ["car"])[1], undefined)));
  assert.deepEqual(targetOf(task)?.attributes, { occluded: true, color: "red" });
  undo(task);
  assert.deepEqual(/** @type {any} */ (task.values.i).boxes[0].attributes, { occluded: true });
  /** @type {any} */ (task.values.i).boxes[0].label = "tree"; // relabeled: car's attributes no longer apply
  assert.deepEqual(pruned(task.values.i, CLASSES), { boxes: [{ label: "tree", x: 0, y: 0, w: 1, h: 1 }] });
});

test("a classification answer carries its chosen classes' attributes", () => {
  const item = { id: "i", path: "a.jpg", kind: "image", state: "unlabeled" };
  const task = newTask("image_multiclass", [/** @type {any} */ (item)]);
  assert.equal(targetOf(task), null); // no class chosen yet
  task.values.i = { label: "car" };
  setAttribute(task, "doors", 4);
  assert.deepEqual(task.values.i, { label: "car", attributes: { doors: 4 } });
  setAttribute(task, "doors", undefined);
  assert.deepEqual(task.values.i, { label: "car" });
});

test("keys step a one-of through its options and back to unset; hints list filter values", () => {
  const color = declaredFor(CLASSES, ["car"])[1];
  assert.deepEqual([undefined, "red", "blue"].map((v) => stepped(color, v)), ["red", "blue", undefined]);
  assert.equal(stepped({ name: "x", type: "boolean" }, true), false);
  assert.deepEqual(filterHints(CLASSES), ["occluded", "occluded=true", "occluded=false", "color", "color=red", "color=blue", "doors", "note"]);
});

test("a picked span is a target like a box", () => {
  const item = { id: "i", path: "t.txt", kind: "text", state: "unlabeled" };
  const task = newTask("text_ner", [/** @type {any} */ (item)], { values: { i: { spans: [{ label: "car", start: 0, end: 3 }] } } });
  task.tool.selected = 0;
  setAttribute(task, "note", "ok");
  assert.deepEqual(task.values.i, { spans: [{ label: "car", start: 0, end: 3, attributes: { note: "ok" } }] });
  assert.deepEqual(pruned(task.values.i, CLASSES), task.values.i);
});

test("answers that differ only in attributes read differently", async () => {
  const { describe } = await import("../src/state.js");
  assert.equal(describe({ boxes: [{ label: "car", x: 0, y: 0, w: 1, h: 1, attributes: { occluded: true, color: "red", parked: false } }] }),
    "1 box(es): car [occluded, color=red]");
  assert.equal(describe({ label: "sunny", attributes: { hazy: true } }), "sunny [hazy]");
  assert.equal(describe({ labels: ["a", "b"] }), "a, b");
});
