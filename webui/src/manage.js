// @ts-check
// Owner and reviewer screens: dashboard and project details (review is review.js).
import { Chart, ArcElement, BarController, BarElement, CategoryScale, DoughnutController, Legend, LinearScale, Tooltip } from "chart.js";
import { call, get, post } from "./api.js";
import { assistFields, assistPanel } from "./assist.js";
import { ATTRIBUTES_NOTE, attributeEditor } from "./attreditor.js";
import { failuresPanel } from "./failures.js";
import { parseClassLine } from "./keypoints.js";
import { confirmAction } from "./dialogs.js";
import { addFilesCard, deleteCard, exportsCard, ingestCard } from "./owner.js";
import { colorOf, h, markdown, showError, words } from "./dom.js";
import { relationClassesCard } from "./relationclasses.js";

Chart.register(ArcElement, BarController, BarElement, CategoryScale, DoughnutController, Legend, LinearScale, Tooltip);

/** @typedef {import("./api-types").components["schemas"]} Schemas */
/** @typedef {import("./main.js").ViewContext} ViewContext */
/** @typedef {Schemas["ProjectView"]} ProjectView */

const STATES = ["labeled", "skipped", "needs_review", "unlabeled", "error"];
const STATE_COLORS = ["#3cb44b", "#f58231", "#911eb4", "#bbbbbb", "#e6194b"];

/** The Dashboard tab: progress, the queue, labels, labelers, ML assist; redrawn every 4 s.
 * @param {ViewContext} context */
export async function dashboardView({ project, pane, every, role }) {
  const base = `/projects/${encodeURIComponent(project.id)}`;
  const progressCanvas = h("canvas", { id: "progress-chart" });
  const labelsCanvas = h("canvas", { id: "labels-chart" });
  const counts = h("table", { id: "state-counts" });
  const queue = h("table", { id: "queue" });
  const labelers = h("table", { id: "labelers" });
  const refresh = h("p", { class: "note", id: "last-refresh" });
  // From 80 % of the project's item cap: how full, what happens at the cap, what to do.
  const capacity = h("p", { class: "error", id: "capacity-warning", role: "status", hidden: true });
  const assist = assistPanel({ base, role });
  pane.replaceChildren(h("div", { class: "cards" },
    h("div", { class: "card" }, h("h2", {}, "Progress"), h("div", { class: "chart" }, progressCanvas), counts, capacity),
    h("div", { class: "card" }, h("h2", {}, "Task queue"), queue, refresh),
    h("div", { class: "card" }, h("h2", {}, "Label distribution"), h("div", { class: "chart" }, labelsCanvas)),
    h("div", { class: "card wide" }, h("h2", {}, "Labelers"), labelers), assist.node));
  /** @type {number[]} */
  const none = [];
  /** @type {string[]} */
  const noNames = [];
  const progress = new Chart(progressCanvas, { type: "doughnut", data: { labels: STATES.map(words), datasets: [{ data: none, backgroundColor: STATE_COLORS }] }, options: { animation: false, maintainAspectRatio: false } });
  const dist = new Chart(labelsCanvas, { type: "bar", data: { labels: noNames, datasets: [{ label: "items", data: none, backgroundColor: noNames }] }, options: { animation: false, maintainAspectRatio: false, indexAxis: "y", plugins: { legend: { display: false } } } });
  const row = (/** @type {(string | number)[]} */ cells, /** @type {"td" | "th"} */ tag = "td") => h("tr", {}, cells.map((c) => h(tag, {}, c)));
  const stop = every(4000, async () => {
    const assisted = assist.refresh();
    /** @type {Schemas["DashboardView"]} */
    const d = await get(`${base}/dashboard`);
    progress.data.datasets[0].data = STATES.map((st) => d.states[st] || 0);
    progress.update();
    const names = Object.keys(d.labels);
    dist.data.labels = names;
    dist.data.datasets[0].data = names.map((n) => d.labels[n]);
    dist.data.datasets[0].backgroundColor = names.map((n) => colorOf(project.labelClasses, n));
    dist.update();
    counts.replaceChildren(...Object.entries(d.states).map(([k, v]) => h("tr", { dataset: { state: k } }, h("td", {}, words(k)), h("td", { class: "num" }, v))));
    queue.replaceChildren(...Object.entries(d.queue).map(([k, v]) => h("tr", { dataset: { lane: k } }, h("td", {}, words(k)), h("td", { class: "num" }, v))));
    labelers.replaceChildren(row(["Labeler", "Submitted", "Skipped", "Today", "Answers", "Agreement", "Last"], "th"),
      ...d.labelers.map((l) => row([l.user, l.submitted, l.skipped, l.today, l.answers, l.agreement == null ? "—" : `${Math.round(l.agreement * 100)}% of ${l.compared}`, l.lastAt ? new Date(String(l.lastAt)).toLocaleString() : "—"])));
    capacity.textContent = d.capacity?.warning ?? "";
    capacity.hidden = !d.capacity?.warning;
    refresh.textContent = [
      d.lastRefreshAt ? `Last data refresh: ${new Date(String(d.lastRefreshAt)).toLocaleString()}` : "",
      d.recountedAt ? `Counts checked against the items: ${new Date(String(d.recountedAt)).toLocaleString()}` : "",
    ].filter(Boolean).join(" · ");
    await assisted;
  });
  return () => { stop(); progress.destroy(); dist.destroy(); };
}

