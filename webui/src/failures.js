// @ts-check
// Failed background work (owners only, in the Details tab): the project's dead-lettered queue
// messages with the reason their last attempt gave, and "Retry" that re-drives one once its
// cause is fixed. Reasons and descriptions are server text: shown as text, never as markup.
import { get, post } from "./api.js";
import { h, showError } from "./dom.js";

/** @typedef {import("./api-types").components["schemas"]["DeadLetterOut"]} DeadLetter */
/** @typedef {import("./api-types").components["schemas"]["DeadLetterList"]} DeadLetterList */

/** @type {Record<string, string>} */
const QUEUES = {
  "project-init": "project setup",
  "ingest-batch": "ingestion batch",
  "ingest-derivatives": "thumbnails and display images",
  "label-classes": "label class change",
  "export-run": "export",
  "assist-train": "ML assist training",
};

/** A queue's name in words ("export-run" → "export"). @param {string} queue */
export const queueWords = (queue) => QUEUES[queue] || String(queue).replaceAll(/[-_]/g, " ");

/** The card; `refresh()` fetches and redraws (call it on the tab's tick).
 * @param {{base: string}} options `/projects/{id}` */
export function failuresPanel({ base }) {
  const rows = h("tbody");
  const table = h("table", { id: "dead-letters", hidden: true },
    h("thead", {}, h("tr", {}, ["Work", "When", "Reason", "Description", "Deliveries", ""].map((t) => h("th", {}, t)))), rows);
  const empty = h("p", { class: "note", id: "dead-letters-empty", hidden: true }, "Nothing failed");
  const node = h("section", { class: "card wide", id: "failures" }, h("h2", {}, "Failed background work"), empty, table);
  /** @type {string | null} */
  let shown = null; // what the table shows, so an unchanged list is not redrawn under the pointer

  /** @param {DeadLetter} dead @param {HTMLButtonElement} button */
  async function retry(dead, button) {
    button.disabled = true;
    try {
      await post(`${base}/dead-letters/${encodeURIComponent(dead.queue)}/${encodeURIComponent(dead.messageId)}/redrive`);
      showError(null);
    } catch (e) { showError(e); }
    shown = null;
    await refresh().catch(showError);
  }

  /** @param {DeadLetter} dead */
  function row(dead) {
    const button = h("button", { class: "retry", onclick: () => retry(dead, button) }, "Retry");
    const when = dead.deadLetteredAt ? new Date(dead.deadLetteredAt) : null;
    return h("tr", { dataset: { queue: dead.queue, messageId: dead.messageId } },
      h("td", { class: "queue" }, queueWords(dead.queue)),
      h("td", { class: "when", title: when ? when.toISOString() : "" }, when ? when.toLocaleString() : "—"),
      h("td", { class: "reason" }, dead.reason),
      h("td", { class: "description" }, dead.description),
      h("td", { class: "num" }, dead.deliveryCount),
      h("td", {}, button));
  }

  async function refresh() {
    const { deadLetters } = /** @type {DeadLetterList} */ (await get(`${base}/dead-letters`));
    const signature = JSON.stringify(deadLetters.map((d) => [d.queue, d.messageId, d.deliveryCount]));
    if (signature === shown) return;
    shown = signature;
    rows.replaceChildren(...deadLetters.map(row));
    table.hidden = !deadLetters.length;
    empty.hidden = !!deadLetters.length;
  }

  return { node, refresh };
}
