"""Review and the dashboard over HTTP (reviewers and owners)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BeforeValidator, Field, StrictBool

from core.domain.annotation_json import SubmittedValue
from core.domain.attributes import MAX_NAME, MAX_TEXT
from core.domain.capacity import Capacity
from core.domain.events import AuditEvent
from core.domain.items import Comment, Item, ItemState
from core.domain.model import DomainModel, JsonFloat
from core.http import etags
from core.http.context import AppDeps, SignedIn
from core.http.openapi import conflict
from core.http.routes.labeling import DicomView, dicom_view
from core.services import comments, dashboard, review, review_bulk
from core.services.links import frame_count, frames_url, media_url, thumbnail_url
from core.store.versioned import Versioned

router = APIRouter(prefix="/projects/{project_id}", tags=["review"])

_RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)")


def _moment_text(value: Any) -> Any:
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("must be a date-time with its offset, as 2026-11-01T09:00:00Z")
    return value


Moment = Annotated[datetime, BeforeValidator(_moment_text)]
"""A time as RFC 3339 writes it (pydantic's lax mode also takes numbers as Unix times)."""


class ItemView(Item):
    etag: str
    thumbnail_url: str | None = Field(default=None, description="A link to the item's thumbnail")
    display_url: str | None = Field(default=None, description="A link to the picture labeled")
    dicom_view: DicomView | None = Field(default=None, description="Greyscale DICOM: window/level")
    frames: int = Field(default=1, ge=1, description="How many frames it shows (DICOM)")
    frames_url: str | None = Field(
        default=None, description="A multi-frame item's frames, as in a task's item"
    )


def item_view(found: Versioned[Item]) -> ItemView:
    return ItemView(
        **dict(found.value),
        etag=etags.bare(found.etag),
        thumbnail_url=thumbnail_url(found.value),
        display_url=media_url(found.value),
        dicom_view=dicom_view(found.value),
        frames=frame_count(found.value),
        frames_url=frames_url(found.value),
    )


class ItemList(DomainModel):
    items: list[ItemView]
    continuation: str | None = Field(default=None, description="Pass back for the next page")
    total: int | None = Field(default=None, description="How many items match (when asked)")


class ReviewIn(DomainModel):
    decision: Literal["approve", "reject"]
    value: SubmittedValue | None = Field(
        default=None, description="Your label: required to approve an item in needs_review"
    )
    note: str | None = Field(default=None, max_length=2000)


class LabelerView(DomainModel):
    user: str
    submitted: int
    skipped: int
    today: int
    answers: int
    agreed: int
    compared: int
    agreement: float | None = None
    last_at: Any = None


class CapacityView(DomainModel):
    """The project's items against its cap: at the cap ingestion refuses new files."""

    items: int
    cap: int
    set_by: str = Field(description="'project' (ingest.itemCap) or 'deployment' (LOUPE_ITEM_CAP)")
    fraction: JsonFloat
    refused: int = Field(description="Files refused for the cap after initialization")
    warning: str | None = Field(
        default=None, description="From 80 % of the cap: how full, what happens, what to do"
    )


class DashboardView(DomainModel):
    states: dict[str, int]
    queue: dict[str, int]
    labels: dict[str, int]
    labelers: list[LabelerView]
    last_refresh_at: Any = None
    as_of: Any = None
    recounted_at: Any = None
    capacity: CapacityView | None = None


MAX_ATTRIBUTE = MAX_NAME + 1 + MAX_TEXT
_ATTRIBUTE = (
    "An attribute of the final value's answer or shapes: `name` (set to anything) or "
    "`name=value` (true/false, a number such as 4 or 2.5, an option, a text)"
)


class FilterIn(DomainModel):
    """Which items: every condition given must hold (the same as GET .../items takes)."""

    state: ItemState | None = None
    label: str | None = None
    labeler: str | None = None
    path: str | None = Field(default=None, description="A prefix of the item's path")
    since: Moment | None = Field(default=None, description="Last changed at or after")
    until: Moment | None = Field(default=None, description="Last changed at or before")
    disputed: StrictBool | None = Field(
        default=None, description="The labelers did not all give the same answer"
    )
    min_confidence: JsonFloat | None = Field(default=None, ge=0, le=1)
    max_confidence: JsonFloat | None = Field(
        default=None, ge=0, le=1, description="ML assist's confidence in the pre-label"
    )
    reviewed: review.Reviewed | None = None
    attribute: str | None = Field(
        default=None, min_length=1, max_length=MAX_ATTRIBUTE, description=_ATTRIBUTE
    )

    def filter(self) -> review.ItemFilter:
        return review.ItemFilter(**dict(self))


def query_filter(
    state: ItemState | None = None,
    label: str | None = None,
    labeler: str | None = None,
    path: Annotated[str | None, Query(description="A prefix of the item's path")] = None,
    since: Annotated[Moment | None, Query(description="Last changed at or after")] = None,
    until: Annotated[Moment | None, Query(description="Last changed at or before")] = None,
    disputed: Annotated[
        bool | None, Query(description="The labelers did not all give the same answer")
    ] = None,
    min_confidence: Annotated[float | None, Query(alias="minConfidence", ge=0, le=1)] = None,
    max_confidence: Annotated[float | None, Query(alias="maxConfidence", ge=0, le=1)] = None,
    reviewed: review.Reviewed | None = None,
    attribute: Annotated[
        str | None, Query(min_length=1, max_length=MAX_ATTRIBUTE, description=_ATTRIBUTE)
    ] = None,
) -> review.ItemFilter:
    return review.ItemFilter(
        state=state,
        label=label,
        labeler=labeler,
        path=path,
        since=since,
        until=until,
        disputed=disputed,
        min_confidence=min_confidence,
        max_confidence=max_confidence,
        reviewed=reviewed,
        attribute=attribute,
    )


@router.get("/items", response_model_exclude_none=True)
def list_items(
    project_id: str,
    deps: AppDeps,
    user: SignedIn,
    where: Annotated[review.ItemFilter, Depends(query_filter)],
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=review.MAX_PAGE)] = 50,
    continuation: str | None = None,
    total: Annotated[bool, Query(description="Also count every match (one more query)")] = False,
) -> ItemList:
    """Items, newest change first, filtered by state, label, labeler, path, when they last
    changed, disagreement, pre-label confidence and review."""
    page = review.list_items(
        deps,
        project_id=project_id,
        actor=user.id,
        where=where,
        page_size=page_size,
        continuation=continuation,
    )
    views = [item_view(v) for v in page.items]
    matches = None
    if total:
        matches = review.count_items(deps, project_id=project_id, actor=user.id, where=where)
    return ItemList(items=views, continuation=page.continuation, total=matches)


