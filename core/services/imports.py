"""Imports: labels from COCO, Azure ML JSONL/MLTable (the way off the retired Azure service) and
Loupe JSONL, matched to items by path, set as pre-labels (the item's prediction, for labelers
to confirm) or as final labels.

All or nothing, from the caller's side: the whole file is read and checked first
(`core.services.import_plan`), and any problem refuses it with nothing written. Then items are
written a batch at a time, by one bulk write of the store, each item on its own (Cosmos has no
transaction across documents), etag-checked, and read again and retried when someone changed it
meanwhile. Writing is idempotent: an item already as the file says is left alone, so sending
the same file again after an interruption completes it, and the import job document
(`core.domain.imports`) says that it was resumed."""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import IO
from urllib.parse import unquote, urlsplit

from core.domain.annotation_json import read_value
from core.domain.annotations import AnnotationValue
from core.domain.datasets import dataset_root, upload_prefix
from core.domain.errors import Conflict, InvalidInput
from core.domain.imports import ImportJob, ImportStatus, import_job_id
from core.domain.items import Annotation, Item, ItemState, Prediction
from core.domain.json_text import read_json
from core.domain.labels import label_names
from core.domain.progress import Delta, documents_change
from core.domain.projects import Project, Role
from core.domain.task_types import TaskType
from core.export import azureml, loupe_jsonl
from core.export.coco_reader import read_coco
from core.export.jsonl import json_lines
from core.export.records import Imported, Problem
from core.ports import Deps, Document
from core.services.cyclic_gc import cyclic_gc_paused
from core.services.import_plan import Plan, Planned, plan_import, read_items
from core.services.labeling import answer_of
from core.services.projects import get_project
from core.services.worklog import audited, changed, count, item_target, member_project, save_items
from core.store.collections import IMPORTS, load
from core.store.update import update

BATCH = 1000
"""Items written by one bulk write: a SQLite transaction rewrites every index page an item
touches, so the larger the batch, the more items share each page's write."""
SPOOL = 8 << 20
_UPLOADS = re.compile(r"\A" + upload_prefix("[^/]+"))
IMPORT_RUN = "import"
"""The run name of imported pre-labels (ML assist's are its run ids)."""


class ImportFormat(StrEnum):
    COCO = "coco"
    AZUREML_JSONL = "azureml_jsonl"
    LOUPE_JSONL = "loupe_jsonl"


class ImportMode(StrEnum):
    PRELABEL = "prelabel"
    FINAL = "final"


@dataclass
class ImportReport:
    job: str
    records: int = 0
    """Records read from the file."""
    updated: int = 0
    """Items this request changed."""
    unchanged: int = 0
    """Items already as the file says (a file sent again)."""
    unmatched: int = 0
    unmatched_paths: list[str] = field(default_factory=list)
    """Paths of the file the project has no item for (skipped; the first 1,000)."""
    without_labels: int = 0
    """Records that list an item without a label (skipped)."""
    kept_labeled: int = 0
    """Pre-labels not set because the item already has a human label."""
    resumed: bool = False
    """The same file was sent before and that import did not finish: this one completed it."""


def import_labels(
    deps: Deps,
    *,
    project_id: str,
    actor: str,
    format: ImportFormat,
    data: IO[bytes],
    mode: ImportMode = ImportMode.PRELABEL,
    normalized: bool = False,
) -> ImportReport:
    project = member_project(deps, project_id, actor, Role.OWNER)
    check_fits(project, format)
    with cyclic_gc_paused(), seekable(data) as source:
        digest = sha256_of(source)
        plan = plan_import(deps, project, read_records(deps, project, format, source, normalized))
    job_id = import_job_id(project.id, actor, format.value, mode.value, normalized, digest)
    report = ImportReport(
        job=job_id,
        records=plan.records,
        unmatched=plan.unmatched,
        unmatched_paths=plan.unmatched_paths,
        without_labels=plan.without_labels,
    )
    job = _begin(deps, project, actor, format, mode, normalized, digest, plan, report)
    with cyclic_gc_paused():
        for start in range(0, len(plan.entries), BATCH):
            batch = plan.entries[start : start + BATCH]
            apply_batch(deps, project, actor, plan, batch, mode, report)
    finished = job.model_copy(
        update={
            "status": ImportStatus.APPLIED,
            "updated": report.updated,
            "finished_at": deps.clock.now(),
        }
    )
    deps.documents.container(IMPORTS).upsert(finished.to_doc())
    return report


