"""Exports and imports over HTTP (owners and reviewers export; owners import)."""

from __future__ import annotations

import tempfile
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import Field, StrictBool

from core.domain.exports import ExportFormat, ExportJob
from core.domain.imports import ImportJob
from core.domain.items import ItemState
from core.domain.model import DomainModel, JsonInt
from core.export.bundle import CONTENT_TYPES
from core.http.context import AppDeps, AppSettings, SignedIn
from core.http.headers import disposition
from core.http.openapi import conflict
from core.http.transfers import SHA256, Link
from core.services import exports, import_jobs, imports
from core.services.exports import ExportOptions

router = APIRouter(prefix="/projects/{project_id}", tags=["export"])
SPOOL = 8 << 20  # an upload larger than this goes to a temp file, not memory


class ExportIn(DomainModel):
    format: ExportFormat
    options: ExportOptions = ExportOptions()


class ExportOut(ExportJob):
    url: str | None = Field(default=None, description="Download link once it has succeeded")
    snippet: str = Field(description="Python that loads the downloaded file")


class ExportList(DomainModel):
    exports: list[ExportOut]


class ImportOut(DomainModel):
    job: str = Field(description="The import's id: the same file and options give the same one")
    records: int = Field(description="Records read from the file")
    updated: int = Field(description="Items this request changed")
    unchanged: int = Field(description="Items already as the file says (a file sent again)")
    unmatched: int = Field(description="Records whose path is no item of the project (skipped)")
    unmatched_paths: list[str] = Field(description="The first 1,000 unmatched paths")
    without_labels: int = Field(description="Records listing an item without a label (skipped)")
    kept_labeled: int = Field(description="Pre-labels not set: the item has a human label")
    resumed: bool = Field(description="This request finished an earlier, interrupted import")


def _out(view: exports.ExportView) -> ExportOut:
    return ExportOut(**dict(view.job), url=view.url, snippet=view.snippet)


_BYTES = {"schema": {"type": "string", "format": "binary"}}
_EXPORT_FILE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The export file (a zip for formats of several files, or split)",
        "content": dict.fromkeys(CONTENT_TYPES, _BYTES)
        | {"application/json": {"schema": {"type": "object", "description": "A COCO file"}}},
        "headers": {
            "Content-Disposition": {
                "description": "`attachment`, with the file's name",
                "required": True,
                "schema": {"type": "string"},
            }
        },
    }
}
_LABELS_FILE = {
    "requestBody": {
        "required": True,
        "description": "The labels file, in the format `format` names (any content type)",
        "content": {"application/octet-stream": _BYTES},
    }
}


@router.get("/export", response_class=StreamingResponse, responses=_EXPORT_FILE)
def download_export(
    project_id: str,
    deps: AppDeps,
    settings: AppSettings,
    user: SignedIn,
    format: ExportFormat = ExportFormat.LOUPE_JSONL,
    state: Annotated[list[ItemState] | None, Query()] = None,
    label: Annotated[list[str] | None, Query()] = None,
    validation: Annotated[float, Query(ge=0, lt=1)] = 0.0,
    seed: int = 0,
    keep_split_of: Annotated[str | None, Query(alias="keepSplitOf", max_length=64)] = None,
    predictions: bool = False,
    normalized_coco: Annotated[bool, Query(alias="normalizedCoco")] = False,
) -> StreamingResponse:
    """The export file, streamed as it is written (any size)."""
    options = ExportOptions(
        states=state or [ItemState.LABELED],
        labels=label,
        validation=validation,
        seed=seed,
        keep_split_of=keep_split_of,
        predictions=predictions,
        normalized_coco=normalized_coco,
        datastore=settings.azureml_datastore,
    )
    name, media_type, body = exports.open_export(
        deps, project_id=project_id, actor=user.id, format=format, options=options
    )
    headers = {"Content-Disposition": disposition(name)}
    return StreamingResponse(body, media_type=media_type, headers=headers)


@router.post("/exports", status_code=202, response_model_exclude_none=True)
def request_export(
    project_id: str, body: ExportIn, deps: AppDeps, settings: AppSettings, user: SignedIn
) -> ExportOut:
    """Start an export job; poll it (or the list) for its download link."""
    options = body.options.model_copy(update={"datastore": settings.azureml_datastore})
    job = exports.request_export(
        deps, project_id=project_id, actor=user.id, format=body.format, options=options
    )
    return _out(exports.get_export(deps, project_id=project_id, actor=user.id, export_id=job.id))


