// @ts-check
// The HTTP API. The web UI's session is an HttpOnly cookie (POST /api/session trades a token for
// it), so no script, ours or a stored file's, can read the credential; a token is held only long
// enough to trade it. Every call carries the header a page on another site cannot send.
const SAME_SITE = { "X-Requested-With": "loupe" };

/** @typedef {import("./api-types").components["schemas"]} Schemas */
/** @typedef {Schemas["User"]} User */
/** @typedef {{method: string, url: string, headers?: Record<string, string> | null}} Link where a file is PUT: a SAS or the API's own signed link */
/** @typedef {{detail?: string | null, title?: string | null, errors?: {field?: string, rule?: string, msg?: string, message?: string, loc?: (string | number)[]}[] | null, omitted?: number | null}} ProblemLike */
/** @typedef {(sent: number) => void} Progress bytes sent so far */

/** Trades a bearer token for this browser's session; resolves with the signed-in user.
 * @param {string} token @returns {Promise<User>} */
export async function startSession(token) {
  const response = await fetch("/api/session", { method: "POST", headers: { Authorization: `Bearer ${token}`, ...SAME_SITE } });
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, problemText(data, response.status));
  return data;
}

/** Signs this browser out (the token stays valid until revoked with `loupe user revoke`). */
export async function endSession() {
  await fetch("/api/session", { method: "DELETE", headers: SAME_SITE }).catch(() => {});
}

/** An answer other than 2xx: its status, and the problem's detail as the message. */
export class ApiError extends Error {
  /** @param {number} status @param {string} detail */
  constructor(status, detail) {
    super(detail);
    this.status = status;
    /** @type {string[] | undefined} the items of a page that were not saved, when known */
    this.itemIds = undefined;
  }
}

/** Calls the API; returns {data, etag}. Errors carry the problem's detail.
 * @param {string} method @param {string} path under /api @param {unknown} [body] sent as JSON
 * @param {Record<string, string>} [headers] @returns {Promise<{data: any, etag: string | null}>} */
export async function call(method, path, body, headers = {}) {
  /** @type {RequestInit & {headers: Record<string, string>}} */
  const init = { method, headers: { ...SAME_SITE, ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(`/api${path}`, init);
  const etag = response.headers.get("ETag");
  if (response.status === 204) return { data: null, etag };
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, problemText(data, response.status));
  }
  return { data, etag };
}

/** @param {ProblemLike | null} problem @param {number} status */
function problemText(problem, status) {
  if (!problem) return `The server answered ${status}.`;
  const parts = [problem.detail || problem.title || `The server answered ${status}.`];
  for (const e of problem.errors || []) {
    const rule = e.rule || e.msg || e.message || "";
    if (!parts[0].includes(rule)) parts.push(`${e.field || (e.loc || []).join(".")}: ${rule}`);
  }
  if (problem.omitted) parts.push(`…and ${problem.omitted} more.`);
  return parts.join(" ");
}

/** GET, resolving with the answer's body. @param {string} path @returns {Promise<any>} */
export const get = (path) => call("GET", path).then((r) => r.data);
/** POST (an empty object when no body), resolving with the answer's body.
 * @param {string} path @param {unknown} [body] @returns {Promise<any>} */
export const post = (path, body) => call("POST", path, body ?? {}).then((r) => r.data);

/** Uploads one file into a project straight to storage, with progress: the API checks the
 * role and the path and signs a link for exactly this file (a SAS on Azure, its own link on one
 * machine, the same shape), the file is PUT there, then the API registers it; resolves with the
 * API's answer (its items). No file passes through the API or the Static Web App.
 * @param {string} projectId @param {string} path @param {File} file @param {Progress} [onProgress]
 * @returns {Promise<Schemas["Uploaded"]>} */
export async function upload(projectId, path, file, onProgress) {
  const project = `/projects/${encodeURIComponent(projectId)}`;
  const link = await post(`${project}/uploads`, { path, size: file.size });
  await putOnLink(link, file, onProgress);
  return post(`${project}/uploads/complete`, { path });
}

/** The SHA-256 of a file, as hex: what names an import or migration file, so that the same file
 * is the same job. @param {Blob} file */
export async function sha256(file) {
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Makes a project of an Azure ML labels export straight from storage: a link for the file
 * (creators), the file PUT there, the migration started; then the job is polled until the import
 * stage has checked the file and made the project. Resolves with the finished job (`project` is
 * the new project's id); a refused file rejects with every problem listed. No file passes
 * through the API, and no request waits on one.
 * @param {Record<string, unknown>} options @param {File} file @param {Progress} [onProgress]
 * @returns {Promise<any>} */
export async function migrate(options, file, onProgress) {
  const digest = await sha256(file);
  const link = await post("/migrations/azureml/files", { sha256: digest, size: file.size });
  await putOnLink(link, file, onProgress);
  const job = await post("/migrations/azureml/jobs", { ...options, sha256: digest });
  return finished(`/migrations/azureml/jobs/${encodeURIComponent(job.id)}`);
}

/** Labels from a file imported into a project the same way (owners); resolves with the
 * finished import job, its report.
 * @param {string} projectId @param {Record<string, unknown>} options @param {File} file
 * @param {Progress} [onProgress] @returns {Promise<any>} */
export async function importLabels(projectId, options, file, onProgress) {
  const digest = await sha256(file);
  const base = `/projects/${encodeURIComponent(projectId)}/imports`;
  const link = await post(`${base}/files`, { ...options, sha256: digest, size: file.size });
  await putOnLink(link, file, onProgress);
  const job = await post(`${base}/jobs`, { ...options, sha256: digest });
  return finished(`${base}/jobs/${encodeURIComponent(job.id)}`);
}

/** Polls a stage-run job until it ends: applied resolves, refused or failed rejects.
 * @param {string} path @returns {Promise<any>} */
async function finished(path) {
  for (let wait = 100; ; wait = Math.min(wait * 2, 2000)) {
    const job = await get(path);
    if (job.status === "applied") return job;
    if (job.status === "refused") throw new ApiError(422, problemText({ detail: job.error, errors: job.errors, omitted: job.omitted }, 422));
    if (job.status === "failed") throw new ApiError(409, `${job.error} Start it again to finish.`);
    await new Promise((resolve) => { setTimeout(resolve, wait); });
  }
}

/** Sends a file to a signed link (no cookie, no credential but the link itself).
 * @param {Link} link @param {Blob} file @param {Progress} [onProgress] @returns {Promise<void>} */
function putOnLink(link, file, onProgress = () => {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(link.method, new URL(link.url, location.href).href);
    for (const [name, value] of Object.entries(link.headers || {})) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => (xhr.status >= 200 && xhr.status < 300 ? resolve()
      : reject(new ApiError(xhr.status, `Storage refused the file (${xhr.status}); try again.`)));
    xhr.onerror = () => reject(new ApiError(0, "Storage is not reachable"));
    xhr.send(file);
  });
}