@router.get("/items/{item_id}", response_model_exclude_none=True, responses=etags.tagged())
def get_item(
    project_id: str, item_id: str, deps: AppDeps, user: SignedIn, response: Response
) -> ItemView:
    found = review.get_item(deps, project_id=project_id, actor=user.id, item_id=item_id)
    response.headers["ETag"] = etags.header(found.etag)
    return item_view(found)


@router.post(
    "/items/{item_id}/review",
    response_model_exclude_none=True,
    responses=conflict("the item holds nothing to review, or it kept changing: send again"),
)
def review_item(
    project_id: str, item_id: str, body: ReviewIn, deps: AppDeps, user: SignedIn
) -> Item:
    return review.review_item(
        deps,
        project_id=project_id,
        actor=user.id,
        item_id=item_id,
        decision=body.decision,
        value=body.value,
        note=body.note,
    )


class PickedIn(DomainModel):
    item_id: str
    etag: str | None = Field(
        default=None, description="The version you saw (an item changed since is left alone)"
    )


class BulkReviewIn(DomainModel):
    decision: Literal["approve", "reject"]
    note: str | None = Field(
        default=None,
        max_length=2000,
        description="A rejection's reason: a comment the labelers see, with the item",
    )
    items: list[PickedIn] | None = Field(
        default=None, min_length=1, max_length=review_bulk.MAX_ITEMS
    )
    filter: FilterIn | None = Field(default=None, description="Instead of items: every match")
    as_of: Moment | None = Field(
        default=None,
        description="With a filter: only items last changed at or before (when you looked)",
    )


