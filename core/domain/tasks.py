"""Tasks: what a labeler is handed, and the lease that keeps it theirs for a while."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from core.domain.errors import Conflict, InvalidInput
from core.domain.items import Item, ItemState, Lease, Skip
from core.domain.task_types import MediaKind, TaskType

PAGE_SIZES = (1, 4, 6, 9)


@dataclass(frozen=True)
class Task:
    items: list[Item] = field(default_factory=list)
    lease_until: datetime | None = None


def check_page_size(task_type: TaskType, size: int) -> None:
    if size not in PAGE_SIZES:
        raise InvalidInput.one("size", f"must be one of {', '.join(map(str, PAGE_SIZES))}")
    if size > 1 and not (task_type.is_classification and task_type.media is MediaKind.IMAGE):
        raise InvalidInput.one(
            "size",
            f"pages of {size} are for image classification; a {task_type.value} project "
            "hands out one item at a time",
        )


def leased(item: Item, user: str, until: datetime, now: datetime) -> Item:
    return item.model_copy(update={"lease": Lease(user=user, until=until), "updated_at": now})


def released(item: Item, now: datetime) -> Item:
    return item.model_copy(update={"lease": None, "updated_at": now})


def assigned(item: Item, labeler: str | None, now: datetime) -> Item | None:
    """Reserved for `labeler` (None: for anyone); None when it is labeled or theirs already."""
    if item.state is not ItemState.UNLABELED or item.assignee == labeler:
        return None
    return item.model_copy(update={"assignee": labeler, "updated_at": now})


def skipped(item: Item, user: str, now: datetime, reason: str | None) -> Item:
    """Set aside (unclear, broken, out of scope): a reviewer accepts or re-queues it."""
    return item.model_copy(
        update={
            "state": ItemState.SKIPPED,
            "skips": [*item.skips, Skip(user=user, at=now, reason=reason)],
            "lease": None,
            "updated_at": now,
        }
    )


def check_correctable(item: Item, user: str) -> None:
    """A labeler may correct their answer until a reviewer has seen the item."""
    if item.review is not None:
        raise Conflict(f"item {item.id!r} was reviewed already; ask a reviewer to change it")
    if not any(a.user == user for a in item.annotations):
        raise Conflict(f"you have no answer on item {item.id!r} (it was reset or rejected)")


def check_lease(item: Item, user: str) -> None:
    """The caller must hold the item's lease to answer it."""
    if item.lease is None:
        raise Conflict(
            f"item {item.id!r} is not leased to you (the lease expired or was never taken): "
            "ask for the next task again"
        )
    if item.lease.user != user:
        raise Conflict(f"item {item.id!r} is leased to another labeler")
