"""ETags on the wire: quoted in headers, compared without quotes (Cosmos etags carry their own).
Writes to a project take `If-Match` through `IfMatch` (a stale one is 412) or `IfMatchRequired`
(a missing one is 428 too); the OpenAPI document reads which from these dependencies."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, status

IF_MATCH_DOC = "The project's ETag from your last read (the ETag header of its GET)"


def header(etag: str) -> str:
    return f'"{bare(etag)}"'


def bare(etag: str) -> str:
    return etag.strip().removeprefix("W/").strip('"')


NO_TAG = re.compile(r"[\t\n\x0b\x0c\r *]*")
"""An If-Match of nothing but spaces and `*` (any version) names no version."""
TAG_PATTERN = r"[^\t\n\x0b\x0c\r *]"
"""The same, as the JSON Schema pattern of the header: some character that is neither."""


def required(if_match: str | None) -> str:
    """The If-Match a write must carry; missing is refused so no write can be blind."""
    if if_match is None or NO_TAG.fullmatch(if_match):
        raise HTTPException(
            status.HTTP_428_PRECONDITION_REQUIRED,
            "send If-Match with the ETag from your last GET, so that a change someone made "
            "meanwhile is not overwritten",
        )
    return bare(if_match)


def optional(if_match: str | None) -> str | None:
    return None if not if_match or if_match.strip() == "*" else bare(if_match)


def if_match_optional(
    if_match: Annotated[str | None, Header(description=IF_MATCH_DOC)] = None,
) -> str | None:
    return optional(if_match)


def if_match_required(
    if_match: Annotated[str | None, Header(description=IF_MATCH_DOC + "; required")] = None,
) -> str:
    return required(if_match)


IfMatch = Annotated[str | None, Depends(if_match_optional)]
IfMatchRequired = Annotated[str, Depends(if_match_required)]


def tagged(status_code: int = 200) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a route whose answer carries the document's ETag."""
    return {status_code: {"headers": {"ETag": ETAG_HEADER}}}


ETAG_HEADER: dict[str, Any] = {
    "description": "The version just read or written: send it back as If-Match to change it",
    "required": True,
    "schema": {"type": "string"},
}