/** The Details tab: the project's settings, classes, instructions, members, assignments,
 * exports, files, ingestion, failed work and deletion, each saved with the project's ETag.
 * @param {ViewContext} context */
export async function detailsView({ project: initial, pane, me, role, every }) {
  const base = `/projects/${encodeURIComponent(initial.id)}`;
  const failures = role === "owner" ? failuresPanel({ base }) : null; // kept across redraws
  const pastExports = exportsCard(base);
  let project = initial;
  /** @type {string | null} */
  let etag = null;
  async function load() { const r = await call("GET", base); project = r.data; etag = r.etag; }
  /** A change made on the version just read (a 412 if someone changed it in between).
   * @param {string} method @param {string} path @param {unknown} [body] */
  async function withEtag(method, path, body) {
    await load();
    const r = await call(method, path, body, etag ? { "If-Match": etag } : {});
    return r.data;
  }
  /** One more relation class, on the classes and the ETag of one read.
   * @param {import("./editor/relations.js").RelationClass} added */
  async function addRelationClass(added) {
    await load();
    await call("PATCH", base, { relationClasses: [...(project.relationClasses || []), added] }, etag ? { "If-Match": etag } : {});
  }
  const done = (/** @type {string} */ message) => { showError(null); note.textContent = message; render(); };
  const fail = (/** @type {unknown} */ e) => showError(e);
  const note = h("p", { class: "note", id: "details-note", role: "status" });

  async function render() {
    await load();
    /** @type {Record<string, string>} */
    const members = await get(`${base}/members`).catch(() => project.members || {});
    /** @type {Schemas["IngestProgress"] | null} */
    const ingestion = await get(`${base}/ingestion`).catch(() => null);
    /** @type {Partial<Schemas["Dataset"]>} */
    const ds = project.dataset || {};
    const paused = project.status === "paused";
    // Instructions
    const md = h("textarea", { id: "instructions-md", rows: 8 }, project.instructions?.markdown || "");
    const url = h("input", { id: "instructions-url", value: project.instructions?.url || "", placeholder: "https://…" });
    const preview = h("div", { class: "preview" }, markdown(md.value));
    md.addEventListener("input", () => preview.replaceChildren(markdown(md.value)));
    // Classes
    const points = project.taskType === "image_keypoints";
    const addNames = h("textarea", { id: "add-classes", rows: 2, placeholder: points ? "New classes, one per row, each with its points: hand: wrist, thumb | 0-1" : "New classes, one per row" });
    const choice = h("fieldset", { class: "choices" }, h("legend", {}, "Labels already given"),
      [["keep", "Keep them; new classes apply from now on"], ["keep_as_defaults", "Send items back to the queue with their labels pre-filled"], ["start_over", "Start over: remove every label"]].map(([v, t], i) =>
        h("label", {}, h("input", { type: "radio", name: "existing", value: v, checked: i === 0 }), ` ${t}`)));
    const from = h("select", { id: "rename-from" }, project.labelClasses.map((c) => h("option", { value: c.name }, c.name)));
    const to = h("input", { id: "rename-to", placeholder: "new name" });
    // Attributes of one class at a time, in their text form
    const attrs = attributeEditor({ prefix: "attr", classes: () => project.labelClasses });
    const saveAttributes = () => {
      const name = attrs.chosen;
      const { attributes, error } = attrs.parsed(name);
      if (error) { showError(new Error(error)); return; }
      const classes = project.labelClasses.map((c) => (c.name === name ? { ...c, attributes } : c));
      withEtag("PUT", `${base}/label-classes`, classes).then(() => done(`Attributes of ${name} saved.`), fail);
    };
    // Members
    const newUser = h("input", { id: "member-user", placeholder: "user name" });
    const newRole = h("select", { id: "member-role" }, ["labeler", "reviewer", "owner"].map((r) => h("option", { value: r }, r)));
    const refreshBox = h("input", { type: "checkbox", id: "incremental", checked: project.incrementalRefresh, onchange: () =>
      withEtag("PATCH", base, { incrementalRefresh: refreshBox.checked }).then(() => done("Saved."), fail) });
    const assist = assistFields(project.assist || {}, project.taskType);
    const assignTo = h("input", { id: "assign-user", placeholder: "labeler" });
    const assignPrefix = h("input", { id: "assign-prefix", placeholder: "path prefix" });
    const assignLimit = h("input", { id: "assign-limit", type: "number", min: 1, placeholder: "limit" });
    pane.replaceChildren(note, h("div", { class: "bar" }, h("button", { id: "export-open", onclick: () => exportDialog(project, base, () => pastExports.refresh().catch(() => {})) }, "Export…")), h("div", { class: "cards" },
      h("section", { class: "card" }, h("h2", {}, "Project"), h("dl", {},
        h("dt", {}, "Name"), h("dd", {}, project.name), h("dt", {}, "Task type"), h("dd", {}, words(project.taskType)),
        h("dt", {}, "Status"), h("dd", { id: "details-status" }, project.status, project.statusReason ? ` (${project.statusReason})` : ""),
        h("dt", {}, "Dataset"), h("dd", {}, ds.source === "blob" ? `${ds.container}/${ds.path}` : "uploaded files"),
        h("dt", {}, "Items"), h("dd", { id: "details-items" }, itemsLine(ingestion)),
        h("dt", {}, "Consensus"), h("dd", {}, `${project.consensus?.minLabelers}–${project.consensus?.maxLabelers} labelers`),
        h("dt", {}, "ML assist"), h("dd", { id: "details-assist" }, project.assist?.enabled
          ? `on (${project.assist.backbone || "default backbone"}, target precision ${project.assist.targetPrecision}, first training after ${project.assist.trainAfter}, then every ${project.assist.trainEvery}${project.assist.activeLearning ? ", active learning" : ""})` : "off")),
        h("label", {}, refreshBox, " Incremental refresh"),
        h("fieldset", { class: "assist-box" }, h("legend", {}, "ML assist"), assist.node,
          h("button", { id: "save-assist", onclick: () => withEtag("PATCH", base, { assist: { ...project.assist, ...assist.value() } }).then(() => done("ML assist saved."), fail) }, "Save ML assist")),
        h("div", { class: "actions" }, paused
          ? h("button", { id: "resume", onclick: () => withEtag("POST", `${base}/resume`).then(() => done("Resumed."), fail) }, "Resume")
          : h("button", { id: "pause", onclick: () => withEtag("POST", `${base}/pause`).then(() => done("Paused."), fail) }, "Pause"))),
      h("section", { class: "card" }, h("h2", {}, "Label classes"),
        h("ol", { id: "class-list" }, project.labelClasses.map((c) => h("li", {}, h("kbd", {}, c.key || ""), " ", c.name,
          c.keypoints ? h("span", { class: "note" }, ` — ${c.keypoints.points.join(", ")}${c.keypoints.edges?.length ? ` | ${c.keypoints.edges.map(([a, b]) => `${a}-${b}`).join(", ")}` : ""}`) : "",
          c.attributes?.length ? h("span", { class: "note" }, ` · ${c.attributes.map((a) => a.name).join(", ")}`) : ""))),
        paused ? null : h("p", { class: "note" }, "Pause the project to add or rename classes."),
        h("h3", {}, "Add"), addNames, choice,
        h("button", { id: "add-classes-button", disabled: !paused, onclick: () => {
          let classes;
          try { classes = addNames.value.split("\n").map((l) => l.trim()).filter(Boolean).map((line) => (points ? parseClassLine(line, true) : { name: line })); } catch (e) { fail(e); return; }
          const existingLabels = choice.querySelector("input:checked")?.getAttribute("value") || "keep";
          const add = () => withEtag("POST", `${base}/label-classes/add`, { classes, existingLabels }).then(() => done("Classes added."), fail);
          if (existingLabels === "keep") return add();
          get(`${base}/dashboard`).then((/** @type {Schemas["DashboardView"]} */ d) => confirmAction(existingLabels === "start_over"
            ? { title: "Start over?", danger: true, confirm: `Remove the labels of ${d.states.labeled + d.states.needs_review + d.states.skipped} item(s)`,
              body: [`Every label goes: ${d.states.labeled} labeled item(s), ${d.states.needs_review} waiting for review and ${d.states.skipped} skipped go back to the queue, unlabeled. Their answers stay only in each item's history.`] }
            : { title: "Send labeled items back?", confirm: `Send ${d.states.labeled} item(s) back`,
              body: [`${d.states.labeled} labeled item(s) go back to the queue with their labels pre-filled, for labelers to confirm against the new classes.`] }))
            .then((answer) => { if (answer.ok) return add(); }, fail);
        } }, "Add classes"),
        h("h3", {}, "Rename"), h("div", { class: "bar" }, from, "→", to,
          h("button", { id: "rename-button", disabled: !paused, onclick: () => withEtag("POST", `${base}/label-classes/rename`, { from: from.value, to: to.value.trim() }).then(() => done("Renamed."), fail) }, "Rename")),
        h("h3", {}, "Attributes"), h("p", { class: "note" }, `${ATTRIBUTES_NOTE} Changes apply to answers given from now on.`),
        attrs.node, h("button", { id: "save-attributes", onclick: saveAttributes }, "Save attributes")),
      project.taskType === "text_ner" ? relationClassesCard(project, (added) => addRelationClass(added).then(() => done("Relation classes saved."), fail)) : null,
      h("section", { class: "card wide" }, h("h2", {}, "Instructions"), h("div", { class: "split" }, md, preview), h("label", {}, "or a URL ", url),
        h("button", { id: "save-instructions", onclick: () => withEtag("PUT", `${base}/instructions`, url.value.trim() ? { url: url.value.trim() } : { markdown: md.value }).then(() => done("Instructions saved."), fail) }, "Save instructions")),
      h("section", { class: "card" }, h("h2", {}, "Members"),
        h("table", { id: "members" }, Object.entries(members).map(([user, role]) => {
          const select = h("select", { onchange: () => withEtag("PUT", `${base}/members/${encodeURIComponent(user)}`, { role: select.value }).then(() => done("Role changed."), fail) },
            ["labeler", "reviewer", "owner"].map((r) => h("option", { value: r, selected: r === role }, r)));
          return h("tr", { dataset: { user } }, h("td", {}, user), h("td", {}, select), h("td", {}, user === me.id ? "" :
            h("button", { onclick: () => withEtag("DELETE", `${base}/members/${encodeURIComponent(user)}`).then(() => done("Removed."), fail) }, "Remove")));
        })),
        h("div", { class: "bar" }, newUser, newRole, h("button", { id: "add-member", onclick: () =>
          withEtag("PUT", `${base}/members/${encodeURIComponent(newUser.value.trim())}`, { role: newRole.value }).then(() => done("Member added."), fail) }, "Add"))),
      h("section", { class: "card" }, h("h2", {}, "Assign items"), h("div", { class: "bar" }, assignTo, assignPrefix, assignLimit),
        h("button", { id: "assign", onclick: () => {
          /** @type {{labeler: string, pathPrefix: string, limit?: number}} */
          const body = { labeler: assignTo.value.trim(), pathPrefix: assignPrefix.value };
          if (assignLimit.value) body.limit = Number(assignLimit.value);
          post(`${base}/assignments`, body).then((/** @type {Schemas["Changed"]} */ r) => done(`${r.changed} item(s) assigned.`), fail);
        } }, "Assign"),
        h("button", { id: "unassign", onclick: () => post(`${base}/assignments/release`, { labeler: assignTo.value.trim(), pathPrefix: assignPrefix.value }).then((/** @type {Schemas["Changed"]} */ r) => done(`${r.changed} item(s) released.`), fail) }, "Release")),
      pastExports.node,
      role === "owner" && ds.source !== "blob" ? addFilesCard(project, () => { note.textContent = "Files uploaded: they become items within seconds."; }) : null,
      role === "owner" ? ingestCard(project, (body) => withEtag("PATCH", base, body).then(() => done("Ingestion settings saved."), fail)) : null,
      failures ? failures.node : null,
      role === "owner" ? deleteCard(project, base) : null));
    pastExports.refresh().catch(() => {});
  }
  await render().catch(fail);
  return failures ? every(4000, failures.refresh) : () => {};
}

