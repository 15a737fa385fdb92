"""Migration from Azure ML Data Labeling (retired 2026-09-30): an owner hands Loupe the labels
export the service wrote (its JSONL, or the zipped MLTable folder) and gets a project with the
same task type, classes, images and labels.

Images: the export names them by `azureml://…/datastores/<store>/paths/<path>` or by blob URL.
They stay where they are: the project reads the storage container the deployment allows
(`LOUPE_DATASETS`) that holds them, and each URL is mapped to its blob there. Text rows (an
export of a CSV or JSONL text dataset carries the text itself) become a CSV uploaded into a new
upload project, one item per row.

The whole file is read and checked first (an `InvalidImport` lists every problem and nothing is
created); then the project is created (the creator role and the allowed places apply as to any
project), the items the file names are registered at once, and the labels are imported all or
nothing as final labels (`core.services.imports`). Items not labeled in the file stay unlabeled;
the rest of the dataset is registered by the project's initialization as usual. The report says
what did not match: URLs with no blob in the container, records without labels."""

from __future__ import annotations

import csv
import io
import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from core.domain.annotation_json import stored_labels
from core.domain.datasets import Dataset, DataSource, dataset_root, upload_prefix
from core.domain.errors import InvalidImport, InvalidInput, Violation
from core.domain.projects import Project, ProjectSettings
from core.domain.task_types import TaskType
from core.export import azureml
from core.export.jsonl import Line, json_lines, kind
from core.export.records import Imported, Problem
from core.ports import Deps
from core.services import projects
from core.services.import_plan import SHOWN, SHOWN_PATHS
from core.services.imports import ImportFormat, ImportMode, ImportReport, import_labels, item_path
from core.services.refresh import register_for
from core.services.uploads import upload_file

TEXT_FILE = "azureml-text.csv"
"""The file a migrated text dataset's rows are uploaded as (items `azureml-text.csv#N`)."""


@dataclass
class MigrationReport:
    project: Project
    records: int = 0
    items: int = 0
    """Items the file named that the project has (registered now)."""
    labeled: int = 0
    unlabeled_records: int = 0
    """Records without a label: their items are in the project, unlabeled."""
    missing: int = 0
    missing_urls: list[str] = field(default_factory=list)
    """URLs with no blob in the project's container (the first 1,000): not migrated."""
    imported: ImportReport | None = None


@dataclass(frozen=True)
class _Record:
    where: str
    url: str | None
    text: str | None
    value: dict[str, Any] | None


def migrate_azureml(
    deps: Deps,
    *,
    actor: str,
    name: str,
    data: IO[bytes],
    dataset: Dataset,
    task_type: TaskType | None = None,
    existing: str | None = None,
    made: Callable[[Project], None] | None = None,
) -> MigrationReport:
    """A new project from an Azure ML labels export; `dataset` is where its images are (a blob
    container the deployment allows), or an upload dataset for text rows. `existing`: the
    project an earlier, interrupted run of the same migration made (the stage resumes it);
    `made` is told of the project as soon as it exists."""
    _refuse_keypoints(task_type)
    lines = _lines(data)
    task = task_type or _task_type(lines)
    records, classes = _read(lines, task)
    texts = _check_dataset(records, dataset)
    settings = ProjectSettings.model_validate(
        {"name": name, "taskType": task, "labelClasses": [{"name": c} for c in classes]}
        | {"dataset": dataset.to_doc()}
    )
    if existing is not None:
        project = projects.get_project(deps, project_id=existing).value
    else:
        project = projects.create_project(deps, settings=settings, actor=actor).value
    if made is not None:
        made(project)
    report = MigrationReport(project=project, records=len(records))
    paths = (
        _upload_rows(deps, project, actor, records)
        if texts
        else _register_images(deps, project, records, report)
    )
    _import_labels(deps, report, actor, records, paths)
    return report


def _refuse_keypoints(task_type: TaskType | None) -> None:
    if task_type is TaskType.IMAGE_KEYPOINTS:
        raise InvalidInput.one(
            "taskType",
            "Azure ML Data Labeling had no keypoint projects: its exports hold classes, boxes, "
            "polygons and text labels only",
        )


def _lines(data: IO[bytes]) -> list[Line | Problem]:
    with tempfile.SpooledTemporaryFile(8 << 20) as copy:  # json_lines needs to seek
        shutil.copyfileobj(data, copy, 1 << 20)
        copy.seek(0)
        return list(json_lines(copy))


def _check_dataset(records: list[_Record], dataset: Dataset) -> bool:
    """Whether the records are text rows, which go to an upload project (images stay in
    storage); refused when `dataset` is the other kind."""
    texts = any(r.text is not None for r in records)
    if texts != (dataset.source is DataSource.UPLOAD):
        raise InvalidInput.one(
            "dataset",
            "text rows carry their text and go to an upload project"
            if texts
            else "images stay in storage: name the blob container that holds them",
        )
    return texts


