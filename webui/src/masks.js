// @ts-check
// Masks in the browser: COCO's compressed RLE (as the API stores them, see core/domain/masks.py)
// to and from a label map, one number a pixel (row-major, as a canvas holds pixels), and the
// fill that follows the image's edges: a flood fill over pixels whose colour is near the
// clicked one, run on the displayed image in the browser (instant, no model, no server).

/** @typedef {{label: string, size: [number, number], counts: string, slice?: number | null, attributes?: Record<string, boolean | number | string>}} Mask */
/** @typedef {{map: Uint16Array, labels: string[], width: number, height: number}} LabelMap map[y*width+x] = 0 (unpainted) or 1 + an index into labels */

/** COCO's compressed string of run lengths (pycocotools' rleToString). @param {number[]} counts */
export function encodeCounts(counts) {
  let out = "";
  for (let i = 0; i < counts.length; i++) {
    let x = counts[i] - (i > 2 ? counts[i - 2] : 0);
    let more = true;
    while (more) {
      let c = x & 0x1f;
      x = Math.floor(x / 32); // an arithmetic shift that stays exact past 32 bits
      more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      out += String.fromCharCode(c + 48);
    }
  }
  return out;
}

/** Run lengths from COCO's compressed string (pycocotools' rleFrString). @param {string} text */
export function decodeCounts(text) {
  /** @type {number[]} */
  const counts = [];
  let x = 0; let k = 0;
  for (let p = 0; p < text.length; p++) {
    const c = text.charCodeAt(p) - 48;
    x += (c & 0x1f) * 2 ** (5 * k);
    k++;
    if (c & 0x20) continue;
    if (c & 0x10) x -= 2 ** (5 * k);
    if (counts.length > 2) x += counts[counts.length - 2];
    counts.push(x);
    x = 0; k = 0;
  }
  return counts;
}

/** An empty label map. @param {number} width @param {number} height @returns {LabelMap} */
export const blankMap = (width, height) => ({ map: new Uint16Array(width * height), labels: [], width, height });

/** The masks of an answer painted into a label map (a later mask wins a shared pixel).
 * @param {Mask[]} masks @param {number} width @param {number} height @returns {LabelMap} */
export function toLabelMap(masks, width, height) {
  const out = blankMap(width, height);
  masks.forEach((mask, n) => {
    out.labels.push(mask.label);
    if (mask.size[0] !== height || mask.size[1] !== width) return;
    let at = 0;
    decodeCounts(mask.counts).forEach((count, i) => {
      if (i % 2) for (let j = at; j < at + count; j++) out.map[(j % height) * width + Math.floor(j / height)] = n + 1;
      at += count;
    });
  });
  return out;
}

/** A label map's masks, column-major runs like COCO's, in one pass; unpainted regions and
 * regions no pixel is left of are dropped. @param {LabelMap} lm @returns {Mask[]} */
export function fromLabelMap({ map, labels, width, height }) {
  const n = labels.length;
  const runs = Array.from({ length: n + 1 }, () => /** @type {number[]} */ ([]));
  const last = new Int32Array(n + 1).fill(-1); // where each region's open run ends
  let j = 0;
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++, j++) {
      const id = map[y * width + x];
      if (!id) continue;
      const r = runs[id];
      if (last[id] === j) { r[r.length - 1]++; } else { r.push(j, 1); }
      last[id] = j + 1;
    }
  }
  /** @type {Mask[]} */
  const masks = [];
  for (let id = 1; id <= n; id++) {
    const r = runs[id];
    if (!r.length) continue;
    /** @type {number[]} */
    const counts = [];
    let at = 0;
    for (let i = 0; i < r.length; i += 2) { counts.push(r[i] - at, r[i + 1]); at = r[i] + r[i + 1]; }
    if (at < width * height) counts.push(width * height - at);
    masks.push({ label: labels[id - 1], size: [height, width], counts: encodeCounts(counts) });
  }
  return masks;
}

/**
 * The pixels connected to (x, y) (4-neighbours) whose colour is within `tolerance` of its
 * colour on every channel: a region that stops at the image's edges.
 * @param {Uint8ClampedArray} rgba the image's pixels, row-major @param {number} width @param {number} height
 * @param {number} x @param {number} y @param {number} tolerance 0–255
 * @returns {Uint8Array} 1 where the region is
 */
