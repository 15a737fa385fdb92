"""Review many items at once: a selection (each item with the version the reviewer saw) or
everything matching a filter as it stood at `as_of`.

Per item, with a report, not all or nothing: each item is reviewed by the same rules as one
alone, in its own write (items are separate documents, and a filter may match thousands, more
than one transaction holds). An item that cannot be reviewed (it changed since the reviewer saw
it, or holds nothing to review) is left as it was and listed with the reason; the others are
reviewed. Whatever the outcome, the answer says exactly which items changed. A request refused
as a whole (bad input, no access) changes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from core.domain.errors import InvalidInput, LoupeError
from core.domain.items import ItemState
from core.domain.projects import Project, Role
from core.domain.reviews import Decision
from core.ports import Deps
from core.services.review import ItemFilter, review_one
from core.services.worklog import member_project
from core.store.repositories.items import Items

MAX_ITEMS = 200
"""Items one request reviews at most; a filter matching more answers `more` to send it again."""

# What each decision can act on without a value of the reviewer's own: items under review
# need one each, so approving a filter leaves them out (reject sends them back too).
_REVIEWABLE: dict[Decision, tuple[ItemState, ...]] = {
    "approve": (ItemState.LABELED, ItemState.SKIPPED),
    "reject": (ItemState.LABELED, ItemState.SKIPPED, ItemState.NEEDS_REVIEW),
}


@dataclass(frozen=True)
class Picked:
    item_id: str
    etag: str | None = None
    """The version the reviewer saw: an item changed since is left alone."""


@dataclass
class BulkReport:
    reviewed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(item id, why it was left as it was)."""
    more: bool = False
    """More items match the filter: send the same request again for the next ones."""


def review_many(
    deps: Deps,
    *,
    project_id: str,
    actor: str,
    decision: Decision,
    note: str | None = None,
    items: list[Picked] | None = None,
    where: ItemFilter | None = None,
    as_of: datetime | None = None,
) -> BulkReport:
    """Approve or reject the `items` picked, or every item matching `where` (last changed at
    or before `as_of`, so nothing the reviewer has not had the chance to see is swept in)."""
    project = member_project(deps, project_id, actor, Role.REVIEWER)
    if (items is None) == (where is None):
        raise InvalidInput.one("items", "name the items, or give a filter: one of the two")
    if items is not None:
        if not 1 <= len(items) <= MAX_ITEMS:
            raise InvalidInput.one("items", f"between 1 and {MAX_ITEMS} items")
        if len({p.item_id for p in items}) != len(items):
            raise InvalidInput.one("items", "each item once")
        return _review(deps, project, actor, decision, note, items, more=False)
    assert where is not None
    picked, more = _matching(deps, project, decision, where, as_of or deps.clock.now())
    return _review(deps, project, actor, decision, note, picked, more=more)


def _matching(
    deps: Deps, project: Project, decision: Decision, where: ItemFilter, as_of: datetime
) -> tuple[list[Picked], bool]:
    states = _REVIEWABLE[decision]
    if where.state is not None and where.state not in states:
        why = (
            "each needs your own label: decide them one by one"
            if (where.state is ItemState.NEEDS_REVIEW)
            else "they hold nothing to review"
        )
        raise InvalidInput.one(
            "filter.state", f"{where.state.value} items cannot be {decision}d in bulk: {why}"
        )
    if decision == "approve" and where.reviewed == "approved":
        raise InvalidInput.one("filter.reviewed", "these items are approved already")
    reviewable = ItemFilter(
        until=as_of, states=() if where.state else states, unreviewed=decision == "approve"
    )
    page = Items(deps, project.id).newest(where, reviewable, page_size=MAX_ITEMS)
    picked = [Picked(d.id, d.etag) for d in page.documents]
    return picked, page.continuation is not None


def _review(
    deps: Deps,
    project: Project,
    actor: str,
    decision: Decision,
    note: str | None,
    picked: list[Picked],
    *,
    more: bool,
) -> BulkReport:
    report = BulkReport(more=more)
    for one in picked:
        try:
            review_one(
                deps,
                project,
                actor=actor,
                item_id=one.item_id,
                decision=decision,
                note=note,
                expected=one.etag,
            )
        except LoupeError as error:
            report.skipped.append((one.item_id, str(error)))
        else:
            report.reviewed.append(one.item_id)
    return report
