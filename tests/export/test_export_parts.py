"""Export jobs written in parts, on every adapter set: each delivery of the export stage writes
one bounded slice of the items, then a last one joins them (a split and VOC plan over every
item first). Cut into tiny parts, with every message delivered twice, the file is byte for byte
the one a single part writes (and the one a direct download streams), a zip member for member:
no item written twice, none left out, each on its side of the split and under its name."""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

import pytest
from PIL import Image

from core.domain.datasets import dataset_root
from core.domain.exports import ExportFormat, ExportJob
from core.domain.items import ItemState
from core.domain.messages import EXPORT_RUN
from core.domain.projects import Project
from core.domain.runs import JobStatus
from core.export import bundle, parts
from core.ports import Deps, Query
from core.services import export_parts, exports, stages
from core.services.exports import EXPORTS_CONTAINER, ExportOptions
from core.store.collections import EXPORTS, ITEMS, load, scan
from tests.export.test_export_services import MEDIA, box, labeled_project
from tests.support.labeling import add_items

FORMATS = [ExportFormat.COCO, ExportFormat.CSV, ExportFormat.LOUPE_JSONL]


def deliver(deps: Deps, times: int) -> int:
    """Run the export stage until its queue is empty, each message `times` times in a row;
    how many messages there were."""
    handled = 0
    while messages := deps.queue.receive(EXPORT_RUN, max_messages=10):
        for message in messages:
            for _ in range(times):
                stages.handle(deps, EXPORT_RUN, message.body)
            deps.queue.complete(message)
            handled += 1
    return handled


def export_job(
    deps: Deps,
    project_id: str,
    format: ExportFormat,
    times: int,
    items: int = 30,
    options: ExportOptions | None = None,
) -> tuple[bytes, int]:
    data, messages, _ = split_job(deps, project_id, format, times, items, options)
    return data, messages


def split_job(
    deps: Deps,
    project_id: str,
    format: ExportFormat,
    times: int,
    items: int = 30,
    options: ExportOptions | None = None,
) -> tuple[bytes, int, str]:
    """The job's file, its messages, and its id."""
    job = exports.request_export(
        deps,
        project_id=project_id,
        actor="olive",
        format=format,
        options=options or ExportOptions(),
    )
    messages = deliver(deps, times)
    view = exports.get_export(deps, project_id=project_id, actor="olive", export_id=job.id)
    assert view.job.status is JobStatus.SUCCEEDED and view.job.blob_name
    assert view.job.items == items
    parts = [i.name for i in deps.blobs.list(EXPORTS_CONTAINER) if ".parts/" in i.name]
    assert parts == []  # joined, then removed (the plan too)
    return deps.blobs.get(EXPORTS_CONTAINER, view.job.blob_name), messages, job.id


@pytest.mark.parametrize("format", FORMATS)
def test_an_export_in_tiny_parts_delivered_twice_is_the_one_part_file(
    deps: Deps, format: ExportFormat
) -> None:
    project = labeled_project(deps)
    whole, one = export_job(deps, project.id, format, times=1)
    assert one == 2  # one part (fewer items than a part holds), then the join
    deps.export_part_items = 4
    parted, many = export_job(deps, project.id, format, times=2)
    assert many == 30 // 4 + 1 + 1  # 8 parts (the last one short), then the join
    assert parted == whole
    _, _, body = exports.open_export(
        deps, project_id=project.id, actor="olive", format=format, options=ExportOptions()
    )
    assert b"".join(body) == whole
    if format is ExportFormat.COCO:
        coco = json.loads(parted)
        assert [i["id"] for i in coco["images"]] == list(range(1, 31))
        ids = [a["id"] for a in coco["annotations"]]
        assert ids == list(range(1, len(ids) + 1)) and len(ids) == sum(i % 4 for i in range(30))
    else:
        rows = parted.decode().splitlines()
        assert len(rows) == 30 + (format is ExportFormat.CSV)


ZIPS = [ExportFormat.AZUREML_JSONL, ExportFormat.YOLO, ExportFormat.VOC]


