"""Exports: stream a project's labels in any format, or run an export job that writes the file
to the blob store and hands back a download link; list past exports; a loading snippet each."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import quote

from pydantic import Field, StrictBool

from core.domain.datasets import dataset_root
from core.domain.errors import InvalidInput, NotFound
from core.domain.exports import ExportFormat, ExportJob
from core.domain.items import Item, ItemState
from core.domain.labels import attribute_names, keypoint_templates
from core.domain.links import Grant
from core.domain.messages import EXPORT_RUN, RunExport
from core.domain.model import DomainModel, JsonFloat, JsonInt
from core.domain.outbound import EXPORT_FINISHED
from core.domain.projects import Project, Role
from core.domain.runs import JobStatus
from core.export import bundle, parts, pipe
from core.export.records import (
    TRAIN,
    VALIDATION,
    ImageUrl,
    KeptSplit,
    Options,
    Picture,
    Pictures,
    Record,
)
from core.export.slices import PER_SLICE, records_of
from core.ports import Deps
from core.services import export_parts, outbound
from core.services.frames import frame_display
from core.services.links import download_url
from core.services.worklog import member_project
from core.store.collections import EXPORTS, load
from core.store.repositories.exports import Exports
from core.store.repositories.items import Items

PAGE = 1000
LINK_SECONDS = 7 * 24 * 3600  # the longest a user-delegation SAS may live
MAX_LIST = 100
STREAMED_PICTURES_MAX = 2 << 30
"""The most image bytes a direct download ships (YOLO, VOC); an export job has no such bound."""

SPLIT_SUFFIX = export_parts.SPLIT_SUFFIX
EXPORTS_CONTAINER = export_parts.EXPORTS_CONTAINER
"""Export files live apart from the data, so no dataset path can ever ingest them."""


class ExportOptions(DomainModel):
    """What an export includes (stored with each job)."""

    states: list[ItemState] = Field(default_factory=lambda: [ItemState.LABELED])
    labels: list[str] | None = Field(default=None, description="Only these classes; None: all")
    validation: JsonFloat = Field(default=0.0, ge=0, lt=1, description="Validation split fraction")
    seed: JsonInt = 0
    keep_split_of: str | None = Field(
        default=None,
        max_length=64,
        description="An earlier export job of this project whose split to keep: its items stay "
        "on their side, items it did not have are split at `validation`",
    )
    predictions: StrictBool = Field(default=False, description="Add predictions of unlabeled items")
    normalized_coco: StrictBool = Field(default=False, description="Azure ML's 0–1 COCO flavour")
    datastore: str | None = Field(
        default=None, description="azureml://… datastore URI for image_url (set by the server)"
    )
    images: StrictBool = Field(
        default=True,
        description="YOLO and VOC: ship the images beside the labels (a direct download up to "
        "2 GiB of them; an export job any size); false: the labels alone",
    )


@dataclass(frozen=True)
class ExportView:
    job: ExportJob
    url: str | None
    snippet: str


def target(
    deps: Deps, project: Project, format: ExportFormat, options: ExportOptions, actor: str
) -> bundle.Target:
    """The writer's target for `project`, checked against its task type and classes; the
    image links it writes are `actor`'s."""
    categories = _categories(project, options)
    made = bundle.Target(
        format=format,
        task_type=project.task_type.value,
        categories=categories,
        options=_options(deps, project, format, options),
        image_url=_image_url(deps, project, options.datastore, actor),
        name=_slug(project.name),
        pictures=_pictures(deps, project) if options.images else None,
        templates={
            name: template
            for name, template in keypoint_templates(project.label_classes).items()
            if name in categories
        },
        relation_classes=project.relation_classes,
        attributes=attribute_names(project.label_classes),
        source_file=_source_file(deps, project) if format is ExportFormat.DICOM_SEG else None,
    )
    bundle.check_fits(format, made.task_type)
    if format is ExportFormat.DICOM_SEG and options.validation > 0:
        raise InvalidInput.one(
            "validation",
            "dicom_seg writes one Segmentation per item, with no train/validation split: "
            "leave validation at 0",
        )
    return made


def _categories(project: Project, options: ExportOptions) -> list[str]:
    """The classes exported: the project's, or those `options.labels` names (all of them its)."""
    known = [c.name for c in project.label_classes]
    if options.labels is not None:
        unknown = sorted(set(options.labels) - set(known))
        if unknown:
            raise InvalidInput.one("labels", f"not classes of this project: {', '.join(unknown)}")
    return [n for n in known if options.labels is None or n in options.labels]


def _options(deps: Deps, project: Project, format: ExportFormat, options: ExportOptions) -> Options:
    """The writer's options: pre-labels bring the unlabeled items along."""
    states = tuple(s.value for s in options.states)
    if options.predictions and ItemState.UNLABELED.value not in states:
        states += (ItemState.UNLABELED.value,)
    return Options(
        states=states,
        labels=tuple(options.labels) if options.labels is not None else None,
        validation=options.validation,
        seed=options.seed,
        kept=_kept_split(deps, project.id, options) if options.keep_split_of else None,
        predictions=options.predictions,
        normalized_coco=options.normalized_coco,
        slices=format in PER_SLICE,
    )


