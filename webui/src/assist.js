// @ts-check
// ML assist in the UI: the dashboard's panel (runs, the next training, how far the pre-labels
// can be trusted, "Train now") and the settings form the create wizard and the Details tab share.
import { ApiError, get, post } from "./api.js";
import { h, showError, words } from "./dom.js";

/** @typedef {import("./api-types").components["schemas"]} Schemas */
/** @typedef {Schemas["AssistSettings"]} AssistSettings */
/** @typedef {Schemas["AssistStatus"]} AssistStatus */
/** @typedef {Schemas["Run"]} Run */
/** @typedef {Schemas["ModelEntry"]} ModelView */

const modalityOf = (/** @type {string} */ taskType) => (taskType.startsWith("text_") ? "text" : "image");
const percent = (/** @type {number | null | undefined} */ v) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)}%`);

/** @type {Promise<ModelView[]> | null} */
let modelsCache = null;
/** The backbones this server has, `[{name, modality, dim, license, source}]` ([] if unknown).
 * @returns {Promise<ModelView[]>} */
export function models() {
  modelsCache = modelsCache || get("/models").catch(() => { modelsCache = null; return []; });
  return modelsCache;
}

/** The settings form: `node`, `value()` (the project's `assist` object), `setTaskType(t)`.
 * @param {Partial<AssistSettings>} [initial] @param {string} [taskType] @param {string} [prefix] ids start with it */
export function assistFields(initial = {}, taskType = "image_multiclass", prefix = "assist") {
  const f = {
    enabled: h("input", { type: "checkbox", id: `${prefix}-enabled`, checked: !!initial.enabled }),
    backbone: h("select", { id: `${prefix}-backbone` }),
    target: h("input", { type: "number", id: `${prefix}-target`, min: 0.5, max: 0.999, step: 0.005, value: initial.targetPrecision ?? 0.95 }),
    after: h("input", { type: "number", id: `${prefix}-train-after`, min: 10, max: 100000, step: 1, value: initial.trainAfter ?? 100 }),
    every: h("input", { type: "number", id: `${prefix}-train-every`, min: 10, max: 100000, step: 1, value: initial.trainEvery ?? 100 }),
    active: h("input", { type: "checkbox", id: `${prefix}-active-learning`, checked: !!initial.activeLearning }),
  };
  const detail = h("div", { class: "assist-fields" },
    h("label", {}, "Backbone ", f.backbone),
    h("label", {}, "Target precision of pre-labels ", f.target),
    h("label", {}, "First training after ", f.after, " human labels"),
    h("label", {}, "Train again every ", f.every, " human labels"),
    h("label", {}, f.active, " Active learning (serve the items the model is least sure of first)"));
  const sync = () => { detail.hidden = !f.enabled.checked; };
  f.enabled.addEventListener("change", sync);
  sync();
  let chosen = initial.backbone || "";
  f.backbone.addEventListener("change", () => (chosen = f.backbone.value));
  /** Offers the backbones of the task type's modality. @param {string} type */
  async function setTaskType(type) {
    const modality = modalityOf(type);
    const found = (await models()).filter((m) => m.modality === modality);
    f.backbone.replaceChildren(h("option", { value: "" }, "the server's default"),
      ...found.map((m) => h("option", { value: m.name, title: `${m.source || ""} · ${m.license || ""}` }, [m.name, m.dim ? `${m.dim}-d` : null, m.license, m.stored === false ? "prepared at first use" : null].filter(Boolean).join(" · "))));
    if (chosen && !found.some((m) => m.name === chosen)) f.backbone.append(h("option", { value: chosen }, `${chosen} (not on this server)`));
    f.backbone.value = chosen && [...f.backbone.options].some((o) => o.value === chosen) ? chosen : "";
  }
  setTaskType(taskType);
  /** @returns {AssistSettings} */
  function value() {
    const out = { enabled: f.enabled.checked, targetPrecision: Number(f.target.value), trainAfter: Number(f.after.value),
      trainEvery: Number(f.every.value), activeLearning: f.active.checked, backbone: f.backbone.value || null };
    return out;
  }
  return { node: h("div", { class: "assist-settings" }, h("label", {}, f.enabled, " ML assist"), detail), value, setTaskType };
}

/** How long a run took, or has taken so far. @param {Run} run */
function duration(run) {
  if (!run.startedAt) return "—";
  const end = run.finishedAt ? new Date(run.finishedAt) : new Date();
  const s = Math.max(0, (end.getTime() - new Date(run.startedAt).getTime()) / 1000);
  const text = s < 60 ? `${s.toFixed(1)} s` : s < 3600 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${(s / 3600).toFixed(1)} h`;
  return run.finishedAt ? text : `${text}…`;
}

/** @param {Run["metrics"]} metrics */
function metricsText(metrics) {
  return Object.entries(metrics || {}).slice(0, 5).map(([k, v]) =>
    `${words(k)} ${typeof v === "number" && v <= 1 && v >= 0 && !Number.isInteger(v) ? percent(v) : v}`).join(" · ");
}

/** The dashboard card; `refresh()` fetches and redraws (call it on the dashboard's tick).
 * @param {{base: string, role: string | null | undefined}} options `/projects/{id}`, and the caller's role in it */
