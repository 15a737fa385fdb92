"""Review: list items newest first by state, label, labeler, date, disagreement and pre-label
confidence; approve (with the reviewer's own value: a fix in place), reject (labels off, item
back in the queue with the reason as a comment, history kept), decide items consensus could
not; accept or re-queue skipped items; an item's history from the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from core.domain.errors import InvalidInput
from core.domain.events import AuditEvent
from core.domain.items import Item, ItemState
from core.domain.projects import Project, Role
from core.domain.reviews import Decision, comment_id, reviewed
from core.ports import Deps
from core.services.labeling import validated
from core.services.worklog import change_item, changed, count, member_project, read_item
from core.store.collections import load
from core.store.repositories.events import Events
from core.store.repositories.items import ItemFilter as ItemFilter
from core.store.repositories.items import Items
from core.store.repositories.items import Reviewed as Reviewed
from core.store.versioned import Versioned

MAX_PAGE = 200


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
    given = ItemFilter(state=state, label=label, labeler=labeler)
    page = Items(deps, project_id).newest(
        given, where, page_size=page_size, continuation=continuation
    )
    found = [Versioned(load(Item, d), d.etag) for d in page.documents]
    return ItemPage(found, page.continuation)


def count_items(deps: Deps, *, project_id: str, actor: str, where: ItemFilter) -> int:
    """How many items match (one COUNT query): what a bulk action over the filter would reach."""
    member_project(deps, project_id, actor, Role.REVIEWER)
    return Items(deps, project_id).count(where)


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
    page = Events(deps, project_id).about(item_id, HISTORY_PAGE, continuation)
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
    value: object = None,
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
    value: object = None,
    note: str | None = None,
    expected: str | None = None,
) -> Item:
    """`review_item` for a project whose access was checked; with `expected` (the etag the
    reviewer saw), an item changed since is refused with PreconditionFailed."""

    def review(item: Item) -> Item:
        fix = None if value is None else lambda it: validated(project, it, value)
        now = deps.clock.now()
        return reviewed(
            item,
            decision,
            actor=actor,
            now=now,
            note=note,
            comment_id=new_comment_id(deps, now) if note else "",
            fix=fix,
        )

    action = f"item.{_past(decision)}"
    done = change_item(
        deps, project.id, item_id, review, actor=actor, action=action, if_match=expected
    )
    count(deps, project.id, actor, changed(done.before, done.after.value, reviewed=1))
    return done.after.value


def new_comment_id(deps: Deps, now: datetime) -> str:
    return comment_id(now, deps.ids.token(6))


def _past(decision: Decision) -> Literal["approved", "rejected"]:
    return "approved" if decision == "approve" else "rejected"
