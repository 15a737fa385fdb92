"""Uploads and ingestion progress over HTTP.

An upload is the request body itself (`PUT .../files/<path>`, any content type), streamed to
the blob store chunk by chunk: the server never holds a whole file in memory."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
import anyio.from_thread
import anyio.to_thread
from fastapi import APIRouter, Header, Request, status

from core.adapters.blob_names import check_blob_name
from core.domain.ingest import IngestProgress
from core.domain.items import ItemState
from core.domain.model import DomainModel
from core.http.context import AppDeps, CurrentUser
from core.http.openapi import conflict
from core.services.ingestion import ingestion_progress
from core.services.uploads import upload_file

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


@router.get("/{project_id}/ingestion", response_model_exclude_none=True)
def get_progress(project_id: str, deps: AppDeps, user: CurrentUser) -> IngestProgress:
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
    responses=conflict("the project reads a blob container, or it failed to initialize"),
)
async def upload(
    project_id: str,
    path: str,
    request: Request,
    deps: AppDeps,
    user: CurrentUser,
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
        return Uploaded(
            path=path,
            bytes=info.size,
            items=[UploadedItem(id=i.id, path=i.path, state=i.state, error=i.error) for i in items],
        )

    return await anyio.to_thread.run_sync(store)


class _BodyReader(io.RawIOBase):
    """A blocking file over the request's async body, read from a worker thread: each `read`
    waits on the event loop for the next chunk, so at most one chunk is in memory."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""
        self._done = False

    def readable(self) -> bool:
        return True

    async def _next(self) -> bytes:
        return await self._chunks.__anext__()

    def readinto(self, target: memoryview) -> int:  # type: ignore[override]
        while not self._buffer and not self._done:
            try:
                self._buffer = anyio.from_thread.run(self._next)
            except StopAsyncIteration:
                self._done = True
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size