export function assistPanel({ base, role }) {
  const state = h("p", { id: "assist-state", class: "note" });
  const nextBar = h("progress", { id: "assist-next", max: 1, value: 0 });
  const nextText = h("span", { id: "assist-next-text" });
  const current = h("dl", { id: "assist-current" });
  const runs = h("tbody");
  const classes = h("tbody");
  const classTable = h("table", { class: "runs", id: "assist-classes", hidden: true },
    h("caption", {}, "Per class (last cycle): each class is pre-labeled only at its own threshold"),
    h("thead", {}, h("tr", {}, ["Class", "Threshold", "Pre-labeled", "Coverage", "Held-out precision (lower bound)", "Audit band", "Last pre-labels confirmed"].map((t) => h("th", {}, t)))), classes);
  let pending = false;
  /** @type {HTMLButtonElement | null} */
  const train = role !== "owner" ? null : h("button", { id: "assist-train", class: "primary", onclick: async () => {
    if (train) train.disabled = true;
    try { await post(`${base}/assist/train`); pending = true; await refresh(); } catch (e) { showError(e); await refresh().catch(() => {}); }
  } }, "Train now");
  const node = h("div", { class: "card wide", id: "assist-panel" }, h("h2", {}, "ML assist"), state,
    h("div", { class: "assist-bar" }, h("span", {}, "Next training in"), nextBar, nextText, train || null), current, classTable,
    h("table", { class: "runs", id: "assist-runs" }, h("thead", {}, h("tr", {}, ["Run", "Cycle", "Status", "Duration", "Key metrics", "Message"].map((t) => h("th", {}, t)))), runs));

  async function refresh() {
    /** @type {AssistStatus} */
    let a;
    try { a = await get(`${base}/assist`); } catch (e) {
      if (e instanceof ApiError && e.status === 404) { state.textContent = "This server has no ML assist."; if (train) train.disabled = true; return; }
      throw e;
    }
    pending = a.pending;
    state.textContent = !a.supported ? `Not available for this project${a.reason ? `: ${a.reason}` : "."}`
      : `${a.enabled ? "On" : "Off"} · backbone ${a.backbone} · target precision ${percent(a.targetPrecision)} · ${a.humanLabels} human label(s)`
        + `${a.activeLearning ? " · active learning" : ""}${a.pending ? " · training pending" : ""}`;
    const period = a.runs.some((r) => r.kind === "train" && r.status === "succeeded") ? a.trainEvery : a.trainAfter;
    const left = a.nextTrainingIn;
    nextBar.max = period || 1;
    nextBar.value = left === null || left === undefined ? 0 : Math.max(0, period - left);
    nextText.textContent = a.pending ? "pending…" : left === null || left === undefined ? "—" : `${left} label(s)`;
    nextText.dataset.left = left == null ? "" : String(left);
    const c = a.current;
    current.replaceChildren(.../** @type {[string, string | number][]} */ (c ? [
      ["Threshold", c.threshold == null ? "—" : c.threshold.toFixed(3)], ["Coverage", percent(c.coverage)], ["Pre-labeled", c.prelabeled],
      ["Confirmed / corrected", `${c.confirmed} / ${c.corrected}`],
      ["Live precision", c.livePrecision == null ? "— (no pre-label reviewed yet)" : `${percent(c.livePrecision)} of ${c.confirmed + c.corrected}`],
    ] : [["Model", "none yet"]]).flatMap(([k, v]) => [h("dt", {}, k), h("dd", { dataset: { key: k } }, String(v))]));
    runs.replaceChildren(...a.runs.map((r) => h("tr", { dataset: { runId: r.id, kind: r.kind, status: r.status } },
      h("td", {}, r.kind), h("td", {}, r.cycle ?? ""), h("td", { class: r.status }, r.status), h("td", {}, duration(r)),
      h("td", { title: JSON.stringify(r.perClass || {}) }, metricsText(r.metrics)), h("td", { class: r.error ? "error" : "" }, r.error || r.message || ""))));
    if (!a.runs.length) runs.append(h("tr", {}, h("td", { colspan: 6 }, "No runs yet.")));
    drawClasses(a.runs);
    if (train) {
      train.disabled = pending || !a.enabled || !a.supported;
      train.title = pending ? "A training is already pending" : !a.enabled ? "Turn ML assist on in Details first" : "";
    }
  }
  /** The per-class table of the last finished cycle. @param {Run[]} all */
  function drawClasses(all) {
    // Runs come newest first: the last finished cycle's infer run and its validate run.
    const infer = all.find((r) => r.kind === "infer" && r.status === "succeeded");
    const validate = infer && all.find((r) => r.kind === "validate" && r.cycle === infer.cycle);
    const rows = Object.entries((infer && infer.perClass) || {});
    classTable.hidden = !rows.length;
    classes.replaceChildren(...rows.map(([name, f]) => {
      const held = (validate && validate.perClass && validate.perClass[name]) || {};
      const none = f.threshold === undefined || f.threshold < 0;
      return h("tr", { dataset: { class: name, threshold: none ? "" : String(f.threshold) } },
        h("td", {}, name), h("td", {}, none ? "none yet" : f.threshold.toFixed(3)), h("td", {}, String(f.prelabeled ?? 0)),
        h("td", {}, `${percent(f.coverage)} of ${f.guessed ?? 0}`),
        h("td", {}, held.heldOutPrecision === undefined ? "—" : `${percent(held.heldOutPrecision)} (${percent(held.lowerBound)})`),
        h("td", {}, String(f.auditBand ?? 0)),
        h("td", {}, f.liveAnswered ? `${f.liveConfirmed} of ${f.liveAnswered}` : "—"));
    }));
  }
  return { node, refresh };
}
