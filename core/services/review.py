"""Review: list items newest first by state, label, labeler, date, disagreement and pre-label
confidence; approve (with the reviewer's own value: a fix in place), reject (labels off, item
back in the queue with the reason as a comment, history kept), decide items consensus could
not; accept or re-queue skipped items; an item's history from the audit trail."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from core.domain.errors import Conflict, InvalidInput, PreconditionFailed
from core.domain.events import AuditEvent
from core.domain.items import MAX_COMMENTS, Comment, Item, ItemState, RemovedLabels, ReviewMark
from core.domain.model import stamp_text
from core.domain.projects import Project, Role
from core.ports import Deps, Order, Query, Where
from core.services.collections import EVENTS, ITEMS, load
from core.services.labeling import validated
from core.services.versioned import Versioned
from core.services.worklog import RETRIES, changed, count, member_project, read_item, save_item

MAX_PAGE = 200
Decision = Literal["approve", "reject"]
Reviewed = Literal["approved", "unreviewed"]
NEWEST = (Order("updatedAt", descending=True),)


@dataclass(frozen=True)
class ItemFilter:
    """What a reviewer narrows the items to; every condition given must hold."""

    state: ItemState | None = None
    label: str | None = None
    labeler: str | None = None
    path: str | None = None
    """A prefix of the item's path."""
    since: datetime | None = None
    until: datetime | None = None
    """Last changed in [since, until]."""
    disputed: bool | None = None
    """The labelers did not all answer alike (or did, with False)."""
    min_confidence: float | None = None
    max_confidence: float | None = None
    """ML assist's confidence in the item's pre-label."""
    reviewed: Reviewed | None = None

    def where(self) -> list[Where]:
        found = []
        if self.state is not None:
            found.append(Where("state", "=", self.state.value))
        if self.label is not None:
            found.append(Where("labels", "contains", self.label))
        if self.labeler is not None:
            found.append(Where("labelers", "contains", self.labeler))
        if self.path:
            found.append(Where("path", "startswith", self.path))
        if self.since is not None:
            found.append(Where("updatedAt", ">=", stamp_text(self.since)))
        if self.until is not None:
            found.append(Where("updatedAt", "<=", stamp_text(self.until)))
        if self.disputed is not None:
            found.append(Where("disputed", "=", self.disputed))
        if self.min_confidence is not None:
            found.append(Where("prediction.confidence", ">=", self.min_confidence))
        if self.max_confidence is not None:
            found.append(Where("prediction.confidence", "<=", self.max_confidence))
        if self.reviewed == "approved":
            found.append(Where("review.decision", "=", "approved"))
        elif self.reviewed == "unreviewed":
            found.append(Where("review", "missing"))
        return found


@dataclass(frozen=True)
class ItemPage:
    items: list[Versioned[Item]]
    continuation: str | None


def list_items(
    deps: Deps,
    *,
    project_id: str,
    actor: str,
    state: ItemState | None = None,
    label: str | None = None,
    labeler: str | None = None,
    where: ItemFilter | None = None,
    page_size: int = 50,
    continuation: str | None = None,
) -> ItemPage:
    """Items newest change first; follow `continuation` for the next page."""
    member_project(deps, project_id, actor, Role.REVIEWER)
    if not 1 <= page_size <= MAX_PAGE:
        raise InvalidInput.one("pageSize", f"must be between 1 and {MAX_PAGE}")
    conditions = ItemFilter(state=state, label=label, labeler=labeler).where()
    conditions += where.where() if where else []
    query = Query(where=tuple(conditions), order_by=NEWEST, page_size=page_size)
    page = deps.documents.container(ITEMS).query(project_id, query, continuation)
    found = [Versioned(load(Item, d), d.etag) for d in page.documents]
    return ItemPage(found, page.continuation)


def count_items(deps: Deps, *, project_id: str, actor: str, where: ItemFilter) -> int:
    """How many items match (one COUNT query): what a bulk action over the filter would reach."""
    member_project(deps, project_id, actor, Role.REVIEWER)
    return deps.documents.container(ITEMS).count(project_id, where.where())


HISTORY_PAGE = 100


@dataclass(frozen=True)
class HistoryPage:
    events: list[AuditEvent]
    continuation: str | None


def item_history(
    deps: Deps,
    *,
    project_id: str,
    actor: str,
    item_id: str,
    continuation: str | None = None,
) -> HistoryPage:
    """Who labeled, changed, skipped, commented on, approved or rejected the item, and when,
    with the values before and after: oldest first, from the audit trail."""
    member_project(deps, project_id, actor, Role.REVIEWER)
    read_item(deps, project_id, item_id)
    query = Query(
        where=(Where("subject", "=", item_id),), order_by=(Order("at"),), page_size=HISTORY_PAGE
    )
    page = deps.documents.container(EVENTS).query(project_id, query, continuation)
    return HistoryPage([load(AuditEvent, d) for d in page.documents], page.continuation)


