"""Uploads and ingestion progress over HTTP.

Direct: `POST .../uploads` checks the caller and the path and answers with a link to PUT that
one file to (a SAS on Azure, the API's own write link locally), then `POST .../uploads/complete`
registers it. Or through the API: the request body itself (`PUT .../files/<path>`, any content
type), streamed to the blob store chunk by chunk, never held in memory whole."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

import anyio
import anyio.from_thread
import anyio.to_thread
from fastapi import APIRouter, Header, Request, status
from pydantic import Field

from core.adapters.blob_names import check_blob_name
from core.domain.ingest import IngestProgress
from core.domain.items import Item, ItemState
from core.domain.model import DomainModel
from core.http.context import AppDeps, AppSettings, SignedIn
from core.http.openapi import conflict
from core.services.ingestion import ingestion_progress
from core.services.uploads import complete_upload, upload_file, upload_link

router = APIRouter(prefix="/projects", tags=["ingestion"])


class UploadedItem(DomainModel):
    id: str
    path: str
    state: ItemState
    error: str | None = None


class Uploaded(DomainModel):
    path: str
    bytes: int
    items: list[UploadedItem]
    """Empty while the project is still initializing: it is registered when that ends."""


_PATH = Field(
    min_length=1,
    max_length=1024,
    description="Where the file goes in the project, folders made from `/` (no empty, `.` or "
    "`..` part, no backslash or control character)",
)


class UploadRequest(DomainModel):
    path: str = _PATH
    size: int = Field(ge=0, description="The file's size in bytes (refused over the limit)")


class UploadLink(DomainModel):
    """Where to send the file: `method` (PUT) to `url` with `headers` and the bytes as the body,
    before `expiresAt`; then `POST .../uploads/complete` (on Azure its blob event registers it
    too). The same shape from every runtime: a user delegation SAS for exactly this blob on
    Azure, the API's own write link locally."""

    path: str
    url: str
    method: str
    headers: dict[str, str]
    expires_at: datetime


class CompleteUpload(DomainModel):
    path: str = _PATH


_NOT_UPLOADS = "the project reads a blob container, or it failed to initialize"


@router.post(
    "/{project_id}/uploads",
    status_code=status.HTTP_201_CREATED,
    responses=conflict(_NOT_UPLOADS),
)
def start_upload(
    project_id: str, request: UploadRequest, deps: AppDeps, settings: AppSettings, user: SignedIn
) -> UploadLink:
    """A link to upload one file straight to storage (owners): the role, the path and the
    size are checked first; the link writes exactly that file and lives 15 minutes."""
    check_blob_name(request.path)
    link = upload_link(
        deps,
        project_id=project_id,
        path=request.path,
        actor=user.id,
        size=request.size,
        max_bytes=settings.max_upload_bytes,
    )
    return UploadLink(
        path=request.path,
        url=link.url,
        method=link.method,
        headers=link.headers,
        expires_at=link.expires_at,
    )


@router.post(
    "/{project_id}/uploads/complete",
    responses=conflict(_NOT_UPLOADS + "; or the file has not arrived at its link"),
    response_model_exclude_none=True,
)
def finish_upload(
    project_id: str, request: CompleteUpload, deps: AppDeps, user: SignedIn
) -> Uploaded:
    """Register a file sent to its upload link (owners); its items, as `PUT .../files` answers.
    Safe to repeat: the same file gives the same items."""
    check_blob_name(request.path)
    info, items = complete_upload(deps, project_id=project_id, path=request.path, actor=user.id)
    return _uploaded(request.path, info.size, items)


@router.get("/{project_id}/ingestion", response_model_exclude_none=True)
def get_progress(project_id: str, deps: AppDeps, user: SignedIn) -> IngestProgress:
    """Initialization progress (registered / skipped / failed / total) and last refresh."""
    return ingestion_progress(deps, project_id=project_id, actor=user.id)


@router.put(
    "/{project_id}/files/{path:path}",
    status_code=status.HTTP_201_CREATED,
    response_model_exclude_none=True,
    openapi_extra={
        "requestBody": {
            "required": False,  # no body is an empty file: an item in state error, as ingested
            "description": "The file's bytes, of any type: it is typed by its bytes, not this",
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
    responses=conflict(_NOT_UPLOADS),
)
async def upload(
    project_id: str,
    path: str,
    request: Request,
    deps: AppDeps,
    user: SignedIn,
    content_type: Annotated[str | None, Header()] = None,
) -> Uploaded:
    """Upload one file (owners): the body is the file. Folders are made from `/` in `path`."""
    check_blob_name(path)
    body = io.BufferedReader(_BodyReader(request.stream()), buffer_size=1 << 20)

    def store() -> Uploaded:
        info, items = upload_file(
            deps,
            project_id=project_id,
            path=path,
            data=body,
            actor=user.id,
            content_type=content_type if content_type != "application/octet-stream" else None,
        )
        return _uploaded(path, info.size, items)

    return await anyio.to_thread.run_sync(store)


def _uploaded(path: str, size: int, items: list[Item]) -> Uploaded:
    return Uploaded(
        path=path,
        bytes=size,
        items=[UploadedItem(id=i.id, path=i.path, state=i.state, error=i.error) for i in items],
    )


class _BodyReader(io.RawIOBase):
    """A blocking file over the request's async body, read from a worker thread: each `read`
    waits on the event loop for the chunks that fill it (the server hands them over 64 KiB or
    so at a time: one trip to the loop per read, not per chunk), so at most one read's worth
    and one chunk are in memory."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""
        self._done = False

    def readable(self) -> bool:
        return True

    async def _next(self, wanted: int) -> bytes:
        parts = [await self._chunks.__anext__()]
        got = len(parts[0])
        while got < wanted:
            try:
                part = await self._chunks.__anext__()
            except StopAsyncIteration:
                self._done = True
                break
            parts.append(part)
            got += len(part)
        return b"".join(parts)

    def readinto(self, target: memoryview) -> int:  # type: ignore[override]
        while not self._buffer and not self._done:
            try:
                self._buffer = anyio.from_thread.run(self._next, len(target))
            except StopAsyncIteration:
                self._done = True
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size
