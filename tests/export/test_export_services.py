"""Export jobs, streamed exports and imports on every adapter set (Cosmos on its emulator): a
project's labels leave in a format and come back into another project unchanged."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pycocotools.coco import COCO  # type: ignore[import-untyped]

from core.domain.errors import Forbidden, InvalidImport, InvalidInput
from core.domain.exports import ExportFormat
from core.domain.items import Item, ItemState, MediaFacts
from core.domain.messages import EXPORT_RUN
from core.domain.projects import Project, Role
from core.domain.runs import JobStatus
from core.ports import Deps, Query
from core.services import exports, stages
from core.services.exports import EXPORTS_CONTAINER, ExportOptions
from core.services.imports import ImportFormat, ImportMode, import_labels
from core.services.uploads import upload_file
from core.store.collections import ITEMS, load, scan
from tests.support.assist import drain
from tests.support.labeling import add_items, creator, running_project
from tests.support.media import jpeg_with_orientation

CLASSES = ("cat", "dog", "bird")
MEDIA = MediaFacts(format="jpeg", bytes=1000, width=640, height=480)


def box(label: str, i: int) -> dict[str, Any]:
    return {"label": label, "x": 0.01 * (i % 50), "y": 0.25, "w": 0.5, "h": 0.125}


def labeled_project(deps: Deps, name: str = "Boxes", count: int = 30) -> Project:
    """`count` labeled items (0–3 boxes each), a few unlabeled ones, one skipped."""
    project = running_project(
        deps,
        name=name,
        task_type="image_bounding_box",
        classes=CLASSES,
        members={"rita": Role.REVIEWER, "lee": Role.LABELER},
    )
    for i in range(count):
        value = {"boxes": [box(CLASSES[(i + k) % 3], i) for k in range(i % 4)]}
        add_items(
            deps,
            project,
            1,
            prefix=f"img/{i:03d}-",
            media=MEDIA,
            state=ItemState.LABELED,
            final=value,
            annotations=[{"user": "lee", "at": deps.clock.now(), "value": value}],
        )
    add_items(deps, project, 3, prefix="todo/", media=MEDIA)
    add_items(deps, project, 1, prefix="skip/", media=MEDIA, state=ItemState.SKIPPED)
    return project


def finals(deps: Deps, project: Project) -> dict[str, Any]:
    items = (load(Item, d) for d in scan(deps.documents.container(ITEMS), project.id, Query()))
    return {i.path: i.to_doc()["final"] for i in items if i.final is not None}


def predictions(deps: Deps, project: Project) -> dict[str, Any]:
    items = (load(Item, d) for d in scan(deps.documents.container(ITEMS), project.id, Query()))
    return {i.path: i.to_doc()["prediction"]["value"] for i in items if i.prediction}


def run_exports(deps: Deps) -> None:
    while messages := deps.queue.receive(EXPORT_RUN, max_messages=10):
        for message in messages:
            stages.handle(deps, message.queue, message.body)
            deps.queue.complete(message)


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal labels, geometry within float error."""
    if a.keys() != b.keys():
        return False
    for path in a:
        boxes_a, boxes_b = a[path]["boxes"], b[path]["boxes"]
        if len(boxes_a) != len(boxes_b):
            return False
        for x, y in zip(boxes_a, boxes_b, strict=True):
            if x["label"] != y["label"] or any(abs(x[k] - y[k]) > 1e-9 for k in "xywh"):
                return False
    return True


def test_export_job_writes_coco_to_the_blob_store_and_lists_it(deps: Deps) -> None:
    project = labeled_project(deps)
    job = exports.request_export(
        deps, project_id=project.id, actor="rita", format=ExportFormat.COCO, options=ExportOptions()
    )
    assert job.status is JobStatus.QUEUED
    run_exports(deps)
    run_exports(deps)  # nothing left: a repeated delivery would be a no-op
    view = exports.get_export(deps, project_id=project.id, actor="rita", export_id=job.id)
    assert view.job.status is JobStatus.SUCCEEDED and view.url
    assert view.job.blob_name and view.job.blob_name.endswith("boxes-coco.json")
    assert "COCO('boxes-coco.json')" in view.snippet
    data = json.loads(deps.blobs.get(EXPORTS_CONTAINER, view.job.blob_name))
    assert len(data["images"]) == 30  # labeled only, by default
    assert len(data["annotations"]) == sum(i % 4 for i in range(30))
    # Run again (at-least-once delivery): the finished job is left as it is.
    stages.handle(deps, EXPORT_RUN, {"projectId": project.id, "exportId": job.id})
    deps.clock.advance(1)  # type: ignore[attr-defined]  # a ManualClock
    second = exports.request_export(
        deps,
        project_id=project.id,
        actor="olive",
        format=ExportFormat.CSV,
        options=ExportOptions(states=[ItemState.LABELED, ItemState.UNLABELED]),
    )
    listed = exports.list_exports(deps, project_id=project.id, actor="rita")
    assert [v.job.id for v in listed] == [second.id, job.id]
    assert listed[0].job.status is JobStatus.QUEUED and listed[0].url is None


