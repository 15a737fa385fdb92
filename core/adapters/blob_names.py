"""Blob and container names every blob store accepts alike.

Blob Storage takes almost any name, a folder does not; checking names in one pure function keeps
the Azure, folder and memory stores in agreement, and keeps `..` and backslashes from ever
reaching a file system path.
"""

from __future__ import annotations

import re

from core.domain.errors import InvalidInput

MAX_BLOB_NAME_BYTES = 1024
"""Blob Storage allows 1,024 characters; counting UTF-8 bytes is stricter and fits file systems."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NOT_XML = re.compile(r"[\ufffe\uffff]")
"""Noncharacters XML 1.0 cannot carry: Blob Storage lists names in XML (Azurite fails on them)."""
_CONTAINER = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}")


def check_blob_name(name: str) -> str:
    """Return `name` unchanged if it is a portable blob name, else raise `InvalidInput`.

    Portable: 1 to 1,024 UTF-8 bytes, `/`-separated segments that are neither empty nor `.` or
    `..` (so no leading, trailing or doubled slash), no backslash, no control character, no
    character XML cannot carry (lone surrogates, U+FFFE, U+FFFF)."""
    if not isinstance(name, str) or not name:
        raise InvalidInput.one("name", "a blob name must be a non-empty string")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidInput.one("name", "a blob name must be valid Unicode text") from None
    if size > MAX_BLOB_NAME_BYTES:
        raise InvalidInput.one("name", f"a blob name must be at most {MAX_BLOB_NAME_BYTES} bytes")
    if "\\" in name:
        raise InvalidInput.one("name", "a blob name must use '/' as separator, not '\\'")
    if _CONTROL.search(name):
        raise InvalidInput.one("name", "a blob name must not contain control characters")
    if _NOT_XML.search(name):
        raise InvalidInput.one("name", "a blob name must not contain U+FFFE or U+FFFF")
    for segment in name.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidInput.one(
                "name", "a blob name's '/'-separated parts must not be empty, '.' or '..'"
            )
    return name


def check_container_name(name: str) -> str:
    """Return `name` if Blob Storage accepts it as a container name: 3 to 63 characters of
    lowercase letters, digits and single hyphens, starting and ending with a letter or digit."""
    if not isinstance(name, str) or not _CONTAINER.fullmatch(name):
        raise InvalidInput.one(
            "container",
            f"container name {name!r} must be 3-63 lowercase letters, digits or single hyphens",
        )
    return name
