// @ts-check
// Loupe's web UI: sign-in, routing, the project list, the create wizard and the project shell.
import "./style.css";
import { ApiError, call, endSession, get, migrate, post, startSession } from "./api.js";
import { pathOf, sortFiles, uploadAll } from "./files.js";
import { skippedList } from "./owner.js";
import { h, markdown, showError, words } from "./dom.js";
import { assistFields } from "./assist.js";
import { ATTRIBUTES_NOTE, attributeEditor } from "./attreditor.js";
import { relationClassesCard, relationText } from "./relationclasses.js";
import { parseClassLine } from "./keypoints.js";
import { labelView } from "./label.js";
import { dashboardView, detailsView } from "./manage.js";
import { reviewView } from "./review.js";

/** @typedef {import("./api-types").components["schemas"]} Schemas */
/** @typedef {Schemas["User"]} User */
/** @typedef {Schemas["ProjectView"]} ProjectView */
/** @typedef {Schemas["ProjectSettings"]} ProjectSettings */
/** A new project: what has a default may be left out (the generated type counts it required).
 * @typedef {Pick<ProjectSettings, "name" | "taskType" | "labelClasses"> & Partial<ProjectSettings>} NewProject */
/**
 * What each project tab is given.
 * @typedef {object} ViewContext
 * @property {ProjectView} project
 * @property {string} role the signed-in user's role in the project
 * @property {User} me
 * @property {HTMLElement} pane where the tab draws
 * @property {typeof every} every
 */