def _import_labels(
    deps: Deps,
    report: MigrationReport,
    actor: str,
    records: list[_Record],
    paths: list[str | None],
) -> None:
    """The records' labels imported all or nothing as final labels of the items at `paths`."""
    labeled = {path: r.value for r, path in zip(records, paths, strict=True) if path and r.value}
    report.unlabeled_records = sum(1 for r in records if not r.value)
    if not labeled:
        return
    file = "".join(json.dumps({"path": p, "final": v}) + "\n" for p, v in labeled.items())
    report.imported = import_labels(
        deps,
        project_id=report.project.id,
        actor=actor,
        format=ImportFormat.LOUPE_JSONL,
        data=io.BytesIO(file.encode()),
        mode=ImportMode.FINAL,
    )
    report.labeled = report.imported.updated + report.imported.unchanged


def _task_type(lines: list[Line | Problem]) -> TaskType:
    """What the labels' shapes say the project was; refused when no line tells."""
    for line in lines:
        if not isinstance(line, Line):
            continue
        label, doc = line.doc.get("label"), line.doc
        text = "image_url" not in doc and "text" in doc
        if isinstance(label, str) and label:
            return TaskType.TEXT_MULTICLASS if text else TaskType.IMAGE_MULTICLASS
        if isinstance(label, list) and label:
            first = label[0]
            if isinstance(first, str):
                return TaskType.TEXT_MULTILABEL if text else TaskType.IMAGE_MULTILABEL
            if isinstance(first, dict) and "polygon" in first:
                return TaskType.IMAGE_POLYGON
            if isinstance(first, dict):
                return TaskType.IMAGE_BOUNDING_BOX
    raise InvalidInput.one(
        "taskType", "no record of the file has a label to tell the task type by: name it"
    )


def _read(lines: list[Line | Problem], task: TaskType) -> tuple[list[_Record], list[str]]:
    """Every record with its value in Loupe's form, and the classes in order of first use."""
    problems: list[Violation] = []
    records: list[_Record] = []
    for line in lines:
        if isinstance(line, Problem):
            problems.append(Violation(line.where, line.rule))
            continue
        text = line.doc.get("text")
        if "image_url" not in line.doc and text is not None:
            if not isinstance(text, str):
                problems.append(Violation(line.where, f'"text" must be a string, not {kind(text)}'))
                continue
            line = Line(line.where, line.doc | {"image_url": "text"})
        for found in azureml.read_image_jsonl([line], task_type=task.value):
            if isinstance(found, Problem):
                problems.append(Violation(found.where, found.rule))
            else:
                records.append(_record(found, text if isinstance(text, str) else None))
    if problems:
        raise InvalidImport(problems[:SHOWN], omitted=max(0, len(problems) - SHOWN))
    if not records:
        raise InvalidImport([Violation("file", "holds no records")])
    classes = list(dict.fromkeys(c for r in records for c in stored_labels(r.value)))
    if not classes:
        raise InvalidImport([Violation("file", "no record carries a label: nothing to migrate")])
    return records, classes


def _record(found: Imported, text: str | None) -> _Record:
    empty = found.value is None or not stored_labels(found.value)
    # An empty list of boxes is an answer ("nothing here") in a box project, not a missing one.
    value = None if empty and not _shapes(found.value) else found.value
    url = None if text is not None else found.path
    return _Record(found.where, url, text, value)


def _shapes(value: dict[str, Any] | None) -> bool:
    return value is not None and ("boxes" in value or "polygons" in value)


def _register_images(
    deps: Deps, project: Project, records: list[_Record], report: MigrationReport
) -> list[str | None]:
    """Each record's item path, its blob registered now; None where the blob is not there."""
    container, prefix = dataset_root(
        project.dataset, project_id=project.id, upload_container=deps.data_container
    )
    paths: list[str | None] = []
    for record in records:
        assert record.url is not None
        path = item_path(record.url, container, prefix)
        items = register_for(deps, project, prefix + path) if path else []
        if not items:
            report.missing += 1
            if len(report.missing_urls) < SHOWN_PATHS:
                report.missing_urls.append(record.url)
            paths.append(None)
            continue
        report.items += 1
        paths.append(path)
    return paths


def _upload_rows(
    deps: Deps, project: Project, actor: str, records: list[_Record]
) -> list[str | None]:
    """The rows' texts uploaded as one CSV (an empty text makes no item: None)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(["text"])
    for record in records:
        if record.text:
            writer.writerow([record.text])
    upload_file(
        deps,
        project_id=project.id,
        path=TEXT_FILE,
        data=io.BytesIO(out.getvalue().encode()),
        actor=actor,
        content_type="text/csv",
    )
    # Registered in this project now, though it is still initializing (an upload's own
    # registration reaches running projects only).
    made = iter(register_for(deps, project, upload_prefix(project.id) + TEXT_FILE))
    return [next(made).path if record.text else None for record in records]