def records(deps: Deps, project_id: str, options: Options) -> Iterator[Record]:
    """The export's items, page by page (never all in memory)."""
    for document in Items(deps, project_id).in_states(options.states, PAGE):
        yield from records_of(document.body, options)


def open_export(
    deps: Deps, *, project_id: str, actor: str, format: ExportFormat, options: ExportOptions
) -> tuple[str, str, Iterator[bytes]]:
    """(file name, content type, the file's bytes as a stream) for a direct download."""
    project = member_project(deps, project_id, actor, Role.REVIEWER)
    made = target(deps, project, format, options, actor)
    if made.pictures is not None and format in bundle.WITH_PICTURES:
        _check_streamable(deps, project, made.options)
    name = bundle.file_name(made)
    return name, bundle.content_type(name), pipe.stream(lambda out: write(deps, made, project, out))


def _check_streamable(deps: Deps, project: Project, options: Options) -> None:
    total = sum(
        (r.document.get("media") or {}).get("bytes", 0) for r in records(deps, project.id, options)
    )
    if total > STREAMED_PICTURES_MAX:
        raise InvalidInput.one(
            "images",
            f"the images add up to {total / (1 << 30):.1f} GiB, more than the "
            f"{STREAMED_PICTURES_MAX >> 30} GiB a direct download carries: start an export job "
            "(POST .../exports, `loupe export --job`, or the web UI's Export), which writes any "
            "size, or set images=false for the labels alone",
        )


def write(deps: Deps, made: bundle.Target, project: Project, out: IO[bytes]) -> None:
    bundle.write(made, lambda: records(deps, project.id, made.options), out, _spool)


def request_export(
    deps: Deps, *, project_id: str, actor: str, format: ExportFormat, options: ExportOptions
) -> ExportJob:
    project = member_project(deps, project_id, actor, Role.REVIEWER)
    target(deps, project, format, options, actor)  # refuse a bad request now, not in the job
    job = ExportJob(
        id=deps.ids.token(),
        project_id=project_id,
        format=format,
        options=options.to_doc(),
        created_by=actor,
        created_at=deps.clock.now(),
    )
    deps.documents.container(EXPORTS).create(job.to_doc())
    deps.queue.send(EXPORT_RUN, RunExport(project_id=project_id, export_id=job.id).to_doc())
    return job


def run_export(deps: Deps, *, message: RunExport) -> None:
    """The export stage: write the file to the blob store in parts
    (`core.services.export_parts`: a plan, where the format or a split needs one, then one part
    a delivery, then the join, so no call is long). A repeated delivery of a finished job does
    nothing; a failure is recorded on the job and raised so the queue retries."""
    container = deps.documents.container(EXPORTS)
    found = container.get(message.project_id, message.export_id)
    if found is None:
        return
    job = load(ExportJob, found)
    if job.status is JobStatus.SUCCEEDED:
        return
    etag = found.etag
    if job.status is not JobStatus.RUNNING or job.error is not None:
        # Shown while it writes; a crash leaves it running until the redelivery runs it again.
        job = job.model_copy(update={"status": JobStatus.RUNNING, "error": None})
        etag = container.upsert(job.to_doc(), if_match=etag).etag
    try:
        project = member_project(deps, job.project_id, job.created_by, Role.REVIEWER)
        made = target(
            deps, project, job.format, ExportOptions.model_validate(job.options), job.created_by
        )
        name = f"{job.project_id}/{job.id}/{bundle.file_name(made)}"
        if not export_parts.step(deps, job, etag, made, name, parts.layout(made)):
            return  # more to come: the message is sent on
        done = {"status": JobStatus.SUCCEEDED, "blob_name": name, "error": None}
    except Exception as error:
        done = {"status": JobStatus.FAILED, "error": f"{type(error).__name__}: {error}"[:2000]}
        container.upsert(_finish(deps, job, done).to_doc())
        raise
    container.upsert(_finish(deps, job, done).to_doc())


def _split_blob(export_blob: str) -> str:
    return export_blob + SPLIT_SUFFIX


def _kept_split(deps: Deps, project_id: str, options: ExportOptions) -> KeptSplit:
    """The split export job `options.keep_split_of` recorded (422 if it has none)."""
    earlier = options.keep_split_of
    if options.validation <= 0:
        raise InvalidInput.one("validation", "keeping a split needs a validation fraction")
    found = deps.documents.container(EXPORTS).get(project_id, str(earlier))
    job = load(ExportJob, found) if found is not None else None
    blob = _split_blob(job.blob_name) if job is not None and job.blob_name else None
    if blob is None or not deps.blobs.exists(EXPORTS_CONTAINER, blob):
        raise InvalidInput.one(
            "keepSplitOf",
            f"export {earlier!r} of this project has no split to keep: only finished export "
            "jobs with a validation fraction record theirs",
        )

    def sides() -> tuple[frozenset[str], frozenset[str]]:
        found = json.loads(deps.blobs.get(EXPORTS_CONTAINER, blob))
        return frozenset(found[VALIDATION]), frozenset(found[TRAIN])

    return KeptSplit(load=sides)  # read when asked: by a plan, or a direct download


