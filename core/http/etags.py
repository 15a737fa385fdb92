"""ETags on the wire: quoted in headers, compared without quotes (Cosmos etags carry their own)."""

from __future__ import annotations

from fastapi import HTTPException, status


def header(etag: str) -> str:
    return f'"{bare(etag)}"'


def bare(etag: str) -> str:
    return etag.strip().removeprefix("W/").strip('"')


def required(if_match: str | None) -> str:
    """The If-Match a write must carry; missing is refused so no write can be blind."""
    if not if_match or if_match.strip() == "*":
        raise HTTPException(
            status.HTTP_428_PRECONDITION_REQUIRED,
            "send If-Match with the ETag from your last GET, so that a change someone made "
            "meanwhile is not overwritten",
        )
    return bare(if_match)


def optional(if_match: str | None) -> str | None:
    return None if not if_match or if_match.strip() == "*" else bare(if_match)
