"""Stored files out over HTTP: an item's media to the members of its project (signed in as for
any other call: a session cookie, a token or the Static Web App), and blobs on links the API
signed (the link is the credential, checked against its holder's access at every request).

User files are data, never code: the type is sniffed from the bytes, `nosniff` keeps the
browser to it, the CSP sandbox forbids script even in a file opened on its own, and anything
that is not an image downloads instead of opening."""

from __future__ import annotations

import io
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from core.domain.links import Grant
from core.domain.media_types import SERVED_TYPES
from core.http import etags
from core.http.context import AppDeps, CurrentUser, signed_link
from core.http.headers import disposition
from core.http.routes.ingestion import _BodyReader
from core.services.frames import FrameRendition, item_frame
from core.services.links import Rendition
from core.services.serving import Served, item_media, linked_blob
from core.services.uploads import receive_upload

router = APIRouter(tags=["media"])

FILE_POLICY = (
    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'; sandbox"
)
"""No script, no loads but the file: what the browser's own image viewer needs (its inline
styles) and nothing a stored file could use."""

_FILE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file, typed by its first bytes: images show inline, the rest downloads",
        "content": {
            kind: {"schema": {"type": "string", "format": "binary"}} for kind in SERVED_TYPES
        },
        "headers": {
            "ETag": {
                "description": "The file's version: send it as If-None-Match to skip a copy held",
                "required": True,
                "schema": {"type": "string"},
            },
            "Content-Disposition": {
                "description": "`inline` for images, `attachment` for anything else",
                "required": True,
                "schema": {"type": "string"},
            },
            "Cache-Control": {
                "description": "`private, no-cache`: access is checked again at every use",
                "required": True,
                "schema": {"type": "string"},
            },
        },
    }
}


@router.get(
    "/projects/{project_id}/items/{item_id}/media/{rendition}",
    response_model=None,
    response_class=Response,
    responses=_FILE,
)
def get_media(
    project_id: str,
    item_id: str,
    rendition: Rendition,
    deps: AppDeps,
    user: CurrentUser,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """An item's picture (display, thumbnail, or DICOM pixel values) for project members."""
    served = item_media(
        deps, project_id=project_id, item_id=item_id, rendition=rendition, actor=user.id
    )
    return respond(served, if_none_match)


@router.get(
    "/projects/{project_id}/items/{item_id}/media/frames/{frame}/{rendition}",
    response_model=None,
    response_class=Response,
    responses=_FILE,
)
def get_frame(
    project_id: str,
    item_id: str,
    frame: Annotated[int, Path(ge=0, description="The frame, counted from 0")],
    rendition: FrameRendition,
    deps: AppDeps,
    user: CurrentUser,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """One frame of a multi-frame DICOM item, for project members: `display` (JPEG) or, for
    greyscale, `pixels` (offset and scale as two little-endian float64, then the values as
    the item's `pixels` rendition holds them). The item's `frames` says how many there are;
    a frame past them is not found. Rendered on first request, then kept."""
    served = item_frame(
        deps,
        project_id=project_id,
        item_id=item_id,
        frame=frame,
        rendition=rendition,
        actor=user.id,
    )
    return respond(served, if_none_match)


@router.get(
    "/blobs/{container}/{name:path}",
    response_model=None,
    response_class=Response,
    responses=_FILE,
)
def get_linked_blob(
    container: str,
    name: str,
    deps: AppDeps,
    exp: Annotated[str, Query(description="Expiry, unix seconds")],
    p: Annotated[str, Query(description="The project the link was made through")],
    u: Annotated[str, Query(description="The user the link was made for")],
    sig: Annotated[str | None, Depends(signed_link)],
) -> Response:
    """A blob on a link the API signed (exports, the images an export names)."""
    served = linked_blob(
        deps, container=container, name=name, grant=Grant(p, u), expires_at=exp, sig=sig or ""
    )
    return respond(served, None)


@router.put(
    "/blobs/{container}/{name:path}",
    status_code=201,
    response_class=Response,
    responses={201: {"description": "Stored; ETag is the new blob's", "content": {}}},
    openapi_extra={
        "requestBody": {
            "required": False,
            "description": "The file's bytes (Blob Storage's Put Blob, as on a SAS)",
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def put_linked_blob(
    container: str,
    name: str,
    request: Request,
    deps: AppDeps,
    exp: Annotated[str, Query(description="Expiry, unix seconds")],
    p: Annotated[str, Query(description="The project the link was made through")],
    u: Annotated[str, Query(description="The user the link was made for")],
    sp: Annotated[Literal["w"], Query(description="Signed permission: w, write this blob")],
    sig: Annotated[str | None, Depends(signed_link)],
) -> Response:
    """Upload one file on a write link the API signed (`POST .../uploads`; the embedded
    runtime's stand-in for a SAS, taken the same way: the bytes as the body, `x-ms-blob-type`
    optional here)."""
    body = io.BufferedReader(_BodyReader(request.stream()), buffer_size=1 << 20)

    def store() -> str:
        info = receive_upload(
            deps,
            container=container,
            name=name,
            grant=Grant(p, u),
            expires_at=exp,
            sig=sig or "",
            data=body,
        )
        return etags.header(info.etag)

    etag = await anyio.to_thread.run_sync(store)
    return Response(status_code=201, headers={"ETag": etag})


def respond(served: Served, if_none_match: str | None) -> Response:
    etag = etags.header(served.info.etag)
    headers = {
        "ETag": etag,
        # Checked again at every use: a member who leaves stops getting the files at once.
        "Cache-Control": "private, no-cache",
        "Content-Security-Policy": FILE_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Content-Disposition": disposition(served.file_name, inline=served.inline),
    }
    if if_none_match is not None and etags.bare(if_none_match) == etags.bare(etag):
        served.chunks.close()
        return Response(status_code=304, headers=headers)
    headers["Content-Length"] = str(served.info.size)
    return StreamingResponse(served.chunks, media_type=served.content_type, headers=headers)
