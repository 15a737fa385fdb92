"""A value together with the etag it was read at, so the next write can insist on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Versioned(Generic[T]):
    value: T
    etag: str


def same_etag(a: str, b: str) -> bool:
    """Etags are opaque, but some stores quote them (Cosmos) and HTTP always does."""
    return _bare(a) == _bare(b)


def _bare(etag: str) -> str:
    return etag.strip().removeprefix("W/").strip('"')
