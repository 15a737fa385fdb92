"""Imports: labels from COCO, Azure ML JSONL/MLTable (the way off the retired Azure service) and
Loupe JSONL, matched to items by path, set as pre-labels (the item's prediction, for labelers
to confirm) or as final labels; a report names unmatched paths, unknown classes and values
that break the task type's rules."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from core.domain.annotation_json import value_labels
from core.domain.datasets import dataset_root, upload_prefix
from core.domain.errors import InvalidAnnotation, InvalidInput, PreconditionFailed
from core.domain.items import Annotation, Item, ItemState, Prediction
from core.domain.labels import label_names
from core.domain.projects import Project, Role
from core.export import azureml, coco, loupe_jsonl
from core.export.records import Imported, keep_labels
from core.ports import Deps, Query, Where
from core.services.collections import ITEMS
from core.services.labeling import validated
from core.services.versioned import Versioned
from core.services.worklog import RETRIES, changed, count, member_project, read_item, save_item

BATCH = 100
_UPLOADS = re.compile(r"\A" + upload_prefix("[^/]+"))
SHOWN = 1000


class ImportFormat(StrEnum):
    COCO = "coco"
    AZUREML_JSONL = "azureml_jsonl"
    LOUPE_JSONL = "loupe_jsonl"


class ImportMode(StrEnum):
    PRELABEL = "prelabel"
    FINAL = "final"


@dataclass
class ImportReport:
    records: int = 0
    updated: int = 0
    unmatched: int = 0
    unmatched_paths: list[str] = field(default_factory=list)
    unknown_classes: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    kept_labeled: int = 0
    """Pre-labels not set because the item already has a human label."""


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
    task_type = project.task_type.value
    if format is ImportFormat.COCO:
        found: Iterable[Imported] = coco.read_coco(data, task_type=task_type, normalized=normalized)
    elif format is ImportFormat.AZUREML_JSONL:
        found = _from_urls(
            deps, project, azureml.read_image_jsonl(_lines(data), task_type=task_type)
        )
    else:
        found = loupe_jsonl.read_loupe_jsonl(_lines(data))
    report = ImportReport()
    known = label_names(project.label_classes)
    unknown: set[str] = set()
    batch: list[Imported] = []
    for record in found:
        report.records += 1
        unknown.update(set(value_labels(record.value)) - known)
        batch.append(record)
        if len(batch) == BATCH:
            _apply(deps, project, actor, batch, mode, report)
            batch = []
    _apply(deps, project, actor, batch, mode, report)
    report.unknown_classes = sorted(unknown)
    return report


def _apply(
    deps: Deps,
    project: Project,
    actor: str,
    batch: list[Imported],
    mode: ImportMode,
    report: ImportReport,
) -> None:
    if not batch:
        return
    paths = list(dict.fromkeys(r.path for r in batch))
    query = Query(where=(Where("path", "in", paths),), page_size=len(paths))
    page = deps.documents.container(ITEMS).query(project.id, query)
    ids = {d.body["path"]: d.id for d in page.documents}
    known = label_names(project.label_classes)
    for record in batch:
        if record.path not in ids:
            report.unmatched += 1
            if len(report.unmatched_paths) < SHOWN:
                report.unmatched_paths.append(record.path)
            continue
        value = keep_labels(record.value, known)
        if value is None or (value_labels(record.value) and not value_labels(value)):
            continue  # nothing left once unknown classes are dropped (reported)
        if _set(deps, project, actor, ids[record.path], value, record.score, mode, report):
            report.updated += 1


def _set(
    deps: Deps,
    project: Project,
    actor: str,
    item_id: str,
    value: dict[str, Any],
    score: float | None,
    mode: ImportMode,
    report: ImportReport,
) -> bool:
    for _ in range(RETRIES):
        current = read_item(deps, project.id, item_id)
        item = current.value
        try:
            normal = validated(project, item, value).to_json()
        except InvalidAnnotation as error:
            if len(report.invalid) < SHOWN:
                report.invalid.append(f"{item.path}: {error.violations[0].rule}")
            return False
        now = deps.clock.now()
        if mode is ImportMode.PRELABEL:
            if item.state is not ItemState.UNLABELED:
                report.kept_labeled += 1
                return False
            guess = Prediction(
                value=normal, confidence=1.0 if score is None else score, run="import"
            )
            after = item.model_copy(update={"prediction": guess, "updated_at": now})
        else:
            mine = Annotation(user=actor, at=now, value=normal)
            kept = [a for a in item.annotations if a.user != actor]
            after = item.model_copy(
                update={
                    "state": ItemState.LABELED,
                    "final": normal,
                    "annotations": [*kept, mine],
                    "lease": None,
                    "updated_at": now,
                }
            )
        try:
            saved = _save(deps, current, after, actor, mode)
        except PreconditionFailed:
            continue
        count(deps, project.id, actor, changed(item, saved.value))
        return True
    return False


def _save(
    deps: Deps, current: Versioned[Item], after: Item, actor: str, mode: ImportMode
) -> Versioned[Item]:
    return save_item(deps, current, after, actor=actor, action=f"item.imported.{mode.value}")


def _lines(data: IO[bytes]) -> Iterator[bytes]:
    """JSONL lines of a plain file, or of every .jsonl inside a zip (an MLTable folder)."""
    head = data.read(4)
    rest = io.BufferedReader(_Prefixed(head, data))
    if head != b"PK\x03\x04":
        yield from rest
        return
    if data.seekable():  # read the zip where it is (the API spools uploads to a temp file)
        data.seek(0)
        source: IO[bytes] = data
    else:
        source = io.BytesIO(rest.read())
    with zipfile.ZipFile(source) as archive:
        for name in sorted(archive.namelist()):
            if name.endswith(".jsonl"):
                with archive.open(name) as part:
                    yield from part


class _Prefixed(io.RawIOBase):
    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head, self._rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._head or self._rest.read(len(buffer))
        self._head = b""
        buffer[: len(data)] = data
        return len(data)


def _from_urls(deps: Deps, project: Project, found: Iterable[Imported]) -> Iterator[Imported]:
    """Azure ML names images by URL: azureml://…/paths/<blob>, or a blob URL; back to paths."""
    container, prefix = dataset_root(
        project.dataset, project_id=project.id, upload_container=deps.data_container
    )
    for record in found:
        yield Imported(item_path(record.path, container, prefix), record.value, record.score)


def item_path(url: str, container: str, prefix: str) -> str:
    name = url
    if "/paths/" in url:
        name = unquote(url.split("/paths/", 1)[1])
    elif "://" in url:
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