def test_streamed_coco_round_trips_into_another_project(deps: Deps, tmp_path: Path) -> None:
    source = labeled_project(deps)
    name, media_type, body = exports.open_export(
        deps,
        project_id=source.id,
        actor="olive",
        format=ExportFormat.COCO,
        options=ExportOptions(states=[ItemState.LABELED, ItemState.UNLABELED]),
    )
    assert (name, media_type) == ("boxes-coco.json", "application/json")
    data = b"".join(body)
    (tmp_path / "c.json").write_bytes(data)
    api = COCO(str(tmp_path / "c.json"))
    assert len(api.getImgIds()) == 33  # unlabeled images listed too, without annotations
    target = running_project(deps, name="Copy", task_type="image_bounding_box", classes=CLASSES)
    add_items(deps, target, 30, prefix="x/")  # paths that match nothing in the file
    for path in finals(deps, source):
        add_items(deps, target, 1, prefix=path.removesuffix("000000.jpg"), media=MEDIA)
    report = import_labels(
        deps,
        project_id=target.id,
        actor="olive",
        format=ImportFormat.COCO,
        data=io.BytesIO(data),
        mode=ImportMode.FINAL,
    )
    # The unlabeled images are listed as such: skipped as records without labels, never
    # imported as "labeled, no boxes".
    assert report.without_labels == 3 and report.unmatched == 0
    assert report.updated == 30 and report.unchanged == 0 and not report.resumed
    assert same(finals(deps, target), finals(deps, source))


def test_azureml_and_loupe_jsonl_round_trip_as_prelabels_and_finals(deps: Deps) -> None:
    source = labeled_project(deps, count=12)
    target = running_project(deps, name="Copy", task_type="image_bounding_box", classes=CLASSES)
    for path in finals(deps, source):
        add_items(deps, target, 1, prefix=path.removesuffix("000000.jpg"), media=MEDIA)
    _, _, body = exports.open_export(
        deps,
        project_id=source.id,
        actor="olive",
        format=ExportFormat.AZUREML_JSONL,
        options=ExportOptions(datastore="azureml://subscriptions/s/workspaces/w/datastores/d"),
    )
    archive = b"".join(body)
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        first = json.loads(opened.read("data.jsonl").splitlines()[0])
    assert first["image_url"].startswith(
        f"azureml://subscriptions/s/workspaces/w/datastores/d/paths/uploads/{source.id}/img/"
    )
    report = import_labels(
        deps,
        project_id=target.id,
        actor="olive",
        format=ImportFormat.AZUREML_JSONL,
        data=io.BytesIO(archive),
    )
    assert (report.updated, report.unmatched) == (12, 0)
    assert same(predictions(deps, target), finals(deps, source))
    assert finals(deps, target) == {}  # pre-labels only: labelers confirm them
    _, _, body = exports.open_export(
        deps,
        project_id=source.id,
        actor="olive",
        format=ExportFormat.LOUPE_JSONL,
        options=ExportOptions(),
    )
    report = import_labels(
        deps,
        project_id=target.id,
        actor="olive",
        format=ImportFormat.LOUPE_JSONL,
        data=io.BytesIO(b"".join(body)),
        mode=ImportMode.FINAL,
    )
    assert report.updated == 12
    assert finals(deps, target) == finals(deps, source)


def test_import_with_unknown_classes_or_invalid_values_is_refused_whole(deps: Deps) -> None:
    project = running_project(deps, task_type="image_bounding_box", classes=CLASSES)
    add_items(deps, project, 3, media=MEDIA)
    lines = [
        {"path": "img/000000.jpg", "final": {"boxes": [box("cat", 1), box("zebra", 2)]}},
        {"path": "img/000001.jpg", "final": {"boxes": [{**box("dog", 1), "w": 2.0}]}},
        {"path": "img/000002.jpg", "final": {"boxes": [box("dog", 3)]}},
        {"path": "nowhere.jpg", "final": {"boxes": []}},
    ]
    data = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    with pytest.raises(InvalidImport) as refused:
        import_labels(
            deps,
            project_id=project.id,
            actor="olive",
            format=ImportFormat.LOUPE_JSONL,
            data=io.BytesIO(data),
            mode=ImportMode.FINAL,
        )
    problems = [(v.field, v.rule) for v in refused.value.violations]
    assert [where for where, _ in problems] == ["line 1", "line 2"]
    assert "'zebra' is not a label class" in problems[0][1]
    assert problems[1][1].startswith("boxes[0].w")
    assert refused.value.unknown_classes == ["zebra"]
    assert finals(deps, project) == {}  # not even the good line 3


