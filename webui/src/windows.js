// @ts-check
// The window/level a labeler set on a DICOM item (a series, a multi-frame file, one image),
// remembered in the browser per item: moving through its slices keeps it (the canvas keeps
// it), and coming back to the item, the next day or from the review viewer, shows it through
// the same window. Setting the file's own window again (R, or the reset button) forgets it.
// The most recent `KEPT` items are remembered; a browser without storage remembers nothing.

const KEY = "loupe.windows";
export const KEPT = 200;

/** @typedef {Pick<Storage, "getItem" | "setItem">} Store */

/** The browser's storage, or null where there is none (or it is refused). @returns {Store | null} */
export function browserStore() {
  try { return globalThis.localStorage ?? null; } catch { return null; }
}

/** @param {Store | null} store @returns {Record<string, [number, number]>} item id → [centre, width], oldest first */
function read(store) {
  try {
    const found = JSON.parse(store?.getItem(KEY) || "{}");
    return found && typeof found === "object" && !Array.isArray(found) ? found : {};
  } catch { return {}; }
}

/** The window remembered for item `id`, or null. @param {Store | null} store @param {string} id @returns {[number, number] | null} */
export function savedWindow(store, id) {
  const found = read(store)[id];
  return Array.isArray(found) && found.length === 2 && found.every(Number.isFinite) && found[1] > 0 ? [found[0], found[1]] : null;
}

/** Remembers item `id`'s window (the newest last, the oldest dropped past `KEPT`); null forgets it.
 * @param {Store | null} store @param {string} id @param {[number, number] | null} window */
export function saveWindow(store, id, window) {
  if (!store) return;
  const all = read(store);
  delete all[id];
  if (window) all[id] = window;
  const ids = Object.keys(all);
  for (const old of ids.slice(0, Math.max(0, ids.length - KEPT))) delete all[old];
  try { store.setItem(KEY, JSON.stringify(all)); } catch { /* full or refused: the window is simply not kept */ }
}
