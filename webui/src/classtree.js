// @ts-check
// Label classes as the tree their names make ("Animal/Cat" is Cat under Animal), and what a
// picker shows of it: the rows a search and the collapsed groups leave visible. Pure, so a
// picker of 1,000 classes filters in a few milliseconds and is tested without a browser.

/**
 * @typedef {object} Row
 * @property {string} id the class name, or the group's path
 * @property {string} name the last part of the name
 * @property {number} depth
 * @property {boolean} group whether it only holds classes (a group is not a label)
 * @property {string} [key] the class's key
 */

/**
 * Rows in tree order, groups before their classes; a class whose name is also a group's path
 * is both (shown once, as the class, holding the others).
 * @param {{name: string, key?: string | null}[]} classes @returns {Row[]}
 */
export function treeRows(classes) {
  /** @type {Map<string, Row>} */
  const rows = new Map();
  const names = new Set(classes.map((c) => c.name));
  for (const c of classes) {
    const parts = c.name.split("/");
    for (let depth = 0; depth < parts.length; depth++) {
      const id = parts.slice(0, depth + 1).join("/");
      if (rows.has(id)) continue;
      const own = depth === parts.length - 1;
      rows.set(id, { id, name: parts[depth], depth, group: !own && !names.has(id), key: own ? c.key || undefined : undefined });
    }
  }
  for (const c of classes) { const row = rows.get(c.name); if (row) { row.group = false; row.key = c.key || undefined; } }
  // Keep each group's members together, in the order the project lists its classes.
  const order = new Map([...rows.keys()].map((id, i) => [id, i]));
  const parent = (/** @type {string} */ id) => id.includes("/") ? id.slice(0, id.lastIndexOf("/")) : "";
  /** @type {Map<string, string[]>} */
  const children = new Map();
  for (const id of rows.keys()) {
    const p = parent(id);
    children.set(p, [...(children.get(p) || []), id]);
  }
  /** @type {Row[]} */
  const out = [];
  const walk = (/** @type {string} */ p) => {
    for (const id of (children.get(p) || []).sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0))) {
      out.push(/** @type {Row} */ (rows.get(id)));
      walk(id);
    }
  };
  walk("");
  return out;
}

/**
 * The rows to show: with a query, the classes whose name holds it (any case) and the groups
 * above them; without one, everything not inside a collapsed group.
 * @param {Row[]} rows @param {string} query @param {Set<string>} collapsed @returns {Row[]}
 */
export function visibleRows(rows, query, collapsed) {
  const q = query.trim().toLowerCase();
  if (q) {
    const hits = new Set();
    for (const row of rows) {
      if (row.group || !row.id.toLowerCase().includes(q)) continue;
      const parts = row.id.split("/");
      for (let i = 1; i <= parts.length; i++) hits.add(parts.slice(0, i).join("/"));
    }
    return rows.filter((row) => hits.has(row.id));
  }
  return rows.filter((row) => {
    const parts = row.id.split("/");
    for (let i = 1; i < parts.length; i++) if (collapsed.has(parts.slice(0, i).join("/"))) return false;
    return true;
  });
}

/** Whether a row has rows under it. @param {Row[]} rows @param {number} index */
export function hasChildren(rows, index) {
  return index + 1 < rows.length && rows[index + 1].id.startsWith(`${rows[index].id}/`);
}
