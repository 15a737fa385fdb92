// @ts-check
// Where the arcs of a text's relations go (pure, tested without a browser; editor/arcs.js draws
// them): each arc on the line of its spans, stacked where arcs overlap on a line (the narrowest
// lowest, so a short arc stays under the long one over it); one between spans on different
// lines runs off the right edge of the first line and comes in from the left edge of the other.

/** @typedef {{label: string, from: number, to: number}} Relation */
/** @typedef {{x: number, top: number}} Anchor where an arc meets a span: its centre and its top */
/** @typedef {{relation: number, a: number, b: number, y: number, level: number, open: "a" | "b" | null, named: boolean, arrow: boolean}} Segment
 * one arc on one line, drawn from x `a` to x `b` (the relation's from side towards its to side);
 * `open`: the end that runs off the line's edge; `named`: the class's name goes on it; `arrow`: it lands on the to span */

export const STEP = 11; // px between stacked arcs
const ROOM = 9; // px above the highest arc: half a label, and a margin
const RADIUS = 5;

/**
 * The arcs' segments, each on its line at its level (pure: tested without a browser).
 * @param {Relation[]} relations
 * @param {Map<number, Anchor>} anchors by span start
 * @param {number} width the text's width (where a line's arcs run off)
 * @param {(label: string) => boolean} directed
 * @returns {{segments: Segment[], gap: number}} `gap`: the space the lines need between them
 */
export function arcLayout(relations, anchors, width, directed) {
  /** @type {Segment[]} */
  const segments = [];
  relations.forEach((r, relation) => {
    const from = anchors.get(r.from), to = anchors.get(r.to);
    if (!from || !to) return;
    const arrow = directed(r.label);
    if (sameLine(from, to)) { segments.push({ relation, a: from.x, b: to.x, y: from.top, level: 0, open: null, named: true, arrow }); return; }
    const down = from.top < to.top; // the to span is on a later line
    segments.push({ relation, a: from.x, b: down ? width : 0, y: from.top, level: 0, open: "b", named: true, arrow: false });
    segments.push({ relation, a: down ? 0 : width, b: to.x, y: to.top, level: 0, open: "a", named: false, arrow });
  });
  stack(segments);
  const highest = segments.reduce((m, g) => Math.max(m, g.level), 0);
  return { segments, gap: highest ? highest * STEP + ROOM : 0 };
}

/** @param {Anchor} p @param {Anchor} q */
const sameLine = (p, q) => Math.abs(p.top - q.top) < 4;

/** Gives each segment the lowest level (1, 2, …) no segment it overlaps on its line has, the
 * narrowest first, so a short arc stays under the long one over it. @param {Segment[]} segments */
function stack(segments) {
  const span = (/** @type {Segment} */ g) => [Math.min(g.a, g.b), Math.max(g.a, g.b)];
  const order = [...segments].sort((p, q) => Math.abs(p.b - p.a) - Math.abs(q.b - q.a));
  /** @type {Segment[]} */
  const placed = [];
  for (const g of order) {
    const [lo, hi] = span(g);
    const taken = new Set(placed.filter((o) => sameLine({ x: 0, top: o.y }, { x: 0, top: g.y }) && span(o)[0] <= hi + 2 && lo - 2 <= span(o)[1]).map((o) => o.level));
    g.level = 1;
    while (taken.has(g.level)) g.level++;
    placed.push(g);
  }
}

/** The SVG path of a segment: up from `a`, along its level, down on `b` (an open end stays up). @param {Segment} g */
export function arcPath(g) {
  const top = g.y - g.level * STEP;
  const dir = g.b >= g.a ? 1 : -1;
  const r = Math.min(RADIUS, Math.abs(g.b - g.a) / 2);
  const start = g.open === "a" ? `M${g.a} ${top}` : `M${g.a} ${g.y}V${top + r}Q${g.a} ${top} ${g.a + dir * r} ${top}`;
  const end = g.open === "b" ? `H${g.b}` : `H${g.b - dir * r}Q${g.b} ${top} ${g.b} ${top + r}V${g.y}`;
  return start + end;
}
