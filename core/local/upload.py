"""`loupe upload`: files and folders into a project, in parallel, through the HTTP API (so it
works against a laptop or an Azure deployment alike), with a progress bar."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

import httpx
from tqdm import tqdm  # type: ignore[import-untyped]  # no stubs shipped

from core.domain.media_types import accepts
from core.domain.task_types import TaskType

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
    headers = {"Authorization": f"Bearer {token}"}
    base = server.rstrip("/") + f"/api/projects/{quote(project_id, safe='')}"
    report = Report()
    with httpx.Client(headers=headers, timeout=httpx.Timeout(60.0, read=600.0)) as client:
        project = client.get(base)
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
            futures = {pool.submit(_put, client, base, u, bar): u for u in todo}
            for future in as_completed(futures):
                _record(report, futures[future], future)
    return report


def _put(client: httpx.Client, base: str, item: Upload, bar: Any) -> dict[str, Any]:
    for attempt in range(RATE_RETRIES + 1):
        sent = [0]
        with item.path.open("rb") as file:
            response = client.put(
                f"{base}/files/{quote(item.name)}",
                content=_chunks(file, bar, sent),
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(item.size),
                },
            )
        if response.status_code != 429 or attempt == RATE_RETRIES:
            break
        # Over the server's rate limit (LOUPE_RATE_LIMIT): wait as told, then send again.
        bar.update(-sent[0])
        time.sleep(_retry_after(response))
    _raise_for(response)
    body: dict[str, Any] = response.json()
    return body


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
