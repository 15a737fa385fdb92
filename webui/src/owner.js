// @ts-check
// An owner's chores in Details: add files to an upload project, ingestion settings, past
// exports with their links, and deleting the project (its name stays reserved).
import { call, get } from "./api.js";
import { confirmAction } from "./dialogs.js";
import { h, showError, words } from "./dom.js";
import { sortFiles, uploadAll } from "./files.js";

/** A list of files left out, with the reason for each. @param {{path: string, reason: string}[]} rows @param {string} id */
export function skippedList(rows, id) {
  if (!rows.length) return h("div", { id });
  return h("details", { id, class: "skipped", open: rows.length <= 5 }, h("summary", {}, `${rows.length} file(s) left out`),
    h("ul", {}, rows.slice(0, 500).map((r) => h("li", {}, h("code", {}, r.path), ` — ${r.reason}`))),
    rows.length > 500 ? h("p", { class: "note" }, `…and ${rows.length - 500} more`) : "");
}

/** Add files to an upload project. @param {any} project @param {() => void} after */
export function addFilesCard(project, after) {
  const files = h("input", { id: "add-files", type: "file", multiple: true });
  const folder = h("input", { id: "add-folder", type: "file", multiple: true, webkitdirectory: true });
  const progress = h("progress", { id: "add-progress", hidden: true, value: 0, max: 1 });
  const status = h("p", { class: "note", id: "add-status", role: "status" });
  const report = h("div", { id: "add-report" });
  const go = h("button", { id: "add-upload", class: "primary", onclick: async () => {
    const chosen = [.../** @type {HTMLInputElement} */ (files).files || [], .../** @type {HTMLInputElement} */ (folder).files || []];
    const { take, skip } = sortFiles(project.taskType, chosen);
    if (!take.length) { status.textContent = "No file of a type this project takes."; report.replaceChildren(skippedList(skip.map((s) => ({ path: s.file.webkitRelativePath || s.file.name, reason: s.reason })), "add-skipped")); return; }
    /** @type {HTMLButtonElement} */ (go).disabled = true;
    progress.hidden = false; /** @type {HTMLProgressElement} */ (progress).max = take.reduce((a, f) => a + f.size, 0) || 1;
    const result = await uploadAll(project.id, take, (done, sent) => { /** @type {HTMLProgressElement} */ (progress).value = sent; status.textContent = `Uploaded ${done} of ${take.length} files`; });
    progress.hidden = true; /** @type {HTMLButtonElement} */ (go).disabled = false;
    status.textContent = `Uploaded ${result.uploaded} of ${take.length} files; they become items within seconds.`;
    report.replaceChildren(skippedList([...skip.map((s) => ({ path: s.file.webkitRelativePath || s.file.name, reason: s.reason })), ...result.failed], "add-skipped"));
    after();
  } }, "Upload");
  return h("section", { class: "card", id: "add-files-card" }, h("h2", {}, "Add files"),
    h("p", { class: "note" }, project.taskType.startsWith("text_") ? "Text: .txt, .csv, .tsv, .jsonl." : "Images: JPEG, PNG, BMP, TIFF, DICOM."),
    h("label", {}, "Files ", files), h("label", {}, "or a folder ", folder), h("div", { class: "bar" }, go, progress), status, report);
}

/** Ingestion settings (`ingest`): item cap, CSV column, JSONL field, the pixel limit, DICOM series.
 * @param {any} project @param {(body: any) => Promise<unknown>} patch */