def check_fits(project: Project, format: ImportFormat) -> None:
    text = project.task_type.value.startswith("text_")
    if format is ImportFormat.COCO and text:
        raise InvalidInput.one(
            "format", "COCO holds image labels; a text project imports loupe_jsonl"
        )
    if format is not ImportFormat.LOUPE_JSONL and project.task_type is TaskType.IMAGE_KEYPOINTS:
        raise InvalidInput.one(
            "format",
            f"{format.value} import does not read keypoints yet (Azure ML has no keypoint "
            "schema); a keypoint project imports loupe_jsonl",
        )
    if format is ImportFormat.AZUREML_JSONL and project.task_type is TaskType.TEXT_NER:
        raise InvalidInput.one(
            "format", "Azure ML JSONL holds image and class labels; NER imports loupe_jsonl"
        )
    if project.task_type.is_mask and format is ImportFormat.AZUREML_JSONL:
        raise InvalidInput.one(
            "format", "mask projects import coco or loupe_jsonl (Azure ML's polygons lose holes)"
        )


def read_records(
    deps: Deps, project: Project, format: ImportFormat, source: IO[bytes], normalized: bool
) -> Iterator[Imported | Problem]:
    task_type = project.task_type.value
    if format is ImportFormat.COCO:
        return read_coco(source, task_type=task_type, normalized=normalized)
    if format is ImportFormat.AZUREML_JSONL:
        found = azureml.read_image_jsonl(json_lines(source), task_type=task_type)
        return _from_urls(deps, project, found)
    return loupe_jsonl.read_loupe_jsonl(json_lines(source))


@contextlib.contextmanager
def seekable(data: IO[bytes]) -> Iterator[IO[bytes]]:
    """The readers pass over the file more than once: a stream is spooled first."""
    if data.seekable():
        data.seek(0)
        yield data
        return
    with tempfile.SpooledTemporaryFile(SPOOL) as copy:
        shutil.copyfileobj(data, copy, 1 << 20)
        copy.seek(0)
        yield copy