export function floodRegion(rgba, width, height, x, y, tolerance) {
  const out = new Uint8Array(width * height);
  const seed = (y * width + x) * 4;
  const [r0, g0, b0] = [rgba[seed], rgba[seed + 1], rgba[seed + 2]];
  const stack = new Int32Array(width * height);
  let top = 0;
  /** Marks and stacks pixel q when it is new and near the seed's colour. @param {number} q */
  const visit = (q) => {
    if (out[q]) return;
    const o = q * 4;
    if (Math.abs(rgba[o] - r0) > tolerance || Math.abs(rgba[o + 1] - g0) > tolerance || Math.abs(rgba[o + 2] - b0) > tolerance) return;
    out[q] = 1;
    stack[top++] = q;
  };
  stack[top++] = y * width + x;
  out[y * width + x] = 1;
  while (top) {
    const p = stack[--top];
    const px = p % width;
    if (px > 0) visit(p - 1);
    if (px < width - 1) visit(p + 1);
    if (p >= width) visit(p - width);
    if (p + width < out.length) visit(p + width);
  }
  return out;
}

/** The pixels of a round brush of `size` (diameter) at (x, y), clipped to the map.
 * @param {number} width @param {number} height @param {number} x @param {number} y @param {number} size
 * @param {(index: number) => void} visit */
export function dab(width, height, x, y, size, visit) {
  const r = size / 2;
  const y0 = Math.max(0, Math.floor(y - r)); const y1 = Math.min(height - 1, Math.ceil(y + r));
  const x0 = Math.max(0, Math.floor(x - r)); const x1 = Math.min(width - 1, Math.ceil(x + r));
  for (let py = y0; py <= y1; py++) {
    for (let px = x0; px <= x1; px++) {
      const dx = px + 0.5 - x; const dy = py + 0.5 - y;
      if (dx * dx + dy * dy <= r * r) visit(py * width + px);
    }
  }
}

/** The masks sampled onto a small grid (a thumbnail): each cell the region (1 + mask index) of
 * the pixel under its centre, found by bisection in the runs, so a large mask costs little.
 * @param {Mask[]} masks @param {number} cols @param {number} rows @returns {Uint16Array} */
export function sampled(masks, cols, rows) {
  const out = new Uint16Array(cols * rows);
  masks.forEach((mask, n) => {
    const [height, width] = mask.size;
    /** @type {number[]} */
    const starts = []; /** @type {number[]} */ const ends = [];
    let at = 0;
    decodeCounts(mask.counts).forEach((count, i) => { if (i % 2 && count) { starts.push(at); ends.push(at + count); } at += count; });
    for (let ty = 0; ty < rows; ty++) {
      const y = Math.floor(((ty + 0.5) * height) / rows);
      for (let tx = 0; tx < cols; tx++) {
        const j = Math.floor(((tx + 0.5) * width) / cols) * height + y;
        let lo = 0; let hi = starts.length; // the last run starting at or before j
        while (lo < hi) { const mid = (lo + hi) >> 1; if (starts[mid] <= j) lo = mid + 1; else hi = mid; }
        if (lo && j < ends[lo - 1]) out[ty * cols + tx] = n + 1;
      }
    }
  });
  return out;
}

/** The pixels whose centres a polygon encloses (even-odd), as the server rasterizes polygons
 * (core/export/mask_pixels.py `fill_rings`). @param {[number, number][]} points in pixels
 * @param {number} width @param {number} height @param {(index: number) => void} visit */
export function fillPolygon(points, width, height, visit) {
  for (let row = 0; row < height; row++) {
    const y = row + 0.5;
    /** @type {number[]} */
    const xs = [];
    points.forEach(([x0, y0], i) => {
      const [x1, y1] = points[(i + 1) % points.length];
      if ((y0 <= y) !== (y1 <= y)) xs.push(x0 + ((y - y0) / (y1 - y0)) * (x1 - x0));
    });
    xs.sort((a, b) => a - b);
    for (let k = 0; k + 1 < xs.length; k += 2) {
      const start = Math.max(0, Math.ceil(xs[k] - 0.5)); const end = Math.min(width, Math.ceil(xs[k + 1] - 0.5));
      for (let col = start; col < end; col++) visit(row * width + col);
    }
  }
}
