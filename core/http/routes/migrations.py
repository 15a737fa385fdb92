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
from core.domain.model import DomainModel
from core.domain.task_types import TaskType
from core.http.context import AppDeps, CurrentUser
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
    user: CurrentUser,
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
    try:
        dataset = (
            Dataset(source=DataSource.BLOB, container=container, path=path)
            if container is not None
            else Dataset()
        )
    except ValidationError as error:
        raise InvalidInput.one("container", str(error.errors()[0]["msg"])) from None
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