def sha256_of(source: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while chunk := source.read(1 << 20):
        digest.update(chunk)
    source.seek(0)
    return digest.hexdigest()


def _begin(
    deps: Deps,
    project: Project,
    actor: str,
    format: ImportFormat,
    mode: ImportMode,
    normalized: bool,
    digest: str,
    plan: Plan,
    report: ImportReport,
) -> ImportJob:
    """Record the job before the first write, so that a later attempt knows this one began."""
    container = deps.documents.container(IMPORTS)
    found = container.get(project.id, report.job)
    before = load(ImportJob, found) if found else None
    report.resumed = before is not None and before.status is ImportStatus.APPLYING
    job = ImportJob(
        id=report.job,
        project_id=project.id,
        actor=actor,
        format=format.value,
        mode=mode.value,
        normalized=normalized,
        sha256=digest,
        attempts=before.attempts + 1 if before else 1,
        items=len(plan.entries),
        started_at=deps.clock.now(),
    )
    container.upsert(job.to_doc())
    return job


def apply_batch(
    deps: Deps,
    project: Project,
    actor: str,
    plan: Plan,
    batch: list[Planned],
    mode: ImportMode,
    report: ImportReport,
) -> None:
    """One batch: its items read in one query and written in one bulk write, each only over
    the version read, with their audit events in one more; an item a labeler changed meanwhile
    is read again and written alone. Items already as the file says are left alone."""
    _same_classes(deps, project, plan, report)
    found = read_items(deps, project.id, [entry.path for entry in batch])
    pending: list[tuple[Planned, Document, Item]] = []
    for entry in batch:
        document = found.get(entry.path)
        if document is None:  # removed since it was checked
            report.unmatched += 1
            continue
        value = read_value(read_json(entry.value))
        after = _imported(load(Item, document), value, entry.score, mode, actor, deps, report)
        if after is not None:
            pending.append((entry, document, after))
    action = f"item.imported.{mode}"
    changes = [(document, after) for _, document, after in pending]
    saved = save_items(deps, project.id, changes, actor=actor, action=action)
    outcomes = list(zip(pending, saved, strict=True))
    written = [(read.body, s.body) for (_, read, _), s in outcomes if s is not None]
    report.updated += len(written)
    delta = documents_change(written)  # the counters' change of the bulk write, summed once
    for (entry, document, _), stored in outcomes:
        if stored is None:  # changed since it was read: read again and written alone
            delta += _set(deps, project, actor, entry, document.id, mode, report)
    count(deps, project.id, actor, delta)


def _same_classes(deps: Deps, project: Project, plan: Plan, report: ImportReport) -> None:
    """The values were checked against the classes of the project when the file was read."""
    now = get_project(deps, project_id=project.id).value
    if label_names(now.label_classes) != plan.label_classes:
        raise Conflict(
            "the project's label classes changed while this import was being written "
            f"({report.updated} item(s) written so far): send the same file again; it is "
            "checked against the classes as they are now, and items already written are kept"
        )


def _set(
    deps: Deps,
    project: Project,
    actor: str,
    entry: Planned,
    item_id: str,
    mode: ImportMode,
    report: ImportReport,
) -> Delta:
    """Write one item the bulk write missed (a labeler changed it since it was read): read
    again, and again on a concurrent write."""
    value = read_value(read_json(entry.value))

    def imported(item: Item) -> Item | None:
        return _imported(item, value, entry.score, mode, actor, deps, report)

    try:
        done = update(item_target(deps, project.id, item_id, gone_ok=True), imported)
    except Conflict:
        raise Conflict(
            f"item {entry.path!r} kept changing while this import wrote it ({report.updated} "
            "item(s) written so far): send the same file again to finish; items already "
            "written are kept"
        ) from None
    if done is None:  # removed since it was read
        report.unmatched += 1
        return Delta()
    if not done.written:
        return Delta()
    report.updated += 1
    return changed(done.before, audited(deps, done, actor=actor, action=f"item.imported.{mode}"))


def _imported(
    item: Item,
    value: AnnotationValue,
    score: float | None,
    mode: ImportMode,
    actor: str,
    deps: Deps,
    report: ImportReport,
) -> Item | None:
    """The item as the import leaves it; None when it is left as it is (and counted so)."""
    now = deps.clock.now()
    if mode is ImportMode.PRELABEL:
        if item.state is not ItemState.UNLABELED:
            report.kept_labeled += 1
            return None
        guess = Prediction(value=value, confidence=1.0 if score is None else score, run=IMPORT_RUN)
        if item.prediction == guess:
            report.unchanged += 1
            return None
        return item.model_copy(update={"prediction": guess, "updated_at": now})
    mine = answer_of(item, actor)
    if item.state is ItemState.LABELED and item.final == mine == value and item.lease is None:
        report.unchanged += 1
        return None
    kept = [a for a in item.annotations if a.user != actor]
    return item.model_copy(
        update={
            "state": ItemState.LABELED,
            "final": value,
            "annotations": [*kept, Annotation(user=actor, at=now, value=value)],
            "lease": None,
            "updated_at": now,
        }
    )


def _from_urls(
    deps: Deps, project: Project, found: Iterable[Imported | Problem]
) -> Iterator[Imported | Problem]:
    """Azure ML names images by URL: azureml://…/paths/<blob>, or a blob URL; back to paths."""
    container, prefix = dataset_root(
        project.dataset, project_id=project.id, upload_container=deps.data_container
    )
    for record in found:
        if isinstance(record, Imported):
            record = replace(record, path=item_path(record.path, container, prefix))
        yield record


def item_path(url: str, container: str, prefix: str) -> str:
    name = url
    if "/paths/" in url:
        name = unquote(url.split("/paths/", 1)[1])
    elif "://" in url or url.startswith("/"):  # a blob URL, or the API's own blob link
        path = unquote(urlsplit(url).path)
        at = path.find(f"/{container}/")
        name = path[at + len(container) + 2 :] if at >= 0 else path.lstrip("/")
    if prefix and prefix in name:
        return name[name.index(prefix) + len(prefix) :]
    # Another project's uploads (an export from a sibling project): paths below its folder.
    return _UPLOADS.sub("", name, count=1)


def check_format(name: str) -> ImportFormat:
    try:
        return ImportFormat(name)
    except ValueError:
        known = ", ".join(f.value for f in ImportFormat)
        raise InvalidInput.one("format", f"{name!r} is not importable; use {known}") from None