def test_who_may_export_and_what_is_refused(deps: Deps) -> None:
    project = labeled_project(deps, count=2)
    with pytest.raises(Forbidden):
        exports.open_export(
            deps,
            project_id=project.id,
            actor="lee",
            format=ExportFormat.CSV,
            options=ExportOptions(),
        )
    with pytest.raises(InvalidInput, match="conll"):
        exports.request_export(
            deps,
            project_id=project.id,
            actor="olive",
            format=ExportFormat.CONLL,
            options=ExportOptions(),
        )
    with pytest.raises(InvalidInput, match="zebra"):
        exports.request_export(
            deps,
            project_id=project.id,
            actor="olive",
            format=ExportFormat.COCO,
            options=ExportOptions(labels=["zebra"]),
        )
    with pytest.raises(Forbidden):
        import_labels(
            deps,
            project_id=project.id,
            actor="rita",
            format=ImportFormat.LOUPE_JSONL,
            data=io.BytesIO(b""),
        )


def test_a_later_export_keeps_an_earlier_jobs_validation_set(deps: Deps) -> None:
    project = labeled_project(deps, count=30)
    asked = ExportOptions(validation=0.2, seed=7)
    job = exports.request_export(
        deps, project_id=project.id, actor="rita", format=ExportFormat.CSV, options=asked
    )
    run_exports(deps)

    def sides(options: ExportOptions) -> dict[str, str]:
        _, _, body = exports.open_export(
            deps, project_id=project.id, actor="rita", format=ExportFormat.CSV, options=options
        )
        rows = list(csv.DictReader(io.StringIO(b"".join(body).decode())))
        return {row["path"]: row["split"] for row in rows}

    before = sides(asked)
    assert list(before.values()).count("validation") == 6  # exactly 0.2 of 30
    for i in range(20):  # the project grows; a seed alone would now move items across
        value = {"boxes": [box(CLASSES[i % 3], i)]}
        add_items(
            deps, project, 1, prefix=f"new/{i:03d}-", media=MEDIA, state=ItemState.LABELED,
            final=value,
        )  # fmt: skip
    kept = sides(ExportOptions(validation=0.2, seed=7, keep_split_of=job.id))
    assert {p: s for p, s in kept.items() if p in before} == before
    added = [s for p, s in kept.items() if p.startswith("new/")]
    assert len(added) == 20 and added.count("validation") == 4  # 0.2 of the new items
    with pytest.raises(InvalidInput, match="no split to keep"):
        sides(ExportOptions(validation=0.2, keep_split_of="nope"))
    with pytest.raises(InvalidInput, match="needs a validation fraction"):
        sides(ExportOptions(keep_split_of=job.id))


def test_a_turned_photo_ships_upright_with_its_boxes(deps: Deps) -> None:
    """A camera JPEG stored turned (EXIF orientation 6) goes into VOC and YOLO as the upright
    picture its boxes were drawn on: readers that ignore EXIF (torchvision's) see the same."""
    project = running_project(deps, task_type="image_bounding_box", classes=CLASSES)
    creator(deps, "olive")
    upload_file(
        deps, project_id=project.id, path="turned.jpg", actor="olive",
        data=io.BytesIO(jpeg_with_orientation((80, 40), 6)),
    )  # fmt: skip
    drain(deps)
    (document,) = scan(deps.documents.container(ITEMS), project.id, Query())
    assert (document.body["media"]["width"], document.body["media"]["height"]) == (40, 80)
    value = {"boxes": [{"label": CLASSES[0], "x": 0.25, "y": 0.5, "w": 0.5, "h": 0.25}]}
    labeled = document.body | {"state": "labeled", "final": value}
    deps.documents.container(ITEMS).upsert(labeled, if_match=document.etag)
    _, _, body = exports.open_export(
        deps, project_id=project.id, actor="olive", format=ExportFormat.VOC, options=ExportOptions()
    )
    with zipfile.ZipFile(io.BytesIO(b"".join(body))) as archive:
        (picture,) = [n for n in archive.namelist() if n.startswith("JPEGImages/")]
        (xml,) = [n for n in archive.namelist() if n.startswith("Annotations/")]
        with Image.open(io.BytesIO(archive.read(picture))) as image:  # EXIF not applied
            assert image.size == (40, 80)
        root = ET.fromstring(archive.read(xml))
    assert (root.findtext("size/width"), root.findtext("size/height")) == ("40", "80")
    assert root.findtext("object/bndbox/ymin") == "41"  # 0.5 of 80 px, 1-based
