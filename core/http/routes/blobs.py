"""Downloads of local blobs by signed URL: the embedded runtime's stand-in for a SAS URL.
The signature is the credential, so the route takes no bearer token."""

from __future__ import annotations

import mimetypes

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from core.adapters.local.blobs import verify_signed_url
from core.bootstrap import signing_secret
from core.domain.errors import Forbidden, NotFound
from core.http.context import AppDeps, AppSettings

router = APIRouter(tags=["blobs"])


@router.get("/blobs/{container}/{name:path}")
def download(
    container: str, name: str, exp: int, sig: str, deps: AppDeps, settings: AppSettings
) -> StreamingResponse:
    if settings.uses_blob_storage:
        raise NotFound("blobs are served by Azure Storage here; ask the API for a fresh URL")
    now = deps.clock.now()
    if not verify_signed_url(signing_secret(settings), container, name, exp, sig, now):
        raise Forbidden("this link is invalid or has expired; ask the API for a fresh one")
    info = deps.blobs.info(container, name)
    media_type = info.content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return StreamingResponse(
        deps.blobs.stream(container, name),
        media_type=media_type,
        headers={"Content-Length": str(info.size), "ETag": f'"{info.etag.strip(chr(34))}"'},
    )
