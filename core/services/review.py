"""Review: list items newest first by state, label and labeler; approve, reject (labels off,
item back in the queue, history kept), decide items consensus could not; accept or re-queue
skipped items."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from core.domain.errors import Conflict, InvalidInput, PreconditionFailed
from core.domain.items import Item, ItemState, RemovedLabels, ReviewMark
from core.domain.projects import Role
from core.ports import Deps, Order, Query, Where
from core.services.collections import ITEMS, load
from core.services.labeling import validated
from core.services.versioned import Versioned
from core.services.worklog import RETRIES, changed, count, member_project, read_item, save_item

MAX_PAGE = 200
Decision = Literal["approve", "reject"]


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
    page_size: int = 50,
    continuation: str | None = None,
) -> ItemPage:
    """Items newest change first; follow `continuation` for the next page."""
    member_project(deps, project_id, actor, Role.REVIEWER)
    if not 1 <= page_size <= MAX_PAGE:
        raise InvalidInput.one("pageSize", f"must be between 1 and {MAX_PAGE}")
    where = []
    if state is not None:
        where.append(Where("state", "=", state.value))
    if label is not None:
        where.append(Where("labels", "contains", label))
    if labeler is not None:
        where.append(Where("labelers", "contains", labeler))
    query = Query(
        where=tuple(where), order_by=(Order("updatedAt", descending=True),), page_size=page_size
    )
    page = deps.documents.container(ITEMS).query(project_id, query, continuation)
    found = [Versioned(load(Item, d), d.etag) for d in page.documents]
    return ItemPage(found, page.continuation)


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
    undecided) or reject (labels and skips removed, the item back in the queue)."""
    project = member_project(deps, project_id, actor, Role.REVIEWER)
    for _ in range(RETRIES):
        current = read_item(deps, project_id, item_id)
        item = current.value
        now = deps.clock.now()
        mark = ReviewMark(user=actor, at=now, decision=_past(decision), note=note)
        if item.state in (ItemState.UNLABELED, ItemState.ERROR):
            raise Conflict(f"item {item_id!r} is {item.state.value}: there is nothing to review")
        if decision == "reject":
            after = rejected(item, actor=actor, reason="rejected in review", now=now)
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


def rejected(item: Item, *, actor: str, reason: str, now: Any) -> Item:
    """`item` back in the queue without its labels; what was removed is kept as history."""
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
            "updated_at": now,
        }
    )


def _past(decision: Decision) -> Literal["approved", "rejected"]:
    return "approved" if decision == "approve" else "rejected"
