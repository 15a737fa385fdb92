"""Migration from Azure ML Data Labeling over HTTP (creators): its labels export in, a project
with its classes, images and labels out (`core.services.migrations`)."""

from __future__ import annotations

import tempfile
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import Field, ValidationError

from core.domain.datasets import Dataset, DataSource
from core.domain.errors import InvalidInput
from core.domain.imports import MigrationJob
from core.domain.model import DomainModel, JsonInt
from core.domain.task_types import TaskType
from core.http.context import AppDeps, AppSettings, SignedIn
from core.http.openapi import forbidden
from core.http.transfers import SHA256, Link
from core.services import migration_jobs
from core.services.migrations import migrate_azureml

router = APIRouter(tags=["migration"])
SPOOL = 8 << 20
_BYTES = {"type": "string", "format": "binary"}


class MigrationOut(DomainModel):
    project_id: str
    task_type: TaskType
    classes: list[str] = Field(description="The classes the file's labels use, in first use")
    records: int = Field(description="Records read from the file")
    items: int = Field(description="Items the file names that the project has now")
    labeled: int = Field(description="Items labeled from the file (final labels)")
    unlabeled_records: int = Field(description="Records without a label: items left unlabeled")
    missing: int = Field(description="Images the file names that the container does not hold")
    missing_urls: list[str] = Field(description="Their URLs (the first 1,000)")


@router.post(
    "/migrations/azureml",
    status_code=status.HTTP_201_CREATED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "Azure ML Data Labeling's labels export: its JSONL, or a zip of the "
            "MLTable folder holding it",
            "content": {"application/octet-stream": {"schema": _BYTES}},
        }
    },
)
async def migrate_from_azureml(
    request: Request,
    deps: AppDeps,
    user: SignedIn,
    name: Annotated[str, Query(min_length=1, max_length=200, description="The new project's name")],
    container: Annotated[
        str | None,
        Query(description="The allowed blob container holding the images; none for text rows"),
    ] = None,
    path: Annotated[str, Query(description="The images' folder in it, e.g. `pets/**`")] = "",
    task_type: Annotated[
        TaskType | None, Query(alias="taskType", description="Default: told by the labels")
    ] = None,
) -> MigrationOut:
    """A project from an Azure ML labels export: the same task type, classes and final labels;
    images read where they are (a container the deployment allows, `LOUPE_DATASETS`), text rows
    uploaded. The whole file is checked first: a problem answers 422 and creates nothing."""
    dataset = _dataset(container, path)
    with tempfile.SpooledTemporaryFile(SPOOL) as file:
        async for chunk in request.stream():
            file.write(chunk)
        file.seek(0)
        report = await run_in_threadpool(
            migrate_azureml,
            deps,
            actor=user.id,
            name=name,
            data=file,
            dataset=dataset,
            task_type=task_type,
        )
    return MigrationOut(
        project_id=report.project.id,
        task_type=report.project.task_type,
        classes=[c.name for c in report.project.label_classes],
        records=report.records,
        items=report.items,
        labeled=report.labeled,
        unlabeled_records=report.unlabeled_records,
        missing=report.missing,
        missing_urls=report.missing_urls,
    )


def _dataset(container: str | None, path: str) -> Dataset:
    try:
        if container is None:
            return Dataset()
        return Dataset(source=DataSource.BLOB, container=container, path=path)
    except ValidationError as error:
        raise InvalidInput.one("container", str(error.errors()[0]["msg"])) from None


_CREATORS = forbidden("only creators and admins create projects")


class MigrationLinkIn(DomainModel):
    sha256: str = SHA256
    size: JsonInt = Field(ge=0, description="The file's size in bytes (refused over the limit)")


class MigrationIn(DomainModel):
    sha256: str = SHA256
    name: str = Field(min_length=1, max_length=200, description="The new project's name")
    container: str | None = Field(
        default=None, description="The allowed blob container holding the images; none for text"
    )
    path: str = Field(default="", description="The images' folder in it, e.g. `pets/**`")
    task_type: TaskType | None = Field(default=None, description="Default: told by the labels")


@router.post("/migrations/azureml/files", status_code=status.HTTP_201_CREATED, responses=_CREATORS)
def migration_link(
    body: MigrationLinkIn, deps: AppDeps, settings: AppSettings, user: SignedIn
) -> Link:
    """A link to PUT an Azure ML labels export straight to storage (creators), then
    `POST /api/migrations/azureml/jobs`: no file goes through the API."""
    link = migration_jobs.migration_link(
        deps,
        actor=user.id,
        sha256=body.sha256,
        size=body.size,
        max_bytes=settings.max_upload_bytes,
    )
    return Link(url=link.url, method=link.method, headers=link.headers, expires_at=link.expires_at)


@router.post(
    "/migrations/azureml/jobs",
    status_code=status.HTTP_202_ACCEPTED,
    responses=_CREATORS,
    response_model_exclude_none=True,
)
def start_migration(body: MigrationIn, deps: AppDeps, user: SignedIn) -> MigrationJob:
    """Migrate a file put on its link: the import stage checks it whole (a refused file is
    `refused`, every problem in `errors`, and nothing is created), then makes the project and
    writes its labels; poll `GET /api/migrations/azureml/jobs/{job}` for `project` and the report.
    The same file and options are the same job."""
    return migration_jobs.start_migration(
        deps,
        actor=user.id,
        name=body.name,
        dataset=_dataset(body.container, body.path),
        task_type=body.task_type,
        sha256=body.sha256,
    )


@router.get("/migrations/azureml/jobs/{job_id}", response_model_exclude_none=True)
def get_migration(job_id: str, deps: AppDeps, user: SignedIn) -> MigrationJob:
    """One of your migrations: its status, the project it made and its report."""
    return migration_jobs.get_migration(deps, actor=user.id, job_id=job_id)