/** An element index.html holds. @param {string} id */
function part(id) {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing from the page`);
  return found;
}

const view = part("view");
/** @type {User | null} */
let me = null;
/** @type {() => void} */
let cleanup = () => {};

const OLD_TOKEN = "loupe.token"; // where earlier versions kept the token, readable by any script

/** A `#token=` link (what `loupe serve` prints) or a token an earlier version stored: traded for
 * the session cookie at once, and dropped from the address bar and from storage. */
async function takeToken() {
  const match = location.hash.match(/token=([^&]+)/);
  const stored = localStorage.getItem(OLD_TOKEN);
  localStorage.removeItem(OLD_TOKEN);
  if (match) history.replaceState(null, "", `${location.pathname}#/`);
  const token = match ? decodeURIComponent(match[1]) : stored;
  if (!token) return;
  try { me = await startSession(token); } catch (e) { showError(e); }
}

/** Runs `fn` now and every `ms` while the view stays; returns the stopper.
 * @param {number} ms @param {() => unknown} fn @returns {() => void} */
export function every(ms, fn) {
  let stopped = false;
  const tick = async () => {
    if (stopped) return;
    try { await fn(); } catch (e) { showError(e); }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  let timer = setTimeout(tick, 0);
  return () => { stopped = true; clearTimeout(timer); };
}

/** @type {string | null} */
let signInMode = null; // "staticWebApp" behind Azure's Static Web App (Entra), else "token"

/** @returns {Promise<string>} */
async function howToSignIn() {
  const mode = signInMode || (await get("/health").catch(() => ({}))).signIn || "token";
  signInMode = mode;
  return mode;
}

async function signIn() {
  me = null;
  part("who").replaceChildren();
  if ((await howToSignIn()) === "staticWebApp") {
    view.replaceChildren(h("div", { id: "signin" }, h("p", {}, "Sign in with your organization's Microsoft account."),
      h("a", { class: "button primary", id: "sign-in", href: "/.auth/login/aad?post_login_redirect_uri=/" }, "Sign in")));
    return;
  }
  const input = h("input", { id: "token", type: "password", placeholder: "Bearer token (from `loupe user create NAME`)", autocomplete: "off" });
  view.replaceChildren(h("form", { id: "signin", onsubmit: async (e) => {
    e.preventDefault();
    try { me = await startSession(input.value.trim()); route(); } catch (error) { showError(error); }
  } }, input, h("button", {}, "Sign in")));
}

/** @param {User} me */
function showWho(me) {
  const out = signInMode === "staticWebApp"
    ? h("a", { id: "sign-out", class: "link", href: "/.auth/logout?post_logout_redirect_uri=/" }, "Sign out")
    : h("button", { type: "button", id: "sign-out", class: "link", onclick: async () => { await endSession(); signIn(); } }, "Sign out");
  const admin = me.roles?.includes("admin") ? h("a", { href: "#/users", id: "users-link" }, "Users") : null;
  part("who").replaceChildren(admin || "", h("span", {}, me.id), out);
}

const mayCreate = () => Boolean(me?.roles?.some((r) => r === "admin" || r === "creator"));

let routeGen = 0; // a newer navigation makes an older one still loading stand down

async function route() {
  const gen = ++routeGen;
  cleanup();
  cleanup = () => {};
  showError(null);
  /** @type {User} */
  let user;
  try {
    user = me = me || (await get("/me"));
    if (gen !== routeGen) return;
  } catch (e) {
    if (gen !== routeGen) return; // a later route (a sign-in that finished meanwhile) owns the page
    me = null;
    if (e instanceof ApiError && e.status === 401) return signIn();
    showError(e);
    return;
  }
  await howToSignIn();
  if (gen !== routeGen) return;
  showWho(user);
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  const crumbs = part("crumbs");
  crumbs.replaceChildren();
  if (parts[0] === "new") return (cleanup = wizard());
  if (parts[0] === "users") return (cleanup = usersView(user));
  if (parts[0] === "migrate") return (cleanup = migrateView());
  if (parts[0] === "p" && parts[1]) {
    const stop = await projectShell(user, parts[1], parts[2] || "", gen).catch((e) => notInProject(e));
    if (gen === routeGen) cleanup = stop;
    else stop();
    return;
  }
  cleanup = projectList(user);
}

/** The projects the user is in, with their progress. @param {User} me */
function projectList(me) {
  const body = h("tbody");
  const table = h("table", { id: "projects" },
    h("thead", {}, h("tr", {}, h("th", {}, "Project"), h("th", {}, "Task"), h("th", {}, "Status"), h("th", {}, "Progress"), h("th", {}, "Your role"), h("th", {}, "Created"))), body);
  const create = mayCreate()
    ? h("span", { class: "actions" }, h("a", { class: "button", href: "#/migrate", id: "migrate" }, "Move from Azure ML"),
      h("a", { class: "button primary", href: "#/new", id: "new-project" }, "New project"))
    : h("p", { class: "note", id: "no-create" }, "Ask a Loupe admin for the creator role to create projects.");
  view.replaceChildren(h("div", { class: "bar" }, h("h1", {}, "Projects"), create), table);
  return every(5000, async () => {
    /** @type {Schemas["ListedProject"][]} */
    const projects = await get("/projects"); // each with its progress: one request for the list
    const rows = projects.map((project) => {
      const role = project.members?.[me.id] || "";
      const { items, labeled } = project.progress;
      const bar = h("progress", { max: items || 1, value: labeled, title: `${labeled} of ${items} labeled` });
      const link = h("a", { href: `#/p/${encodeURIComponent(project.id)}/${role === "labeler" ? "label" : "dashboard"}` }, project.name);
      return h("tr", { dataset: { projectId: project.id } }, h("td", {}, link), h("td", {}, words(project.taskType)),
        h("td", { class: "status" }, project.status), h("td", {}, bar), h("td", {}, role), h("td", {}, new Date(project.createdAt).toLocaleString()));
    });
    body.replaceChildren(...rows);
    if (!projects.length) body.append(h("tr", {}, h("td", { colspan: 6 }, "No projects yet.")));
  });
}

/** Admins: who may create projects, and who else is an admin. @param {User} me */
function usersView(me) {
  const body = h("tbody");
  view.replaceChildren(h("div", { class: "bar" }, h("h1", {}, "Users")),
    h("p", { class: "note" }, "Creators may create projects (and own them); admins also grant these roles. Project members are managed in each project's Details."),
    h("table", { id: "users" }, h("thead", {}, h("tr", {}, h("th", {}, "User"), h("th", {}, "Creator"), h("th", {}, "Admin"), h("th", {}, "Since"))), body));
  const toggle = (/** @type {User} */ user, /** @type {"creator" | "admin"} */ role) => h("input", {
    type: "checkbox", checked: (user.roles || []).includes(role), "aria-label": `${role}: ${user.id}`,
    onchange: async (/** @type {Event} */ e) => {
      const box = /** @type {HTMLInputElement} */ (e.target);
      try {
        await call(box.checked ? "PUT" : "DELETE", `/users/${encodeURIComponent(user.id)}/roles/${role}`);
        if (user.id === me.id) me = await get("/me");
      } catch (error) { box.checked = !box.checked; showError(error); }
    },
  });
  return every(5000, async () => {
    if (body.contains(document.activeElement)) return; // not while a box is being changed
    /** @type {User[]} */
    const users = await get("/users");
    body.replaceChildren(...users.map((u) => h("tr", { dataset: { user: u.id } }, h("td", {}, u.id),
      h("td", {}, toggle(u, "creator")), h("td", {}, toggle(u, "admin")), h("td", {}, new Date(u.createdAt).toLocaleDateString()))));
  });
}

/** A project from an Azure ML Data Labeling labels export: same task type, classes and labels. */
function migrateView() {
  const f = {
    name: h("input", { id: "m-name", required: true, maxlength: 200 }),
    file: h("input", { id: "m-file", type: "file", accept: ".jsonl,.json,.zip" }),
    container: h("input", { id: "m-container", placeholder: "container (empty for text)" }),
    path: h("input", { id: "m-path", placeholder: "folder/**" }),
  };
  const progress = h("progress", { id: "m-progress", hidden: true, value: 0, max: 1 });
  const result = h("div", { id: "m-result" });
  const go = h("button", { type: "button", class: "primary", id: "m-go" }, "Create the project");
  go.addEventListener("click", async () => {
    const file = f.file.files?.[0];
    if (!f.name.value.trim() || !file) { showError(new Error("Give the project a name and choose the export file.")); return; }
    showError(null);
    go.disabled = true; progress.hidden = false; progress.max = file.size || 1;
    /** @type {Record<string, string>} */
    const options = { name: f.name.value.trim() };
    if (f.container.value.trim()) Object.assign(options, { container: f.container.value.trim(), path: f.path.value.trim() });
    try {
      // The file goes straight to storage; the server's import stage then checks it and makes
      // the project while this polls (no request carries the file or waits on it).
      const r = await migrate(options, file, (sent) => { progress.value = sent; });
      const link = h("a", { href: `#/p/${encodeURIComponent(r.project)}/dashboard`, id: "m-open" }, "Open the project");
      result.replaceChildren(h("dl", {},
        h("dt", {}, "Task type"), h("dd", {}, words(r.taskType)),
        h("dt", {}, "Classes"), h("dd", {}, r.classes.join(", ")),
        h("dt", {}, "Records"), h("dd", {}, String(r.records)),
        h("dt", {}, "Items"), h("dd", { id: "m-items" }, String(r.items)),
        h("dt", {}, "Labeled"), h("dd", { id: "m-labeled" }, String(r.labeled)),
        h("dt", {}, "Left unlabeled"), h("dd", {}, String(r.unlabeledRecords)),
        h("dt", {}, "Images not found"), h("dd", { id: "m-missing" }, String(r.missing))),
        r.missingUrls.length ? h("details", {}, h("summary", {}, "Which images were not found"), h("ul", {}, r.missingUrls.map((/** @type {string} */ u) => h("li", {}, u)))) : "",
        link);
    } catch (e) { showError(e); go.disabled = false; }
    progress.hidden = true;
  });
  view.replaceChildren(h("h1", {}, "Move a project from Azure ML Data Labeling"),
    h("p", { class: "note" }, "Export the labels from Azure ML (the JSONL, or the MLTable folder zipped). Images stay where they are: name the blob container and folder that hold them (one this deployment allows). Text projects bring their text in the file. The whole file is checked first: nothing is created if it has a problem."),
    h("fieldset", {}, h("label", {}, "Project name ", f.name), h("label", {}, "Labels export ", f.file),
      h("label", {}, "Images container ", f.container), h("label", {}, "Folder in it ", f.path)),
    h("div", { class: "bar" }, go, progress), result);
  return () => {};
}

/** The wizard's task types, in its order: checked against the API's enum, so each one the API has is here and none other.
 * @type {Record<Schemas["TaskType"], true>} */
const WIZARD_TYPES = { image_multiclass: true, image_multilabel: true, image_bounding_box: true, image_polygon: true, image_keypoints: true, image_semantic_segmentation: true, image_instance_segmentation: true, text_multiclass: true, text_multilabel: true, text_ner: true };
const TASK_TYPES = Object.keys(WIZARD_TYPES);

/** The create wizard: details, data, classes, instructions, review; then create and upload. */
function wizard() {
  const f = {
    name: h("input", { id: "w-name", required: true, maxlength: 200 }),
    type: h("select", { id: "w-type" }, TASK_TYPES.map((t) => h("option", { value: t }, words(t)))),
    source: h("select", { id: "w-source" }, h("option", { value: "upload" }, "Upload files"), h("option", { value: "blob" }, "Blob container path")),
    files: h("input", { id: "w-files", type: "file", multiple: true }),
    folder: h("input", { id: "w-folder", type: "file", multiple: true, webkitdirectory: true }),
    container: h("input", { id: "w-container", placeholder: "container" }),
    path: h("input", { id: "w-path", placeholder: "folder/**/*.jpg" }),
    classes: h("textarea", { id: "w-classes", rows: 6, placeholder: "One class per row; levels as Animal/Cat; optional key as 'Cat = c'" }),
    instructions: h("textarea", { id: "w-instructions", rows: 8, placeholder: "Markdown" }),
    url: h("input", { id: "w-url", placeholder: "https://… (instead of markdown)" }),
    refresh: h("input", { id: "w-refresh", type: "checkbox", checked: true }),
    series: h("input", { id: "w-series", type: "checkbox" }),
    min: h("input", { id: "w-min", type: "number", min: 1, max: 10, value: 1 }),
    max: h("input", { id: "w-max", type: "number", min: 1, max: 10, value: 1 }),
  };
  const assist = assistFields({}, f.type.value, "w-assist");
  const classesNote = h("p", { class: "note", id: "w-classes-note" });
  const showClassesNote = () => {
    const points = f.type.value === "image_keypoints";
    f.classes.placeholder = points
      ? "One class per row: its name, then after ':' its points in order and after '|' the skeleton's edges\nface: nose, left_eye, right_eye | 0-1, 0-2"
      : "One class per row; levels as Animal/Cat; optional key as 'Cat = c'";
    classesNote.textContent = points
      ? "Keypoints: each class lists its points in the order labelers place them, then the edges drawn between them as pairs of point numbers counted from 0 (0-1 joins the first two). A key goes before the colon: 'face = f: nose, …'. The first nine get keys 1–9 unless you give one."
      : "The first nine get keys 1–9 unless you give one.";
  };
  showClassesNote();
  /** The classes as typed so far (none while a keypoint line is unfinished). */
  const typedClasses = () => { try { return classLines(); } catch { return []; } };
  const attrs = attributeEditor({ prefix: "w-attr", classes: typedClasses });
  /** @type {Schemas["RelationClass"][]} text_ner: the relation classes declared */
  const relations = [];
  const relationsBox = h("div", { id: "w-relations" });
  const showRelations = () => {
    relationsBox.hidden = f.type.value !== "text_ner";
    relationsBox.replaceChildren(relationClassesCard({ labelClasses: typedClasses(), relationClasses: relations }, async (added) => {
      const taken = relations.find((r) => r.name.toLowerCase() === added.name.toLowerCase());
      if (!added.name || taken) { showError(new Error(added.name ? `“${added.name}” is there already (names are unique, whatever their case).` : "Name the relation class.")); return; }
      showError(null); relations.push({ ...added, directed: added.directed !== false }); showRelations();
    }, (name) => { relations.splice(relations.findIndex((r) => r.name === name), 1); showRelations(); }));
  };
  const classesChanged = () => { attrs.refresh(); showRelations(); };
  showRelations();
  f.classes.addEventListener("input", classesChanged);
  f.type.addEventListener("change", () => { assist.setTaskType(f.type.value); showClassesNote(); classesChanged(); });
  const preview = h("div", { class: "preview" });
  f.instructions.addEventListener("input", () => preview.replaceChildren(markdown(f.instructions.value)));
  const blobRow = h("div", { hidden: true }, h("label", {}, "Container ", f.container), h("label", {}, "Path (globs allowed) ", f.path));
  const chosen = h("div", { id: "w-chosen", class: "note" });
  const uploadRow = h("div", {}, h("label", {}, "Files ", f.files), h("label", {}, "or a folder ", f.folder), chosen);
  /** The files the project takes, and those it would skip with why (hidden, other types). */
  const sorted = () => sortFiles(f.type.value, [...(f.files.files || []), ...(f.folder.files || [])]);
  const skippedRows = () => sorted().skip.map((x) => ({ path: pathOf(x.file), reason: x.reason }));
  const showChosen = () => {
    const { take, skip } = sorted();
    chosen.replaceChildren(`${take.length} file(s) to upload`, skip.length ? `; ${skip.length} left out:` : "", skippedList(skippedRows(), "w-skipped"));
  };
  for (const input of [f.files, f.folder, f.type]) input.addEventListener("change", showChosen);
  f.source.addEventListener("change", () => { blobRow.hidden = f.source.value !== "blob"; uploadRow.hidden = !blobRow.hidden; });
  const steps = [
    h("fieldset", {}, h("legend", {}, "1. Project"), h("label", {}, "Name ", f.name), h("label", {}, "Task type ", f.type)),
    h("fieldset", {}, h("legend", {}, "2. Data"), h("label", {}, "Source ", f.source), uploadRow, blobRow,
      h("label", {}, f.refresh, " Incremental refresh (new files become items)"),
      h("label", { id: "w-series-row" }, f.series, " DICOM series: slices sharing a SeriesInstanceUID become one item (a volume)")),
    h("fieldset", {}, h("legend", {}, "3. Label classes"), f.classes, classesNote,
      h("h3", {}, "Attributes (optional)"), h("p", { class: "note" }, `${ATTRIBUTES_NOTE} Choose a class, then write its attributes.`), attrs.node,
      relationsBox),
    h("fieldset", {}, h("legend", {}, "4. Instructions"), h("div", { class: "split" }, f.instructions, preview), h("label", {}, "or a URL ", f.url)),
    h("fieldset", {}, h("legend", {}, "5. Options"), assist.node,
      h("label", {}, "Consensus: at least ", f.min), h("label", {}, " at most ", f.max, " labelers per item")),
  ];
  const review = h("fieldset", { hidden: true, id: "w-review" });
  const progress = h("progress", { id: "w-progress", hidden: true, value: 0, max: 1 });
  const status = h("p", { id: "w-status", class: "note" });
  let step = 0;
  // Steps run one after another: a click while the name is being checked waits its turn.
  let moving = Promise.resolve();
  const go = (/** @type {number} */ by) => { moving = moving.then(() => show(step + by)).catch(showError); };
  const back = h("button", { type: "button", onclick: () => go(-1) }, "Back");
  const next = h("button", { type: "button", class: "primary", id: "w-next", onclick: () => go(1) }, "Next");
  const create = h("button", { type: "button", class: "primary", id: "w-create", hidden: true, onclick: () => submit() }, "Create project");
  function files() { return sorted().take; }
  /** The classes' lines as classes (throws at a line that is not one). */
  function classLines() {
    const points = f.type.value === "image_keypoints";
    return f.classes.value.split("\n").map((l) => l.trim()).filter(Boolean).map((line) => parseClassLine(line, points));
  }
  /** The project as the wizard's fields say (throws at a class or attribute row that is wrong).
   * @returns {NewProject & Pick<ProjectSettings, "assist" | "consensus">} */
  function settings() {
    const classes = classLines().map((c) => {
      const { attributes, error } = attrs.parsed(c.name);
      if (error) throw new Error(error);
      return attributes.length ? { ...c, attributes } : c;
    });
    /** @type {ReturnType<typeof settings>} */
    const body = {
      name: f.name.value.trim(), taskType: /** @type {ProjectSettings["taskType"]} */ (f.type.value), labelClasses: classes,
      instructions: f.url.value.trim() ? { markdown: "", url: f.url.value.trim() } : { markdown: f.instructions.value },
      incrementalRefresh: f.refresh.checked, assist: assist.value(),
      consensus: { minLabelers: Number(f.min.value), maxLabelers: Number(f.max.value) },
    };
    if (f.type.value === "text_ner" && relations.length) body.relationClasses = relations;
    if (f.source.value === "blob") body.dataset = { source: "blob", container: f.container.value.trim(), path: f.path.value.trim() };
    if (f.series.checked && !f.type.value.startsWith("text_")) { // the other ingestion settings keep their defaults
      body.ingest = /** @type {ProjectSettings["ingest"]} */ (/** @type {unknown} */ ({ dicomSeries: true }));
    }
    return body;
  }
  /** Goes to step `to` (the review after the last), checking what the step before needs. @param {number} to */
  async function show(to) {
    if (to > step && step === 0 && !f.name.value.trim()) { showError(new Error("Give the project a name.")); return; }
    if (to > step && step === 0) { // the name first: names are never reused
      try {
        const check = await get(`/project-names/${encodeURIComponent(f.name.value.trim())}`);
        if (!check.available) { showError(new Error(`The name “${check.name}” is taken: project names are never reused, even after deletion. Choose another name.`)); return; }
      } catch (e) { showError(e); return; }
    }

    if (to > step && step === 2 && !settings().labelClasses.length) { showError(new Error("Add at least one label class.")); return; }
    showError(null);
    step = Math.max(0, Math.min(steps.length, to));
    steps.forEach((s, i) => (s.hidden = i !== step));
    review.hidden = step !== steps.length;
    back.disabled = step === 0;
    next.hidden = step === steps.length;
    create.hidden = step !== steps.length;
    if (step === steps.length) {
      const b = settings();
      review.replaceChildren(h("legend", {}, "Review"), h("dl", {},
        h("dt", {}, "Name"), h("dd", {}, b.name), h("dt", {}, "Task type"), h("dd", {}, words(b.taskType)),
        h("dt", {}, "Data"), h("dd", {}, b.dataset ? `${b.dataset.container}/${b.dataset.path}` : `${files().length} file(s) to upload${skippedRows().length ? ` (${skippedRows().length} left out)` : ""}`),
        h("dt", {}, "Classes"), h("dd", { id: "w-review-classes" }, b.labelClasses.map((c) => (c.keypoints ? `${c.name} (points: ${c.keypoints.points.join(", ")}; ${(c.keypoints.edges || []).length} edges)` : c.name)
          + (c.attributes?.length ? ` [${c.attributes.map((a) => a.name).join(", ")}]` : "")).join("; ")),
        b.relationClasses?.length ? [h("dt", {}, "Relation classes"), h("dd", { id: "w-review-relations" }, b.relationClasses.map((r) => `${r.name} (${relationText(r)})`).join("; "))] : "",
        h("dt", {}, "Consensus"), h("dd", {}, `${b.consensus.minLabelers}–${b.consensus.maxLabelers}`),
        h("dt", {}, "ML assist"), h("dd", { id: "w-review-assist" }, b.assist.enabled
          ? `on · ${b.assist.backbone || "default backbone"} · precision ${b.assist.targetPrecision} · first after ${b.assist.trainAfter}, every ${b.assist.trainEvery}${b.assist.activeLearning ? " · active learning" : ""}` : "off")));
    }
  }
  const report = h("div", { id: "w-report" });
  async function submit() {
    create.disabled = true;
    /** @type {ProjectView} */
    let project;
    try {
      project = await post("/projects", settings());
    } catch (e) {
      showError(e); create.disabled = false;
      return;
    }
    // From here the project exists: whatever happens to a file, the way on is to open it.
    const open = h("a", { class: "button primary", id: "w-open", href: `#/p/${encodeURIComponent(project.id)}/dashboard` }, "Open the project");
    create.replaceWith(open); back.disabled = true;
    const list = f.source.value === "upload" ? files() : [];
    progress.hidden = !list.length; progress.max = list.reduce((a, file) => a + file.size, 0) || 1;
    const result = await uploadAll(project.id, list, (done, sent) => { progress.value = sent; status.textContent = `Uploaded ${done} of ${list.length} files`; });
    progress.hidden = true;
    const left = [...skippedRows(), ...result.failed];
    if (!left.length) { location.hash = open.getAttribute("href") || "#/"; return; }
    status.textContent = `Created. Uploaded ${result.uploaded} of ${list.length} files; add more any time from Details.`;
    report.replaceChildren(skippedList(left, "w-left-out"));
  }
  view.replaceChildren(h("h1", {}, "New project"), h("form", { class: "wizard", onsubmit: (e) => e.preventDefault() }, ...steps, review,
    h("div", { class: "bar" }, back, next, create), progress, status, report));
  show(0);
  return () => {};
}

/** A project this user cannot open: say why and what to do, instead of a blank page.
 * @param {unknown} error @returns {() => void} */
function notInProject(error) {
  if (!(error instanceof ApiError) || (error.status !== 403 && error.status !== 404)) throw error;
  view.replaceChildren(h("div", { class: "card", id: "not-member" },
    h("h1", {}, error.status === 403 ? "You are not a member of this project" : "No such project"),
    h("p", {}, error.status === 403
      ? "Only its members see it. Ask one of its owners to add you (Details → Members), then open the link again."
      : "It does not exist, or it was deleted. Check the link with whoever sent it."),
    h("p", {}, h("a", { href: "#/" }, "Back to your projects"))));
  return () => {};
}

/** A project's tabs, and the one asked for. @param {User} me @param {string} projectId
 * @param {string} tab @param {number} gen the navigation it belongs to @returns {Promise<() => void>} */
async function projectShell(me, projectId, tab, gen) {
  /** @type {{data: ProjectView}} */
  const { data: project } = await call("GET", `/projects/${encodeURIComponent(projectId)}`);
  if (gen !== routeGen) return () => {};
  const role = project.members?.[me.id] || "labeler";
  const tabs = role === "labeler" ? ["label"] : ["label", "dashboard", "data", "details"];
  if (!tabs.includes(tab)) tab = tabs[0] === "label" && role !== "labeler" ? "dashboard" : tabs[0];
  part("crumbs").replaceChildren(h("span", {}, " / "), h("span", { id: "project-name" }, project.name),
    h("span", { class: `status ${project.status}`, id: "project-status" }, project.status));
  /** @type {Record<string, string>} */
  const names = { label: "Label", dashboard: "Dashboard", data: "Review", details: "Details" };
  const nav = h("nav", { class: "tabs" }, tabs.map((t) => h("a", { href: `#/p/${encodeURIComponent(projectId)}/${t}`, class: t === tab ? "active" : "", id: `tab-${t}` }, names[t])));
  const pane = h("section", { id: "pane" });
  view.replaceChildren(nav, pane);
  /** @type {ViewContext} */
  const context = { project, role, me, pane, every };
  const stopStatus = every(4000, async () => {
    const fresh = await get(`/projects/${encodeURIComponent(projectId)}`);
    const badge = document.getElementById("project-status");
    if (badge) { badge.textContent = fresh.status; badge.className = `status ${fresh.status}`; }
  });
  /** @type {Record<string, (context: ViewContext) => Promise<(() => void) | undefined>>} */
  const views = { label: labelView, dashboard: dashboardView, data: reviewView, details: detailsView };
  const stop = await views[tab](context);
  return () => { stopStatus(); stop && stop(); };
}

window.addEventListener("hashchange", async () => {
  if (location.hash.includes("token=")) await takeToken();
  route();
});
takeToken().then(route);