export function ingestCard(project, patch) {
  const ingest = project.ingest || {};
  const cap = h("input", { id: "ingest-cap", type: "number", min: 1, value: ingest.itemCap ?? "", placeholder: "all" });
  const column = h("input", { id: "ingest-column", value: ingest.textColumn ?? "", placeholder: "text, or the only column" });
  const field = h("input", { id: "ingest-field", value: ingest.textField ?? "text" });
  const pixels = h("input", { id: "ingest-pixels", type: "number", min: 1, value: ingest.maxPixels ?? "" });
  const series = h("input", { id: "ingest-series", type: "checkbox", checked: !!ingest.dicomSeries });
  const text = project.taskType.startsWith("text_");
  const value = (/** @type {HTMLElement} */ el) => /** @type {HTMLInputElement} */ (el).value.trim();
  return h("section", { class: "card", id: "ingest-card" }, h("h2", {}, "Ingestion"),
    h("label", {}, "Keep the first ", cap, " items (empty: all)"),
    text ? h("label", {}, "CSV/TSV column ", column) : "", text ? h("label", {}, "JSONL field ", field) : "",
    text ? "" : h("label", {}, "Largest picture (pixels × frames) ", pixels),
    text ? "" : h("label", {}, series, " DICOM series: slices sharing a SeriesInstanceUID become one item"),
    h("p", { class: "note" }, "Applies to files ingested from now on."),
    h("button", { id: "ingest-save", onclick: () => {
      /** @type {Record<string, any>} */
      const body = { ...ingest, itemCap: value(cap) ? Number(value(cap)) : null };
      if (text) { body.textColumn = value(column) || null; body.textField = value(field) || "text"; }
      else {
        if (value(pixels)) body.maxPixels = Number(value(pixels));
        body.dicomSeries = /** @type {HTMLInputElement} */ (series).checked;
      }
      for (const k of Object.keys(body)) if (body[k] === null) delete body[k];
      patch({ ingest: body });
    } }, "Save ingestion settings"));
}

/** Past exports, newest first, each with its link while it lasts. @param {string} base */
export function exportsCard(base) {
  const rows = h("tbody");
  const node = h("section", { class: "card wide", id: "exports-card" }, h("h2", {}, "Exports"),
    h("table", { id: "past-exports" }, h("thead", {}, h("tr", {}, ["When", "Format", "Items", "Status", "By", ""].map((t) => h("th", {}, t)))), rows));
  async function refresh() {
    const { exports } = await get(`${base}/exports`);
    rows.replaceChildren(...exports.map((/** @type {any} */ job) => h("tr", { dataset: { exportId: job.id } },
      h("td", {}, new Date(job.createdAt).toLocaleString()), h("td", {}, words(job.format)),
      h("td", {}, (job.options?.states || ["labeled"]).map(words).join(", ")), h("td", { class: `status ${job.status}` }, job.status),
      h("td", {}, job.createdBy || ""),
      h("td", {}, job.url ? h("a", { href: job.url, download: "", rel: "noopener", class: "download" }, "Download") : job.error || ""))));
    if (!exports.length) rows.append(h("tr", {}, h("td", { colspan: 6, class: "note" }, "No exports yet.")));
  }
  return { node, refresh };
}

/** Delete the project, after a confirmation naming what goes. @param {any} project @param {string} base */
export function deleteCard(project, base) {
  const go = h("button", { id: "delete-project", class: "danger", onclick: async () => {
    const counts = await get(`${base}/dashboard`).catch(() => null);
    const states = counts?.states || {};
    const items = Object.values(states).reduce((n, k) => n + k, 0);
    const answer = await confirmAction({
      title: `Delete ${project.name}?`, danger: true, confirm: "Delete the project", typeToConfirm: project.name,
      body: [`Its ${items} item(s), ${states.labeled || 0} of them labeled, ${states.needs_review || 0} waiting for review, stop being served to anyone: labelers, reviewers and exports lose access at once.`,
        "The name stays reserved: no new project can take it.", "Export the labels first if you need them."],
    });
    if (!answer.ok) return;
    try {
      await call("DELETE", base);
      location.hash = "#/";
    } catch (e) { showError(e); }
  } }, "Delete project…");
  return h("section", { class: "card", id: "danger-card" }, h("h2", {}, "Delete"),
    h("p", { class: "note" }, "Deleting ends all work on the project; its name stays reserved."), go);
}