def members(data: bytes) -> list[tuple[str, bytes]]:
    """A zip's members in order, each checked against its CRC."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


@pytest.mark.parametrize("format", ZIPS)
def test_a_zip_in_tiny_parts_delivered_twice_has_the_one_part_zips_members(
    deps: Deps, format: ExportFormat
) -> None:
    """Azure ML (MLTable + data.jsonl, deflated by each part, its bytes copied at the join),
    YOLO and VOC (images and labels written by each part as zip entries of its own, copied as
    they are; VOC's image lists deflated by each part, its ids planned first): the same
    members, in the same order, with the same bytes as one part and a direct download; a
    reader reads it whole."""
    project = labeled_project(deps)
    with_pictures(deps, project)
    planned = format is ExportFormat.VOC
    whole, one = export_job(deps, project.id, format, times=1)
    assert one == 2 + planned
    deps.export_part_items = 4
    parted, many = export_job(deps, project.id, format, times=2)
    assert many == (30 // 4 + 1) * (1 + planned) + 1  # VOC: the plan in slices of 4 first
    found = unsigned(parted)
    assert found == unsigned(whole)
    _, _, body = exports.open_export(
        deps, project_id=project.id, actor="olive", format=format, options=ExportOptions()
    )
    assert found == unsigned(b"".join(body))
    names = [name for name, _ in found]
    if format is ExportFormat.VOC:
        ids = dict(found)["ImageSets/Main/train.txt"].decode().split()
        assert len(ids) == len(set(ids)) == 30
        assert names == [
            *(n for i in ids for n in (f"JPEGImages/{i}.jpg", f"Annotations/{i}.xml")),
            "ImageSets/Main/train.txt",
            "ImageSets/Main/trainval.txt",
        ]
    elif format is ExportFormat.YOLO:
        assert names[0] == "data.yaml"
        assert sum(n.startswith("images/train/") for n in names) == 30
        assert sum(n.startswith("labels/train/") for n in names) == 30
    else:
        assert names == ["MLTable", "data.jsonl"]
        lines = dict(found)["data.jsonl"].decode().splitlines()
        assert len(lines) == 30 and all(json.loads(line)["label"] is not None for line in lines)


def with_pictures(deps: Deps, project: Project) -> None:
    container, prefix = dataset_root(
        project.dataset, project_id=project.id, upload_container=deps.data_container
    )
    for document in scan(deps.documents.container(ITEMS), project.id, Query()):
        deps.blobs.put(container, prefix + document.body["path"], jpeg_bytes())


def test_voc_ids_made_unique_over_every_item_are_the_same_in_parts(deps: Deps) -> None:
    """Paths whose VOC ids meet (`img/001-000000.jpg` and `img_001-000000.jpg` are both
    `img_001-000000`) are told apart over the whole file, as in one pass, however it is cut:
    the plan names the items an earlier one took the id of, in the order the file lists them."""
    project = labeled_project(deps, count=12)
    for i in (1, 5, 9):
        value = {"boxes": [box("cat", i)]}
        add_items(
            deps, project, 1, prefix=f"img_{i:03d}-", media=MEDIA, state=ItemState.LABELED,
            final=value,
        )  # fmt: skip
    with_pictures(deps, project)
    whole, _ = export_job(deps, project.id, ExportFormat.VOC, times=1, items=15)
    deps.export_part_items = 1
    parted, many = export_job(deps, project.id, ExportFormat.VOC, times=2, items=15)
    assert many == 16 + 16 + 1  # the plan's slices and the parts (15 and an empty one), the join
    found = members(parted)
    assert found == members(whole)
    ids = dict(found)["ImageSets/Main/train.txt"].decode().split()
    assert len(set(ids)) == 15
    assert sorted(i for i in ids if "~" in i) == [f"img_{i:03d}-000000~2" for i in (1, 5, 9)]
    _, _, body = exports.open_export(
        deps, project_id=project.id, actor="olive", format=ExportFormat.VOC,
        options=ExportOptions(),
    )  # fmt: skip
    assert found == members(b"".join(body))


SPLITS = [
    ExportFormat.COCO,
    ExportFormat.CSV,
    ExportFormat.LOUPE_JSONL,
    ExportFormat.AZUREML_JSONL,
    ExportFormat.YOLO,
    ExportFormat.VOC,
]


@pytest.mark.parametrize("format", SPLITS)
def test_a_split_export_in_tiny_parts_delivered_twice_is_the_one_part_file(
    deps: Deps, format: ExportFormat
) -> None:
    """A split is planned over every item by the first delivery (its validation set kept in a
    blob the parts read): in parts, delivered twice, the same file (a zip: the same members) as
    one part and a direct download, the same split recorded beside it; a later export that
    keeps it, in parts, keeps every item on its side."""
    project = labeled_project(deps)
    with_pictures(deps, project)
    options = ExportOptions(validation=0.25, seed=7)
    whole, one, first = split_job(deps, project.id, format, 1, options=options)
    assert one == 3  # the plan (one slice), one part, the join
    deps.export_part_items = 4
    parted, many, second = split_job(deps, project.id, format, 2, options=options)
    assert many == 8 + 8 + 1  # the plan in 8 slices of 4 (the last short), 8 parts, the join
    _, _, body = exports.open_export(
        deps, project_id=project.id, actor="olive", format=format, options=options
    )
    direct = b"".join(body)
    sides = [recorded_split(deps, project.id, job) for job in (first, second)]
    assert sides[0] == sides[1]
    validation = json.loads(sides[0])["validation"]
    assert len(validation) == 8  # a quarter of 30, rounded (stratified)
    if format in (ExportFormat.CSV, ExportFormat.LOUPE_JSONL):
        assert parted == whole == direct
    else:
        assert unsigned(parted) == unsigned(whole) == unsigned(direct)
        assert any(name.startswith(("validation/", "images/validation/", "ImageSets/Main/val"))
                   for name, _ in members(parted))  # fmt: skip
    add_items(
        deps, project, 2, prefix="late/", media=MEDIA, state=ItemState.LABELED,
        final={"boxes": []},
    )  # fmt: skip
    kept = ExportOptions(validation=0.25, seed=99, keep_split_of=second)
    blobs, deps.blobs = deps.blobs, Reads(deps.blobs)
    _, _, third = split_job(deps, project.id, format, 2, items=32, options=kept)
    reads, deps.blobs = deps.blobs.reads, blobs
    assert sum(n.endswith(exports.SPLIT_SUFFIX) for n in reads) == 1  # by the plan, once
    later = json.loads(recorded_split(deps, project.id, third))
    assert set(validation) <= set(later["validation"])
    assert len(later["train"]) + len(later["validation"]) == 32


class Reads:
    """A blob store that notes the blobs read whole."""

    def __init__(self, blobs: Any) -> None:
        self.blobs, self.reads = blobs, list[str]()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.blobs, name)

    def get(self, container: str, name: str) -> bytes:
        self.reads.append(name)
        data: bytes = self.blobs.get(container, name)
        return data


class CutOff:
    """A blob store whose deletes stop working after `after` of them (a call cut off)."""

    def __init__(self, blobs: Any, after: int) -> None:
        self.blobs, self.after = blobs, after

    def __getattr__(self, name: str) -> Any:
        return getattr(self.blobs, name)

    def delete(self, container: str, name: str) -> None:
        if self.after == 0:
            raise TimeoutError("the call was cut off")
        self.after -= 1
        self.blobs.delete(container, name)


def test_a_join_cut_off_while_removing_the_parts_is_finished_by_the_next_delivery(
    deps: Deps,
) -> None:
    project = labeled_project(deps)
    options = ExportOptions(validation=0.25, seed=7)
    whole, _ = export_job(deps, project.id, ExportFormat.CSV, times=1, options=options)
    deps.export_part_items = 4
    job = exports.request_export(
        deps, project_id=project.id, actor="olive", format=ExportFormat.CSV, options=options
    )
    while not exports.get_export(
        deps, project_id=project.id, actor="olive", export_id=job.id
    ).job.written:
        deliver_one(deps)
    [join] = deps.queue.receive(EXPORT_RUN, max_messages=10)
    blobs, deps.blobs = deps.blobs, CutOff(deps.blobs, after=3)
    with pytest.raises(TimeoutError):
        stages.handle(deps, EXPORT_RUN, join.body)
    deps.blobs = blobs
    stages.handle(deps, EXPORT_RUN, join.body)  # delivered again
    view = exports.get_export(deps, project_id=project.id, actor="olive", export_id=job.id)
    assert view.job.status is JobStatus.SUCCEEDED and view.job.blob_name
    assert deps.blobs.get(EXPORTS_CONTAINER, view.job.blob_name) == whole
    assert [i.name for i in deps.blobs.list(EXPORTS_CONTAINER) if ".parts/" in i.name] == []


def deliver_one(deps: Deps) -> None:
    [message] = deps.queue.receive(EXPORT_RUN, max_messages=1)
    stages.handle(deps, EXPORT_RUN, message.body)
    deps.queue.complete(message)


def unsigned(data: bytes) -> list[tuple[str, bytes]]:
    """A zip's members, its image links without their signatures (a SAS says when it was made,
    to the second)."""
    return [
        (name, re.sub(rb"\?[^\"]*", b"", body) if name.endswith(".jsonl") else body)
        for name, body in members(data)
    ]


@pytest.mark.parametrize("format", [ExportFormat.CSV, ExportFormat.VOC])
def test_two_deliveries_at_once_make_one_plan_and_one_file(
    deps: Deps, format: ExportFormat
) -> None:
    """Each step run twice over the same version of the job, as two deliveries at once: one
    records its slice, plan or part, the other's plan blobs are removed, and the file is the
    one part's, nothing left behind."""
    project = labeled_project(deps)
    options = ExportOptions(validation=0.25, seed=7)
    whole, _, _ = split_job(deps, project.id, format, 1, options=options)
    deps.export_part_items = 4
    job = exports.request_export(
        deps, project_id=project.id, actor="olive", format=format, options=options
    )
    made = exports.target(deps, project, format, options, "olive")
    name = f"{project.id}/{job.id}/{bundle.file_name(made)}"
    jobs = deps.documents.container(EXPORTS)
    while True:
        stored = jobs.get(project.id, job.id)
        assert stored is not None
        current = load(ExportJob, stored)
        done = [
            export_parts.step(deps, current, stored.etag, made, name, parts.layout(made))
            for _ in range(2)
        ]
        if done[0]:
            break
    data = deps.blobs.get(EXPORTS_CONTAINER, name)
    assert data == whole if format is ExportFormat.CSV else members(data) == members(whole)
    assert [i.name for i in deps.blobs.list(EXPORTS_CONTAINER) if ".parts/" in i.name] == []


def recorded_split(deps: Deps, project_id: str, export_id: str) -> bytes:
    view = exports.get_export(deps, project_id=project_id, actor="olive", export_id=export_id)
    assert view.job.blob_name is not None
    return deps.blobs.get(EXPORTS_CONTAINER, view.job.blob_name + exports.SPLIT_SUFFIX)


def jpeg_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), "teal").save(out, "JPEG")
    return out.getvalue()
