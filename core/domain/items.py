"""Items: one image or one text to label, with what is known about its media and its labels."""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from core.domain.model import DomainModel
from core.domain.task_types import MediaKind


class ItemState(StrEnum):
    UNLABELED = "unlabeled"
    LABELED = "labeled"
    SKIPPED = "skipped"
    NEEDS_REVIEW = "needs_review"
    ERROR = "error"


class MediaFacts(DomainModel):
    format: str
    bytes: int = Field(ge=0)
    width: int | None = Field(default=None, ge=1)
    height: int | None = Field(default=None, ge=1)
    frames: int = Field(default=1, ge=1)
    etag: str | None = None


class Annotation(DomainModel):
    """One labeler's answer; the value's shape depends on the task type (see annotations)."""

    user: str
    at: datetime
    value: dict[str, Any]


class Lease(DomainModel):
    user: str
    until: datetime


class Item(DomainModel):
    id: str
    project_id: str
    path: str
    kind: MediaKind
    state: ItemState = ItemState.UNLABELED
    rank: float = Field(ge=0, le=1, description="Queue order: a random shuffle, lowest first")
    media: MediaFacts | None = None
    text: str | None = None
    error: str | None = None
    lease: Lease | None = None
    annotations: list[Annotation] = Field(default_factory=list)
    final: dict[str, Any] | None = None
    created_at: datetime
    updated_at: datetime


def item_id(project_id: str, path: str) -> str:
    """Stable per (project, path), so registering the same file twice is idempotent."""
    digest = hashlib.sha256(f"{project_id}\n{path}".encode()).hexdigest()
    return digest[:32]
