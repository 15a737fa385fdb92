// @ts-check
// Frame navigation's pure parts (frames.js): which keys move how far, the frames' bounds, and
// the wheel's travel turned into whole steps.

const NOTCH = 40; // wheel travel (px) of one event that is a mouse's notch: one frame
const GLIDE = 100; // a touchpad's small movements, added up, per frame

/** The frame step a key asks for, or null. @param {string} key */
export function frameKey(key) {
  return /** @type {Record<string, number>} */ ({ PageDown: 1, ".": 1, PageUp: -1, ",": -1, Home: -Infinity, End: Infinity })[key] ?? null;
}

/** Frame `at` moved by `step`, kept within `count` frames (±Infinity: the ends).
 * @param {number} at @param {number} step @param {number} count */
export function stepped(at, step, count) {
  return Math.min(count - 1, Math.max(0, at + step));
}

/** Wheel events turned into frame steps: a mouse's notch (whatever pixels the platform
 * makes of it) is one frame; a touchpad's small movements add up, a frame per `GLIDE` px. */
export function wheelSteps() {
  let travel = 0;
  /** @param {WheelEvent | {deltaY: number, deltaMode?: number}} e @returns {number} whole steps */
  return (e) => {
    const px = e.deltaMode === 1 ? e.deltaY * 40 : e.deltaMode === 2 ? e.deltaY * 800 : e.deltaY;
    if (Math.abs(px) >= NOTCH) { travel = 0; return Math.sign(px); }
    travel += px;
    const steps = Math.trunc(travel / GLIDE);
    travel -= steps * GLIDE;
    return steps;
  };
}