@router.get("/exports", response_model_exclude_none=True)
def list_exports(project_id: str, deps: AppDeps, user: SignedIn) -> ExportList:
    found = exports.list_exports(deps, project_id=project_id, actor=user.id)
    return ExportList(exports=[_out(view) for view in found])


@router.get("/exports/{export_id}", response_model_exclude_none=True)
def get_export(project_id: str, export_id: str, deps: AppDeps, user: SignedIn) -> ExportOut:
    return _out(exports.get_export(deps, project_id=project_id, actor=user.id, export_id=export_id))


@router.post(
    "/imports",
    openapi_extra=_LABELS_FILE,
    responses=conflict(
        "the project's label classes changed while the file was imported, or its items kept "
        "changing: send the file again"
    ),
)
async def import_labels(
    project_id: str,
    request: Request,
    deps: AppDeps,
    user: SignedIn,
    format: str = imports.ImportFormat.LOUPE_JSONL.value,
    mode: imports.ImportMode = imports.ImportMode.PRELABEL,
    normalized: bool = False,
) -> ImportOut:
    """Labels from a COCO, Azure ML JSONL (or a zipped MLTable folder) or Loupe JSONL file in
    the request body, matched to items by path. The whole file is checked first: any problem
    answers 422 with every problem's place in `errors` (the first 100) and nothing is written.
    Sending the same file again is safe, and completes an import that was cut off."""
    kind = imports.check_format(format)
    with tempfile.SpooledTemporaryFile(SPOOL) as file:
        async for chunk in request.stream():
            file.write(chunk)
        file.seek(0)
        report = await run_in_threadpool(
            imports.import_labels,
            deps,
            project_id=project_id,
            actor=user.id,
            format=kind,
            data=file,
            mode=mode,
            normalized=normalized,
        )
    found: dict[str, Any] = vars(report)
    return ImportOut(**found)


class ImportFileIn(DomainModel):
    """An import file put into storage: how to read it, and which file it is."""

    format: imports.ImportFormat = imports.ImportFormat.LOUPE_JSONL
    mode: imports.ImportMode = imports.ImportMode.PRELABEL
    normalized: StrictBool = Field(default=False, description="COCO: coordinates are fractions")
    sha256: str = SHA256

    def file(self, size: int = 0) -> import_jobs.ImportFile:
        return import_jobs.ImportFile(self.format, self.mode, self.normalized, self.sha256, size)


class ImportLinkIn(ImportFileIn):
    size: JsonInt = Field(ge=0, description="The file's size in bytes (refused over the limit)")


class ImportLink(Link):
    job: str = Field(description="The id the import will have (`GET .../imports/jobs/{job}`)")


@router.post("/imports/files", status_code=201)
def import_link(
    project_id: str, body: ImportLinkIn, deps: AppDeps, settings: AppSettings, user: SignedIn
) -> ImportLink:
    """A link to PUT a labels file straight to storage (owners), then `POST .../imports/jobs`:
    no file goes through the API. The file is named by its SHA-256, so the same file is the
    same import; the link writes exactly that file and lives 15 minutes."""
    link, job = import_jobs.import_link(
        deps,
        project_id=project_id,
        actor=user.id,
        file=body.file(body.size),
        max_bytes=settings.max_upload_bytes,
    )
    return ImportLink(
        url=link.url, method=link.method, headers=link.headers, expires_at=link.expires_at, job=job
    )


@router.post("/imports/jobs", status_code=202, response_model_exclude_none=True)
def start_import(project_id: str, body: ImportFileIn, deps: AppDeps, user: SignedIn) -> ImportJob:
    """Import a file put on its link: the import stage checks it whole (a refused file is
    `refused` with every problem in `errors`, nothing written), then writes it; poll
    `GET .../imports/jobs/{job}`. The same file and options are the same job: starting it again
    answers it as it is, or finishes one that failed."""
    return import_jobs.start_import(deps, project_id=project_id, actor=user.id, file=body.file())


@router.get("/imports/jobs/{job_id}", response_model_exclude_none=True)
def get_import(project_id: str, job_id: str, deps: AppDeps, user: SignedIn) -> ImportJob:
    """An import's progress (`done` of `items`) and report (owners)."""
    return import_jobs.get_import(deps, project_id=project_id, actor=user.id, job_id=job_id)
