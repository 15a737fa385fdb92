"""Owners' project management over HTTP: members, assignments, label classes mid-project."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import Field

from core.domain.labels import LabelClass
from core.domain.model import DomainModel, JsonInt
from core.domain.projects import Project, Role
from core.domain.relabel import ExistingLabels
from core.http import etags
from core.http.context import AppDeps, SignedIn
from core.http.openapi import conflict
from core.services import assignment, label_classes, members
from core.store.versioned import Versioned

router = APIRouter(prefix="/projects/{project_id}", tags=["management"])


class MemberIn(DomainModel):
    role: Role


class AssignIn(DomainModel):
    labeler: str
    item_ids: list[str] | None = Field(default=None, max_length=assignment.MAX_ITEMS)
    path_prefix: str | None = None
    limit: JsonInt = Field(default=assignment.MAX_ITEMS, ge=1, le=assignment.MAX_ITEMS)


class ReleaseIn(DomainModel):
    labeler: str | None = None
    item_ids: list[str] | None = Field(default=None, max_length=assignment.MAX_ITEMS)
    path_prefix: str | None = None


class Changed(DomainModel):
    changed: int


_ONE_OWNER = conflict("the project would be left without an owner")
_CLASS_CHANGE = conflict(
    "the project is not paused, or an earlier class change is still being applied"
)


class AddClassesIn(DomainModel):
    classes: list[LabelClass] = Field(min_length=1)
    existing_labels: ExistingLabels = Field(
        description="start_over, keep_as_defaults (pre-filled), or keep"
    )


class RenameIn(DomainModel):
    old: str = Field(alias="from")
    new: str = Field(alias="to")


def _classes(response: Response, saved: Versioned[Project]) -> list[LabelClass]:
    response.headers["ETag"] = etags.header(saved.etag)
    return saved.value.label_classes


def _members(response: Response, saved: Versioned[Project]) -> dict[str, Role]:
    response.headers["ETag"] = etags.header(saved.etag)
    return saved.value.members


@router.get("/members")
def list_members(project_id: str, deps: AppDeps, user: SignedIn) -> dict[str, Role]:
    return members.list_members(deps, project_id=project_id, actor=user.id)


@router.put("/members/{member}", responses=etags.tagged() | _ONE_OWNER)
def set_member(
    project_id: str,
    member: str,
    body: MemberIn,
    deps: AppDeps,
    user: SignedIn,
    response: Response,
    if_match: etags.IfMatch,
) -> dict[str, Role]:
    saved = members.set_member(
        deps, project_id=project_id, actor=user.id, user=member, role=body.role, if_match=if_match
    )
    return _members(response, saved)


@router.delete("/members/{member}", responses=etags.tagged() | _ONE_OWNER)
def remove_member(
    project_id: str,
    member: str,
    deps: AppDeps,
    user: SignedIn,
    response: Response,
    if_match: etags.IfMatch,
) -> dict[str, Role]:
    saved = members.remove_member(
        deps, project_id=project_id, actor=user.id, user=member, if_match=if_match
    )
    return _members(response, saved)


@router.post("/assignments")
def assign(project_id: str, body: AssignIn, deps: AppDeps, user: SignedIn) -> Changed:
    count = assignment.assign_items(
        deps,
        project_id=project_id,
        actor=user.id,
        labeler=body.labeler,
        item_ids=body.item_ids,
        path_prefix=body.path_prefix,
        limit=body.limit,
    )
    return Changed(changed=count)


@router.post("/assignments/release")
def release(project_id: str, body: ReleaseIn, deps: AppDeps, user: SignedIn) -> Changed:
    count = assignment.release_items(
        deps,
        project_id=project_id,
        actor=user.id,
        labeler=body.labeler,
        item_ids=body.item_ids,
        path_prefix=body.path_prefix,
    )
    return Changed(changed=count)


@router.post("/label-classes/add", responses=etags.tagged() | _CLASS_CHANGE)
def add_label_classes(
    project_id: str,
    body: AddClassesIn,
    deps: AppDeps,
    user: SignedIn,
    response: Response,
    if_match: etags.IfMatch,
) -> list[LabelClass]:
    """Add classes while paused; existing labels are kept, pre-filled, or removed."""
    saved = label_classes.add_label_classes(
        deps,
        project_id=project_id,
        actor=user.id,
        classes=body.classes,
        existing=body.existing_labels,
        if_match=if_match,
    )
    return _classes(response, saved)


@router.post("/label-classes/rename", responses=etags.tagged() | _CLASS_CHANGE)
def rename_label_class(
    project_id: str,
    body: RenameIn,
    deps: AppDeps,
    user: SignedIn,
    response: Response,
    if_match: etags.IfMatch,
) -> list[LabelClass]:
    """Rename a class while paused; labels already given follow the new name."""
    saved = label_classes.rename_label_class(
        deps,
        project_id=project_id,
        actor=user.id,
        old=body.old,
        new=body.new,
        if_match=if_match,
    )
    return _classes(response, saved)