class Skipped(DomainModel):
    item_id: str
    reason: str


class BulkReviewOut(DomainModel):
    reviewed: list[str] = Field(description="The items approved or rejected now")
    skipped: list[Skipped] = Field(description="Items left as they were, and why")
    more: bool = Field(description="More items match the filter: send the request again")


@router.post("/reviews")
def review_many(
    project_id: str, body: BulkReviewIn, deps: AppDeps, user: SignedIn
) -> BulkReviewOut:
    """Approve or reject many items: those picked, or every item the filter matches (up to
    200 a request). Each item on its own: the answer lists the items reviewed and those left
    as they were with the reason; a request refused whole changes nothing."""
    picked = None
    if body.items is not None:
        picked = [review_bulk.Picked(p.item_id, p.etag and etags.bare(p.etag)) for p in body.items]
    report = review_bulk.review_many(
        deps,
        project_id=project_id,
        actor=user.id,
        decision=body.decision,
        note=body.note,
        items=picked,
        where=body.filter.filter() if body.filter else None,
        as_of=body.as_of,
    )
    return BulkReviewOut(
        reviewed=report.reviewed,
        skipped=[Skipped(item_id=i, reason=r) for i, r in report.skipped],
        more=report.more,
    )


class CommentIn(DomainModel):
    text: str = Field(min_length=1, max_length=comments.MAX_TEXT, pattern=r"\S")


@router.post(
    "/items/{item_id}/comments",
    status_code=201,
    response_model_exclude_none=True,
    responses=conflict("the item kept changing: send again"),
)
def comment_on_item(
    project_id: str, item_id: str, body: CommentIn, deps: AppDeps, user: SignedIn
) -> Comment:
    """A comment to the labelers whose answers the item holds (they see it in Feedback)."""
    item = comments.comment_on_item(
        deps, project_id=project_id, actor=user.id, item_id=item_id, text=body.text
    )
    return item.comments[-1]


class HistoryOut(DomainModel):
    events: list[AuditEvent]
    continuation: str | None = Field(default=None, description="Pass back for the next page")


@router.get("/items/{item_id}/history", response_model_exclude_none=True)
def item_history(
    project_id: str,
    item_id: str,
    deps: AppDeps,
    user: SignedIn,
    continuation: str | None = None,
) -> HistoryOut:
    """Who labeled, changed, skipped, commented, approved or rejected the item, when, with the
    values before and after: oldest first."""
    page = review.item_history(
        deps, project_id=project_id, actor=user.id, item_id=item_id, continuation=continuation
    )
    return HistoryOut(events=page.events, continuation=page.continuation)


@router.get("/feedback", response_model_exclude_none=True)
def my_feedback(
    project_id: str, deps: AppDeps, user: SignedIn, continuation: str | None = None
) -> comments.FeedbackPage:
    """Comments reviewers addressed to you (rejections' reasons included), newest first."""
    return comments.feedback(deps, project_id=project_id, actor=user.id, continuation=continuation)


@router.get("/dashboard", response_model_exclude_none=True)
def get_dashboard(project_id: str, deps: AppDeps, user: SignedIn) -> DashboardView:
    found = dashboard.dashboard(deps, project_id=project_id, actor=user.id)
    return DashboardView(
        states=found.states,
        queue=found.queue,
        labels=found.labels,
        labelers=[LabelerView(**vars(p)) for p in found.labelers],
        last_refresh_at=found.last_refresh_at,
        as_of=found.as_of,
        recounted_at=found.recounted_at,
        capacity=_capacity(found.capacity) if found.capacity else None,
    )


def _capacity(found: Capacity) -> CapacityView:
    return CapacityView(
        items=found.items,
        cap=found.cap,
        set_by=found.set_by,
        fraction=round(found.fraction, 4),
        refused=found.refused,
        warning=found.warning,
    )