/** @type {Record<string, string>} */
const FORMATS = { coco: "COCO", azureml_jsonl: "Azure ML JSONL + MLTable", csv: "CSV", voc: "Pascal VOC", yolo: "YOLO", conll: "CoNLL", brat: "BRAT standoff", dicom_seg: "DICOM-SEG (one per DICOM item)", loupe_jsonl: "Loupe JSONL" };
/** The formats only some task types have: DICOM-SEG holds masks. @type {Record<string, (taskType: string) => boolean>} */
const ONLY_FOR = { dicom_seg: (taskType) => taskType.endsWith("_segmentation") };

/** The export dialog: format and options, then a job whose download link appears when done.
 * @param {ProjectView} project @param {string} base @param {() => void} [onDone] */
function exportDialog(project, base, onDone = () => {}) {
  const offered = Object.entries(FORMATS).filter(([v]) => ONLY_FOR[v]?.(project.taskType) ?? true);
  const format = h("select", { id: "export-format" }, offered.map(([v, t]) => h("option", { value: v }, t)));
  const states = h("fieldset", { class: "choices" }, h("legend", {}, "Items"), ["labeled", "needs_review", "skipped", "unlabeled"].map((st) =>
    h("label", {}, h("input", { type: "checkbox", value: st, checked: st === "labeled" }), ` ${words(st)}`)));
  const validation = h("input", { id: "export-validation", type: "number", min: 0, max: 0.9, step: 0.05, value: 0 });
  const predictions = h("input", { id: "export-predictions", type: "checkbox" });
  const normalized = h("input", { id: "export-normalized", type: "checkbox" });
  const result = h("div", { id: "export-result", role: "status" });
  const start = h("button", { class: "primary", id: "export-start", onclick: async () => {
    start.disabled = true;
    result.replaceChildren("Exporting…");
    try {
      const options = { states: [...states.querySelectorAll("input:checked")].map((i) => i.getAttribute("value")), validation: Number(validation.value),
        predictions: predictions.checked, normalizedCoco: normalized.checked };
      /** @type {Schemas["ExportOut"]} */
      let job = await post(`${base}/exports`, { format: format.value, options });
      while (job.status === "queued" || job.status === "running") {
        await new Promise((r) => { setTimeout(r, 500); });
        job = await get(`${base}/exports/${encodeURIComponent(job.id)}`);
      }
      onDone();
      if (job.status !== "succeeded") throw new Error(job.error || `The export ${job.status}.`);
      result.replaceChildren(h("a", { href: job.url, id: "export-download", download: "", rel: "noopener" }, "Download"),
        h("p", { class: "note" }, "Load it in Python:"), h("pre", {}, job.snippet || ""));
    } catch (e) { result.replaceChildren(h("span", { class: "error" }, e instanceof Error ? e.message : String(e))); } finally { start.disabled = false; }
  } }, "Export");
  const dialog = h("dialog", { id: "export-dialog", onclose: () => dialog.remove() }, h("h2", {}, `Export ${project.name}`),
    h("label", {}, "Format ", format), states, h("label", {}, "Validation split ", validation),
    h("label", {}, predictions, " Include ML-assist predictions of unlabeled items"), h("label", {}, normalized, " COCO coordinates as 0–1 fractions (Azure ML flavour)"),
    h("div", { class: "actions" }, start, h("button", { onclick: () => dialog.close() }, "Close")), result);
  document.body.append(dialog);
  dialog.showModal();
}

/** The same counts as the dashboard's: items (whatever their state), and the files left out.
 * @param {Schemas["IngestProgress"] | null} ingestion */
function itemsLine(ingestion) {
  if (!ingestion) return "—";
  const skipped = ingestion.skipped ?? 0;
  const parts = [`${(ingestion.registered ?? 0) + (ingestion.failed ?? 0)} item(s)`]; // registered: the items not in error
  if (ingestion.failed) parts.push(`${ingestion.failed} of them in error`);
  if (skipped) parts.push(`${skipped} file(s) skipped`);
  const full = ingestion.capacityWarning; // at or near the item cap: why files are refused
  return parts.join(", ") + (full ? `. ${full}` : "");
}
