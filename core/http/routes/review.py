"""Review and the dashboard over HTTP (reviewers and owners)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import Field

from core.domain.items import Item, ItemState
from core.domain.model import DomainModel
from core.http import etags
from core.http.context import AppDeps, CurrentUser
from core.http.openapi import conflict
from core.services import dashboard, review
from core.services.links import thumbnail_url

router = APIRouter(prefix="/projects/{project_id}", tags=["review"])


class ItemView(Item):
    etag: str
    thumbnail_url: str | None = Field(default=None, description="A link to the item's thumbnail")


class ItemList(DomainModel):
    items: list[ItemView]
    continuation: str | None = Field(default=None, description="Pass back for the next page")


class ReviewIn(DomainModel):
    decision: Literal["approve", "reject"]
    value: dict[str, Any] | None = Field(
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


class DashboardView(DomainModel):
    states: dict[str, int]
    queue: dict[str, int]
    labels: dict[str, int]
    labelers: list[LabelerView]
    last_refresh_at: Any = None
    as_of: Any = None
    recounted_at: Any = None


@router.get("/items", response_model_exclude_none=True)
def list_items(
    project_id: str,
    deps: AppDeps,
    user: CurrentUser,
    state: ItemState | None = None,
    label: str | None = None,
    labeler: str | None = None,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=review.MAX_PAGE)] = 50,
    continuation: str | None = None,
) -> ItemList:
    """Items, newest change first, filtered by state, label and labeler."""
    page = review.list_items(
        deps,
        project_id=project_id,
        actor=user.id,
        state=state,
        label=label,
        labeler=labeler,
        page_size=page_size,
        continuation=continuation,
    )
    views = [
        ItemView(**dict(v.value), etag=etags.bare(v.etag), thumbnail_url=thumbnail_url(v.value))
        for v in page.items
    ]
    return ItemList(items=views, continuation=page.continuation)


@router.get("/items/{item_id}", response_model_exclude_none=True, responses=etags.tagged())
def get_item(
    project_id: str, item_id: str, deps: AppDeps, user: CurrentUser, response: Response
) -> ItemView:
    found = review.get_item(deps, project_id=project_id, actor=user.id, item_id=item_id)
    response.headers["ETag"] = etags.header(found.etag)
    return ItemView(
        **dict(found.value),
        etag=etags.bare(found.etag),
        thumbnail_url=thumbnail_url(found.value),
    )


@router.post(
    "/items/{item_id}/review",
    response_model_exclude_none=True,
    responses=conflict("the item holds nothing to review, or it kept changing: send again"),
)
def review_item(
    project_id: str, item_id: str, body: ReviewIn, deps: AppDeps, user: CurrentUser
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


@router.get("/dashboard", response_model_exclude_none=True)
def get_dashboard(project_id: str, deps: AppDeps, user: CurrentUser) -> DashboardView:
    found = dashboard.dashboard(deps, project_id=project_id, actor=user.id)
    return DashboardView(
        states=found.states,
        queue=found.queue,
        labels=found.labels,
        labelers=[LabelerView(**vars(p)) for p in found.labelers],
        last_refresh_at=found.last_refresh_at,
        as_of=found.as_of,
        recounted_at=found.recounted_at,
    )
