"""Export jobs written in parts, on every adapter set: each delivery of the export stage writes
one bounded slice of the items, then a last one joins them. Cut into tiny parts, with every
message delivered twice, the file is byte for byte the one a single part writes (and the one a
direct download streams): no item written twice, none left out."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from PIL import Image

from core.domain.datasets import dataset_root
from core.domain.exports import ExportFormat
from core.domain.messages import EXPORT_RUN
from core.domain.runs import JobStatus
from core.ports import Deps, Query
from core.services import exports, stages
from core.services.collections import ITEMS, scan
from core.services.exports import EXPORTS_CONTAINER, ExportOptions
from tests.export.test_export_services import labeled_project

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
    deps: Deps, project_id: str, format: ExportFormat, times: int, items: int = 30
) -> tuple[bytes, int]:
    job = exports.request_export(
        deps, project_id=project_id, actor="olive", format=format, options=ExportOptions()
    )
    messages = deliver(deps, times)
    view = exports.get_export(deps, project_id=project_id, actor="olive", export_id=job.id)
    assert view.job.status is JobStatus.SUCCEEDED and view.job.blob_name
    assert view.job.items == items
    parts = [i.name for i in deps.blobs.list(EXPORTS_CONTAINER) if ".parts/" in i.name]
    assert parts == []  # joined, then removed
    return deps.blobs.get(EXPORTS_CONTAINER, view.job.blob_name), messages


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


ZIPS = [ExportFormat.AZUREML_JSONL, ExportFormat.YOLO]


def members(data: bytes) -> list[tuple[str, bytes]]:
    """A zip's members in order, each checked against its CRC."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


@pytest.mark.parametrize("format", ZIPS)
def test_a_zip_in_tiny_parts_delivered_twice_has_the_one_part_zips_members(
    deps: Deps, format: ExportFormat
) -> None:
    """Azure ML (MLTable + data.jsonl deflated at the join) and YOLO (images and labels written
    by each part as zip entries of its own, copied as they are): the same members, in the same
    order, with the same bytes as one part and a direct download; a reader reads it whole."""
    project = labeled_project(deps)
    container, prefix = dataset_root(
        project.dataset, project_id=project.id, upload_container=deps.data_container
    )
    for document in scan(deps.documents.container(ITEMS), project.id, Query()):
        deps.blobs.put(container, prefix + document.body["path"], jpeg_bytes())
    whole, one = export_job(deps, project.id, format, times=1)
    assert one == 2
    deps.export_part_items = 4
    parted, many = export_job(deps, project.id, format, times=2)
    assert many == 30 // 4 + 1 + 1
    found = members(parted)
    assert found == members(whole)
    _, _, body = exports.open_export(
        deps, project_id=project.id, actor="olive", format=format, options=ExportOptions()
    )
    assert found == members(b"".join(body))
    names = [name for name, _ in found]
    if format is ExportFormat.YOLO:
        assert names[0] == "data.yaml"
        assert sum(n.startswith("images/train/") for n in names) == 30
        assert sum(n.startswith("labels/train/") for n in names) == 30
    else:
        assert names == ["MLTable", "data.jsonl"]
        lines = dict(found)["data.jsonl"].decode().splitlines()
        assert len(lines) == 30 and all(json.loads(line)["label"] is not None for line in lines)


def jpeg_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), "teal").save(out, "JPEG")
    return out.getvalue()
