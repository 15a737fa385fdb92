import { test } from "node:test";
import assert from "node:assert/strict";
import { KEPT, savedWindow, saveWindow } from "../src/windows.js";

function memoryStore() {
  const kept = new Map();
  return { getItem: (k) => kept.get(k) ?? null, setItem: (k, v) => kept.set(k, String(v)) };
}

test("a window is remembered per item and forgotten on reset", () => {
  const store = memoryStore();
  assert.equal(savedWindow(store, "series-1"), null);
  saveWindow(store, "series-1", [40, 400]);
  saveWindow(store, "other", [-600, 1500]);
  assert.deepEqual(savedWindow(store, "series-1"), [40, 400]);
  saveWindow(store, "series-1", null);
  assert.equal(savedWindow(store, "series-1"), null);
  assert.deepEqual(savedWindow(store, "other"), [-600, 1500]);
});

test("only the most recent items are kept, and damage or no storage is no error", () => {
  const store = memoryStore();
  for (let i = 0; i <= KEPT; i++) saveWindow(store, `item-${i}`, [i, 10]);
  assert.equal(savedWindow(store, "item-0"), null);
  assert.deepEqual(savedWindow(store, `item-${KEPT}`), [KEPT, 10]);
  store.setItem("loupe.windows", "{not json");
  assert.equal(savedWindow(store, "item-1"), null);
  saveWindow(null, "x", [1, 2]);
  assert.equal(savedWindow(null, "x"), null);
  store.setItem("loupe.windows", JSON.stringify({ bad: [1, -5] }));
  assert.equal(savedWindow(store, "bad"), null);
});
