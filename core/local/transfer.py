"""`loupe export` and `loupe import`: labels out of and into a project through the HTTP API (a
laptop or an Azure deployment alike), with a progress bar. An export is streamed to a file as
the server writes it, or run as a job on the server whose file is then downloaded. An import
(and a migration from Azure ML) puts its file straight into storage on a link the server signs,
then polls the job the server's import stage runs: no file passes through the API."""

from __future__ import annotations

import contextlib
import hashlib
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from tqdm import tqdm  # type: ignore[import-untyped]  # no stubs shipped

from core.local.upload import API, UploadError, _raise_for, token_headers

CHUNK = 1 << 20
POLL_S = 1.0


def _client(server: str, token: str) -> httpx.Client:
    headers = token_headers(token)
    timeout = httpx.Timeout(60.0, read=3600.0)
    return httpx.Client(base_url=server.rstrip("/"), headers=headers, timeout=timeout)


def export(
    *,
    server: str,
    token: str,
    project_id: str,
    params: dict[str, Any],
    out: Path | None = None,
    job: bool = False,
    progress: bool = True,
    client: httpx.Client | None = None,
) -> Path:
    """Download the export into `out` (a folder, or a file name; default: the server's name in
    the working directory); returns the file written."""
    with client or _client(server, token) as http:
        base = f"{API}/projects/{quote(project_id, safe='')}"
        if job:
            url = _run_job(http, base, params, progress)
            return _download(http, url, {}, out, progress, absolute=True)
        return _download(http, f"{base}/export", params, out, progress, absolute=False)


def _run_job(http: httpx.Client, base: str, params: dict[str, Any], progress: bool) -> str:
    options = {k: v for k, v in params.items() if k != "format"}
    if "state" in options:
        options["states"] = options.pop("state")
    if "label" in options:
        options["labels"] = options.pop("label")
    response = http.post(f"{base}/exports", json={"format": params["format"], "options": options})
    _raise_for(response)
    job_id = response.json()["id"]
    with tqdm(
        desc=f"export job {job_id}", disable=not progress, file=sys.stderr, total=None
    ) as bar:
        while True:
            found = http.get(f"{base}/exports/{job_id}")
            _raise_for(found)
            view = found.json()
            if view["status"] == "succeeded":
                return str(view["url"])
            if view["status"] == "failed":
                raise UploadError(f"the export failed: {view.get('error')}")
            bar.update(0)
            time.sleep(POLL_S)


def _download(
    http: httpx.Client,
    url: str,
    params: dict[str, Any],
    out: Path | None,
    progress: bool,
    *,
    absolute: bool,
) -> Path:
    request = http.build_request("GET", url, params=params or None)
    if absolute:  # a signed link: the token must not go to the blob store
        for name in token_headers(""):
            del request.headers[name]
    with contextlib.closing(http.send(request, stream=True)) as response:
        if not response.is_success:
            response.read()
            _raise_for(response)
        path = _target(out, _file_name(response, url))
        total = (
            int(response.headers["Content-Length"])
            if "Content-Length" in response.headers
            else None
        )
        bar = tqdm(total=total, unit="B", unit_scale=True, disable=not progress, file=sys.stderr)
        with bar, path.open("wb") as file:
            for chunk in response.iter_bytes(CHUNK):
                file.write(chunk)
                bar.update(len(chunk))
    return path


def _file_name(response: httpx.Response, url: str) -> str:
    disposition: str = response.headers.get("Content-Disposition", "")
    if 'filename="' in disposition:
        return disposition.split('filename="', 1)[1].split('"', 1)[0]
    return url.split("?", 1)[0].rsplit("/", 1)[-1] or "export"


def _target(out: Path | None, name: str) -> Path:
    if out is None:
        return Path(name)
    return out / name if out.is_dir() else out


def import_file(
    *,
    server: str,
    token: str,
    project_id: str,
    path: Path,
    format: str,
    mode: str,
    normalized: bool = False,
    progress: bool = True,
    client: httpx.Client | None = None,
) -> dict[str, Any]:
    """Put a labels file straight into storage and have the server import it; its report of
    what it did (the import job). `ImportRefused` when the file has problems (then nothing was
    imported): its `lines()` list them."""
    base = f"{API}/projects/{quote(project_id, safe='')}/imports"
    file = {"format": format, "mode": mode, "normalized": normalized, "sha256": _sha256(path)}
    with client or _client(server, token) as http:
        link = http.post(f"{base}/files", json=file | {"size": path.stat().st_size})
        _raise_for(link)
        _put(http, link.json(), path, progress)
        started = http.post(f"{base}/jobs", json=file)
        _raise_for(started)
        return _finished(http, f"{base}/jobs/{started.json()['id']}", "import", progress)