def _finish(deps: Deps, job: ExportJob, changes: dict[str, Any]) -> ExportJob:
    done = job.model_copy(update=changes | {"finished_at": deps.clock.now()})
    outbound.publish(
        deps,
        type=EXPORT_FINISHED,
        project_id=job.project_id,
        subject=f"{job.id}:{done.status.value}",
        data={"exportId": job.id, "status": done.status.value, "format": job.format,
              "error": done.error},
    )  # fmt: skip
    return done


def list_exports(deps: Deps, *, project_id: str, actor: str) -> list[ExportView]:
    """The newest exports first (up to `MAX_LIST`)."""
    member_project(deps, project_id, actor, Role.REVIEWER)
    newest = Exports(deps, project_id).newest(MAX_LIST)
    return [_view(deps, load(ExportJob, d), actor) for d in newest]


def get_export(deps: Deps, *, project_id: str, actor: str, export_id: str) -> ExportView:
    member_project(deps, project_id, actor, Role.REVIEWER)
    found = deps.documents.container(EXPORTS).get(project_id, export_id)
    if found is None:
        raise NotFound(f"export {export_id!r} is not in this project")
    return _view(deps, load(ExportJob, found), actor)


def _view(deps: Deps, job: ExportJob, viewer: str) -> ExportView:
    """The job as `viewer` sees it: its file's link is theirs, made fresh at every read, so a
    short life costs nothing."""
    url = None
    if job.blob_name is not None:
        grant = Grant(job.project_id, viewer)
        url = download_url(deps, EXPORTS_CONTAINER, job.blob_name, grant, expires_in_s=600)
    name = (job.blob_name or f"export-{job.format.value}").rsplit("/", 1)[-1]
    return ExportView(job, url, bundle.snippet(job.format, name))


def _image_url(deps: Deps, project: Project, datastore: str | None, actor: str) -> ImageUrl:
    container, prefix = dataset_root(
        project.dataset, project_id=project.id, upload_container=deps.data_container
    )
    if datastore:
        base = datastore.rstrip("/") + "/paths/"
        return lambda path: base + quote(prefix + path)
    grant = Grant(project.id, actor)
    return lambda path: download_url(
        deps, container, prefix + path, grant, expires_in_s=LINK_SECONDS
    )


def _pictures(deps: Deps, project: Project) -> Pictures:
    container, prefix = dataset_root(
        project.dataset, project_id=project.id, upload_container=deps.data_container
    )

    def picture(rec: Record, formats: frozenset[str]) -> Picture | None:
        if rec.slice is not None:
            return _slice_picture(deps, project, rec)
        media = rec.document.get("media") or {}
        upright = media.get("orientation", 1) == 1  # a turned photo ships its upright rendition
        if (
            upright
            and media.get("format") in formats
            and media.get("width")
            and media.get("height")
        ):
            name = prefix + rec.path
            return Picture(
                media["format"], media["width"], media["height"],
                lambda: deps.blobs.stream(container, name),
            )  # fmt: skip
        derivatives = rec.document.get("derivatives") or {}
        if not derivatives.get("display"):
            return None
        where, _, name = derivatives["display"].partition("/")
        kind = "png" if name.lower().endswith(".png") else "jpeg"
        return Picture(
            kind,
            derivatives["width"],
            derivatives["height"],
            lambda: deps.blobs.stream(where, name),
        )

    return picture


def _source_file(deps: Deps, project: Project) -> Callable[[str], bytes]:
    """An item's file by its path (a series' slice by its own), as the dataset holds it."""
    container, prefix = dataset_root(
        project.dataset, project_id=project.id, upload_container=deps.data_container
    )
    return lambda path: deps.blobs.get(container, prefix + path)


def _slice_picture(deps: Deps, project: Project, rec: Record) -> Picture | None:
    """A volume's slice as the labeler saw it: the frame's display rendition (a JPEG)."""
    item = Item.model_validate(rec.document)
    frame = rec.slice
    if item.derivatives is None or frame is None:
        return None
    try:
        container, name = frame_display(deps, project, item, frame)
        shown = deps.blobs.info(container, name)
    except NotFound:  # a slice that cannot be shown: its labels go without it
        return None
    kind = "png" if shown.content_type == "image/png" else "jpeg"
    size = (item.derivatives.width, item.derivatives.height)
    return Picture(kind, *size, lambda: deps.blobs.stream(container, name))


def _spool() -> IO[bytes]:
    return tempfile.TemporaryFile()


def _slug(name: str) -> str:
    kept = "".join(c if c.isalnum() or c in "-_" else "-" for c in name.lower())
    return "-".join(filter(None, kept.split("-")))[:60] or "export"
