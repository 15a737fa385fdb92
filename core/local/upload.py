"""`loupe upload`: files and folders into a project, in parallel, with a progress bar. Each
file goes straight to storage: the API checks the role and the path and answers with a link
to PUT that one file to (a SAS on Azure, its own signed link on one machine: the same shape),
then registers it on completion. So it works against a laptop or an Azure deployment alike,
and no file passes through the Function App or the Static Web App.

Programs reach the API on `/api/programs/...` with their token in `X-Loupe-Token`: the way the
Static Web App in front of an Azure deployment lets programs through (`core.http.programs`)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

import httpx
from tqdm import tqdm  # type: ignore[import-untyped]  # no stubs shipped

from core.domain.media_types import accepts
from core.domain.task_types import TaskType

API = "/api/programs"
"""Where programs call the API (the Static Web App lets it through to the token check)."""
CHUNK = 1 << 20
RATE_RETRIES = 10


@dataclass(frozen=True)
class Upload:
    path: Path
    name: str
    size: int


@dataclass
class Report:
    uploaded: int = 0
    items: int = 0
    failed_items: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def plan(sources: Sequence[Path], prefix: str = "") -> Iterator[Upload]:
    """A file goes up under its own name; a folder's files under their paths inside it."""
    prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
    for source in sources:
        if source.is_dir():
            for folder, dirs, files in os.walk(source):
                dirs.sort()
                for file in sorted(files):
                    path = Path(folder, file)
                    relative = path.relative_to(source).as_posix()
                    yield Upload(path, prefix + relative, path.stat().st_size)
        elif source.is_file():
            yield Upload(source, prefix + source.name, source.stat().st_size)
        else:
            raise FileNotFoundError(f"{source}: no such file or folder")


def token_headers(token: str) -> dict[str, str]:
    """How a program signs in: its token in `X-Loupe-Token` (on Azure the Static Web App
    overwrites `Authorization`)."""
    return {"X-Loupe-Token": token}


def upload(
    *,
    server: str,
    token: str,
    project_id: str,
    sources: Sequence[Path],
    prefix: str = "",
    workers: int = 8,
    progress: bool = True,
) -> Report:
    base = f"{API}/projects/{quote(project_id, safe='')}"
    report = Report()
    timeout = httpx.Timeout(60.0, read=600.0)
    with (
        httpx.Client(
            base_url=server.rstrip("/"), headers=token_headers(token), timeout=timeout
        ) as client,
        httpx.Client(timeout=timeout) as storage,
    ):
        project = _retrying(lambda: client.get(base))
        _raise_for(project)
        media = TaskType(project.json()["taskType"]).media
        todo: list[Upload] = []
        for item in plan(sources, prefix):
            if accepts(media, item.name):
                todo.append(item)
            else:
                report.skipped.append(item.name)
        total = sum(u.size for u in todo)
        bar = tqdm(total=total, unit="B", unit_scale=True, disable=not progress, file=sys.stderr)
        with bar, ThreadPoolExecutor(max(1, workers)) as pool:
            futures = {pool.submit(_send, client, storage, base, u, bar): u for u in todo}
            for future in as_completed(futures):
                _record(report, futures[future], future)
    return report


def _send(
    client: httpx.Client, storage: httpx.Client, base: str, item: Upload, bar: Any
) -> dict[str, Any]:
    """Ask for the file's link, PUT it there (no token goes with it), complete it."""
    asked = {"path": item.name, "size": item.size}
    link = _retrying(lambda: client.post(f"{base}/uploads", json=asked))
    _raise_for(link)
    target = link.json()
    sent = [0]

    def put() -> httpx.Response:
        bar.update(-sent[0])
        sent[0] = 0
        with item.path.open("rb") as file:
            return storage.request(
                target["method"],
                # Absolute (a SAS, or the server's public URL), or relative to the server.
                client.base_url.join(target["url"]),
                content=_chunks(file, bar, sent),
                headers=target["headers"]
                | {"Content-Type": "application/octet-stream", "Content-Length": str(item.size)},
            )

    stored = _retrying(put)
    _raise_for(stored)
    done = _retrying(lambda: client.post(f"{base}/uploads/complete", json={"path": item.name}))
    _raise_for(done)
    body: dict[str, Any] = done.json()
    return body


def _retrying(send: Callable[[], httpx.Response]) -> httpx.Response:
    """Send; over the server's rate limit (429, LOUPE_RATE_LIMIT) or while storage is busy
    (503), wait as told and send again."""
    for attempt in range(RATE_RETRIES + 1):
        response = send()
        if response.status_code not in (429, 503) or attempt == RATE_RETRIES:
            return response
        time.sleep(_retry_after(response))
    raise AssertionError("unreachable")


def _retry_after(response: httpx.Response) -> float:
    value = response.headers.get("Retry-After", "1")
    return min(60.0, float(value)) if value.isdigit() else 1.0


def _chunks(file: BinaryIO, bar: Any, sent: list[int]) -> Iterator[bytes]:
    while chunk := file.read(CHUNK):
        bar.update(len(chunk))
        sent[0] += len(chunk)
        yield chunk


def _record(report: Report, item: Upload, future: Any) -> None:
    try:
        body = future.result()
    except (httpx.HTTPError, UploadError, OSError) as error:
        report.errors.append(f"{item.name}: {error}")
        return
    report.uploaded += 1
    for made in body.get("items", []):
        report.items += 1
        if made.get("state") == "error":
            report.failed_items.append(f"{made['path']}: {made.get('error')}")


class UploadError(Exception):
    pass


def _raise_for(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        detail = response.json().get("detail") or response.text
    except ValueError:
        detail = response.text
    raise UploadError(f"{response.status_code} {detail}")
