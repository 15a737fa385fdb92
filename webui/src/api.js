// The HTTP API, with the bearer token kept in localStorage (signed in from `#token=` links).
export const tokenKey = "loupe.token";

export function token() {
  return localStorage.getItem(tokenKey);
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

/** Calls the API; returns {data, etag}. Errors carry the problem's detail. */
export async function call(method, path, body, headers = {}) {
  const init = { method, headers: { Authorization: `Bearer ${token()}`, ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(`/api${path}`, init);
  const etag = response.headers.get("ETag");
  if (response.status === 204) return { data: null, etag };
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    if (response.status === 401) localStorage.removeItem(tokenKey);
    throw new ApiError(response.status, problemText(data, response.status));
  }
  return { data, etag };
}

function problemText(problem, status) {
  if (!problem) return `The server answered ${status}.`;
  const parts = [problem.detail || problem.title || `The server answered ${status}.`];
  for (const e of problem.errors || []) parts.push(`${(e.loc || e.field || []).toString()}: ${e.msg || e.message || ""}`);
  return parts.join(" ");
}

export const get = (path) => call("GET", path).then((r) => r.data);
export const post = (path, body) => call("POST", path, body ?? {}).then((r) => r.data);

/** Uploads one file with progress; resolves with the API's answer. */
export function upload(projectId, path, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const encoded = path.split("/").map(encodeURIComponent).join("/");
    xhr.open("PUT", `/api/projects/${encodeURIComponent(projectId)}/files/${encoded}`);
    xhr.setRequestHeader("Authorization", `Bearer ${token()}`);
    if (file.type) xhr.setRequestHeader("Content-Type", file.type);
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => {
      const data = JSON.parse(xhr.responseText || "null");
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new ApiError(xhr.status, problemText(data, xhr.status)));
    };
    xhr.onerror = () => reject(new ApiError(0, "Loupe is not reachable"));
    xhr.send(file);
  });
}
