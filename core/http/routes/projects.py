"""Projects over HTTP: thin translation between requests and `core.services.projects`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status
from pydantic import Field

from core.domain.labels import LabelClass
from core.domain.model import DomainModel
from core.domain.projects import (
    MAX_NAME_LENGTH,
    NAME_PATTERN,
    Instructions,
    Project,
    ProjectPatch,
    ProjectSettings,
)
from core.http import etags
from core.http.context import AppDeps, SignedIn
from core.http.openapi import conflict, forbidden
from core.services import dashboard, projects
from core.store.versioned import Versioned

router = APIRouter(prefix="/projects", tags=["projects"])
names = APIRouter(prefix="/project-names", tags=["projects"])


class ProjectView(Project):
    etag: str


_CREATED: dict[int | str, dict[str, Any]] = {
    201: {
        "headers": {
            "ETag": etags.ETAG_HEADER,
            "Location": {
                "description": "The new project",
                "required": True,
                "schema": {"type": "string"},
            },
        }
    }
}
_DATASETS = "a blob dataset must be in a place LOUPE_DATASETS allows"
_STATUS_CONFLICT = conflict("the project is initializing or failed to: it cannot pause or resume")


def _view(response: Response, found: Versioned[Project]) -> ProjectView:
    response.headers["ETag"] = etags.header(found.etag)
    return ProjectView(**dict(found.value), etag=etags.bare(found.etag))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model_exclude_none=True,
    responses=_CREATED
    | conflict("the name is taken (names are never reused)")
    | forbidden(f"only creators and admins create projects; {_DATASETS}"),
)
def create_project(
    settings: ProjectSettings, deps: AppDeps, user: SignedIn, response: Response
) -> ProjectView:
    created = projects.create_project(deps, settings=settings, actor=user.id)
    response.headers["Location"] = f"/api/projects/{created.value.id}"
    return _view(response, created)


class ListedProject(Project):
    progress: dashboard.Progress


@router.get("", response_model_exclude_none=True)
def list_projects(deps: AppDeps, user: SignedIn) -> list[ListedProject]:
    """Your projects, newest first, each with how far it is (one request for the whole list)."""
    return [
        ListedProject(**dict(p), progress=dashboard.progress_of(deps, p.id))
        for p in projects.list_projects(deps, actor=user.id)
    ]


@router.get("/{project_id}", response_model_exclude_none=True, responses=etags.tagged())
def get_project(project_id: str, deps: AppDeps, user: SignedIn, response: Response) -> ProjectView:
    return _view(response, projects.get_project(deps, project_id=project_id, actor=user.id))


@router.patch(
    "/{project_id}",
    response_model_exclude_none=True,
    responses=etags.tagged()
    | conflict("the new name is taken, or the classes change while an earlier change runs")
    | forbidden(_DATASETS),
)
def update_project(
    project_id: str,
    patch: ProjectPatch,
    deps: AppDeps,
    user: SignedIn,
    response: Response,
    if_match: etags.IfMatchRequired,
) -> ProjectView:
    updated = projects.update_project(
        deps, project_id=project_id, patch=patch, if_match=if_match, actor=user.id
    )
    return _view(response, updated)


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_project(project_id: str, deps: AppDeps, user: SignedIn, if_match: etags.IfMatch) -> None:
    projects.delete_project(deps, project_id=project_id, actor=user.id, if_match=if_match)


@router.post(
    "/{project_id}/pause",
    response_model_exclude_none=True,
    responses=etags.tagged() | _STATUS_CONFLICT,
)
def pause_project(
    project_id: str, deps: AppDeps, user: SignedIn, response: Response, if_match: etags.IfMatch
) -> ProjectView:
    paused = projects.pause_project(deps, project_id=project_id, actor=user.id, if_match=if_match)
    return _view(response, paused)


@router.post(
    "/{project_id}/resume",
    response_model_exclude_none=True,
    responses=etags.tagged() | _STATUS_CONFLICT,
)
def resume_project(
    project_id: str, deps: AppDeps, user: SignedIn, response: Response, if_match: etags.IfMatch
) -> ProjectView:
    resumed = projects.resume_project(deps, project_id=project_id, actor=user.id, if_match=if_match)
    return _view(response, resumed)


@router.get("/{project_id}/label-classes", responses=etags.tagged())
def get_label_classes(
    project_id: str, deps: AppDeps, user: SignedIn, response: Response
) -> list[LabelClass]:
    found = projects.get_project(deps, project_id=project_id, actor=user.id)
    response.headers["ETag"] = etags.header(found.etag)
    return found.value.label_classes


@router.put(
    "/{project_id}/label-classes",
    responses=etags.tagged() | conflict("an earlier class change is still being applied"),
)
def set_label_classes(
    project_id: str,
    classes: list[LabelClass],
    deps: AppDeps,
    user: SignedIn,
    response: Response,
    if_match: etags.IfMatchRequired,
) -> list[LabelClass]:
    updated = projects.set_label_classes(
        deps, project_id=project_id, classes=classes, if_match=if_match, actor=user.id
    )
    response.headers["ETag"] = etags.header(updated.etag)
    return updated.value.label_classes


@router.get(
    "/{project_id}/instructions", response_model_exclude_none=True, responses=etags.tagged()
)
def get_instructions(
    project_id: str, deps: AppDeps, user: SignedIn, response: Response
) -> Instructions:
    found = projects.get_project(deps, project_id=project_id, actor=user.id)
    response.headers["ETag"] = etags.header(found.etag)
    return found.value.instructions


@router.put(
    "/{project_id}/instructions", response_model_exclude_none=True, responses=etags.tagged()
)
def set_instructions(
    project_id: str,
    instructions: Instructions,
    deps: AppDeps,
    user: SignedIn,
    response: Response,
    if_match: etags.IfMatchRequired,
) -> Instructions:
    updated = projects.set_instructions(
        deps, project_id=project_id, instructions=instructions, if_match=if_match, actor=user.id
    )
    response.headers["ETag"] = etags.header(updated.etag)
    return updated.value.instructions


class NameCheck(DomainModel):
    name: str
    available: bool = Field(description="No project took this name (names are never reused)")


@names.get("/{name}", responses=forbidden("only creators and admins create projects"))
def check_name(
    name: Annotated[str, Path(max_length=MAX_NAME_LENGTH, pattern=NAME_PATTERN)],
    deps: AppDeps,
    user: SignedIn,
) -> NameCheck:
    """Whether a new project may take `name`, ignoring case and spacing as creation does."""
    return NameCheck(name=name, available=projects.name_available(deps, name=name, actor=user.id))