def get_item(deps: Deps, *, project_id: str, actor: str, item_id: str) -> Versioned[Item]:
    member_project(deps, project_id, actor, Role.REVIEWER)
    return read_item(deps, project_id, item_id)


def review_item(
    deps: Deps,
    *,
    project_id: str,
    actor: str,
    item_id: str,
    decision: Decision,
    value: dict[str, Any] | None = None,
    note: str | None = None,
) -> Item:
    """Approve (with `value`, the reviewer's own label: required for items consensus left
    undecided, and a fix in place for any other) or reject (labels and skips removed, the item
    back in the queue; the note goes with it as a comment to the labelers who answered)."""
    project = member_project(deps, project_id, actor, Role.REVIEWER)
    return review_one(
        deps, project, actor=actor, item_id=item_id, decision=decision, value=value, note=note
    )


def review_one(
    deps: Deps,
    project: Project,
    *,
    actor: str,
    item_id: str,
    decision: Decision,
    value: dict[str, Any] | None = None,
    note: str | None = None,
    expected: str | None = None,
) -> Item:
    """`review_item` for a project whose access was checked; with `expected` (the etag the
    reviewer saw), an item changed since is refused with PreconditionFailed."""
    project_id = project.id
    for _ in range(RETRIES):
        current = read_item(deps, project_id, item_id)
        if expected is not None and _bare(current.etag) != _bare(expected):
            raise PreconditionFailed(f"item {item_id!r} changed since you saw it: look again")
        item = current.value
        now = deps.clock.now()
        mark = ReviewMark(user=actor, at=now, decision=_past(decision), note=note)
        if item.state in (ItemState.UNLABELED, ItemState.ERROR):
            raise Conflict(f"item {item_id!r} is {item.state.value}: there is nothing to review")
        if decision == "reject":
            after = rejected(item, actor=actor, reason="rejected in review", now=now, note=note)
        elif item.state is ItemState.SKIPPED:
            if value is not None:
                raise InvalidInput.one("value", "accepting a skip takes no value")
            after = item.model_copy(update={"review": mark, "updated_at": now})
        else:
            if value is None and item.state is ItemState.NEEDS_REVIEW:
                raise InvalidInput.one(
                    "value", "the labelers did not agree: approve with the label you decide on"
                )
            final = item.final if value is None else validated(project, item, value).to_json()
            after = item.model_copy(
                update={
                    "state": ItemState.LABELED,
                    "final": final,
                    "review": mark,
                    "updated_at": now,
                }
            )
        try:
            saved = save_item(deps, current, after, actor=actor, action=f"item.{mark.decision}")
        except PreconditionFailed:
            continue
        count(deps, project_id, actor, changed(item, saved.value, reviewed=1))
        return saved.value
    raise Conflict(f"item {item_id!r} keeps changing; try again")


def rejected(item: Item, *, actor: str, reason: str, now: Any, note: str | None = None) -> Item:
    """`item` back in the queue without its labels; what was removed is kept as history, and
    `note` becomes a comment to the labelers whose answers (or skips) were taken off."""
    comments = item.comments
    if note and note.strip():
        to = [*dict.fromkeys([a.user for a in item.annotations] + [s.user for s in item.skips])]
        comments = with_comment(
            item, Comment(id=comment_id(now), user=actor, at=now, text=note, to=to)
        )
    removed = RemovedLabels(
        at=now,
        by=actor,
        reason=reason,
        annotations=item.annotations,
        skips=item.skips,
        final=item.final,
    )
    return item.model_copy(
        update={
            "state": ItemState.UNLABELED,
            "annotations": [],
            "skips": [],
            "final": None,
            "review": None,
            "lease": None,
            "removed": [*item.removed, removed],
            "comments": comments,
            "updated_at": now,
        }
    )


def with_comment(item: Item, comment: Comment) -> list[Comment]:
    """The item's comments with `comment` added (the oldest dropped beyond the bound)."""
    return [*item.comments, comment][-MAX_COMMENTS:]


def comment_id(now: datetime) -> str:
    return f"{now.strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:6]}"


def _bare(etag: str) -> str:
    return etag.strip().removeprefix("W/").strip('"')


def _past(decision: Decision) -> Literal["approved", "rejected"]:
    return "approved" if decision == "approve" else "rejected"