def migrate_file(
    *,
    server: str,
    token: str,
    path: Path,
    name: str,
    container: str | None,
    folder: str = "",
    task_type: str | None = None,
    progress: bool = True,
    client: httpx.Client | None = None,
) -> dict[str, Any]:
    """Put an Azure ML labels export straight into storage and have the server make a project
    of it; its report (the migration job, `project` the new project's id). `ImportRefused`
    when the file has problems (then nothing was created)."""
    sha256 = _sha256(path)
    start = {"sha256": sha256, "name": name, "path": folder, "container": container}
    if task_type:
        start["taskType"] = task_type
    base = f"{API}/migrations/azureml"
    with client or _client(server, token) as http:
        link = http.post(f"{base}/files", json={"sha256": sha256, "size": path.stat().st_size})
        _raise_for(link)
        _put(http, link.json(), path, progress)
        started = http.post(f"{base}/jobs", json=start)
        _raise_for(started)
        return _finished(http, f"{base}/jobs/{started.json()['id']}", "migration", progress)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _put(http: httpx.Client, link: dict[str, Any], path: Path, progress: bool) -> None:
    """The file's bytes to its link (a SAS, or the server's own): without the token."""
    size = path.stat().st_size
    headers = link["headers"] | {
        "Content-Type": "application/octet-stream",
        "Content-Length": str(size),
    }
    bar = tqdm(total=size, unit="B", unit_scale=True, disable=not progress, file=sys.stderr)
    with bar, path.open("rb") as file:
        request = http.build_request(
            link["method"], link["url"], content=_chunks(file.read, bar), headers=headers
        )
        for name in token_headers(""):
            request.headers.pop(name, None)
        response = http.send(request)
    _raise_for(response)


def _finished(http: httpx.Client, url: str, what: str, progress: bool) -> dict[str, Any]:
    """Poll the job until it ends: its report, `ImportRefused`, or `UploadError`."""
    wait = 0.05
    with tqdm(desc=what, unit="item", disable=not progress, file=sys.stderr) as bar:
        while True:
            found = http.get(url)
            _raise_for(found)
            job: dict[str, Any] = found.json()
            if job.get("items"):
                bar.total = job["items"]
                bar.n = job.get("done", 0)
                bar.refresh()
            if job["status"] == "applied":
                return job
            if job["status"] == "refused":
                raise ImportRefused(job | {"detail": job.get("error")})
            if job["status"] == "failed":
                raise UploadError(f"the {what} stopped: {job.get('error')}; run it again to finish")
            time.sleep(wait)
            wait = min(POLL_S, wait * 2)


def migration_lines(report: dict[str, Any]) -> list[str]:
    """What a migration made, for people."""
    found = [
        f"project {report['project']} ({report['taskType']}), classes: "
        + ", ".join(report["classes"]),
        f"{report['records']} record(s): {report['items']} item(s) found, {report['labeled']} "
        f"labeled, {report['unlabeledRecords']} without a label (left unlabeled)",
    ]
    if report["missing"]:
        found.append(f"{report['missing']} image(s) not in the container, not migrated:")
        found += [f"  {url}" for url in report["missingUrls"][:20]]
    return found


class ImportRefused(UploadError):
    """The server refused the file whole (nothing was imported); `problem` is its answer."""

    def __init__(self, problem: dict[str, Any]) -> None:
        super().__init__(str(problem.get("detail", "the file was refused")))
        self.problem = problem

    def lines(self) -> list[str]:
        """Every problem the server listed, one a line, then what it left out."""
        found = [
            f"  {e['field']}: {e['rule']}" if e["field"] else f"  {e['rule']}"
            for e in self.problem.get("errors", [])
        ]
        if self.problem.get("omitted"):
            found.append(f"  … and {self.problem['omitted']} more problem(s)")
        if self.problem.get("unknownClasses"):
            names = ", ".join(self.problem["unknownClasses"])
            found.append(f"classes the project lacks: {names} (add them, or fix the file)")
        return found


def report_lines(report: dict[str, Any]) -> list[str]:
    """What an import did, for people."""
    found = [
        f"{report['records']} record(s): {report['updated']} item(s) updated, "
        f"{report['unchanged']} already so"
        + (
            " (this completed an earlier, interrupted import of the same file)"
            if report.get("resumed")
            else ""
        )
    ]
    if report["keptLabeled"]:
        found.append(f"  {report['keptLabeled']} pre-label(s) not set: labeled by people already")
    if report["withoutLabels"]:
        found.append(f"  {report['withoutLabels']} record(s) without labels, skipped")
    if report["unmatched"]:
        found.append(f"  {report['unmatched']} path(s) match no item of the project, skipped:")
        found += [f"    {path}" for path in report["unmatchedPaths"]]
        if report["unmatched"] > len(report["unmatchedPaths"]):
            found.append(f"    … {report['unmatched'] - len(report['unmatchedPaths'])} more")
    return found


def _chunks(read: Callable[[int], bytes], bar: Any) -> Any:
    while chunk := read(CHUNK):
        bar.update(len(chunk))
        yield chunk
