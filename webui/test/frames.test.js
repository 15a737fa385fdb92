// Frame navigation's pure parts: which keys move how far, staying within the frames, and the
// wheel turned into whole steps (a mouse notch is one frame; a touchpad's small deltas add up).
import { test } from "node:test";
import assert from "node:assert/strict";
import { frameKey, stepped, wheelSteps } from "../src/framestep.js";

test("keys: , . and PageUp/PageDown step one frame, Home/End go to the ends", () => {
  assert.equal(frameKey("."), 1);
  assert.equal(frameKey("PageDown"), 1);
  assert.equal(frameKey(","), -1);
  assert.equal(frameKey("PageUp"), -1);
  assert.equal(frameKey("Home"), -Infinity);
  assert.equal(frameKey("End"), Infinity);
  assert.equal(frameKey("ArrowRight"), null); // the review viewer's next item
  assert.equal(frameKey("["), null); // window width
});

test("steps stay within the frames", () => {
  assert.equal(stepped(0, -1, 5), 0);
  assert.equal(stepped(4, 1, 5), 4);
  assert.equal(stepped(2, 1, 5), 3);
  assert.equal(stepped(2, Infinity, 5), 4);
  assert.equal(stepped(2, -Infinity, 5), 0);
});

test("the wheel moves a frame per notch, and adds a touchpad's small deltas up", () => {
  const steps = wheelSteps();
  assert.equal(steps({ deltaY: 100 }), 1); // Chromium's notch on Windows: 100 px
  assert.equal(steps({ deltaY: 53 }), 1); // on Linux
  assert.equal(steps({ deltaY: -120 }), -1);
  assert.equal(steps({ deltaY: 3, deltaMode: 1 }), 1); // Firefox: three lines
  const pad = wheelSteps();
  const moved = [30, 30, 30, 30, -10].map((d) => pad({ deltaY: d }));
  assert.deepEqual(moved, [0, 0, 0, 1, 0]);
});
