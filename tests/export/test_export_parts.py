"""Export jobs written in parts, on every adapter set: each delivery of the export stage writes
one bounded slice of the items, then a last one joins them. Cut into tiny parts, with every
message delivered twice, the file is byte for byte the one a single part writes (and the one a
direct download streams): no item written twice, none left out."""

from __future__ import annotations

import json

import pytest

from core.domain.exports import ExportFormat
from core.domain.messages import EXPORT_RUN
from core.domain.runs import JobStatus
from core.ports import Deps
from core.services import export_parts, exports, stages
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


def export_job(deps: Deps, project_id: str, format: ExportFormat, times: int) -> tuple[bytes, int]:
    job = exports.request_export(
        deps, project_id=project_id, actor="olive", format=format, options=ExportOptions()
    )
    messages = deliver(deps, times)
    view = exports.get_export(deps, project_id=project_id, actor="olive", export_id=job.id)
    assert view.job.status is JobStatus.SUCCEEDED and view.job.blob_name
    assert view.job.items == 30
    parts = [i.name for i in deps.blobs.list(EXPORTS_CONTAINER) if ".parts/" in i.name]
    assert parts == []  # joined, then removed
    return deps.blobs.get(EXPORTS_CONTAINER, view.job.blob_name), messages


@pytest.mark.parametrize("format", FORMATS)
def test_an_export_in_tiny_parts_delivered_twice_is_the_one_part_file(
    deps: Deps, format: ExportFormat, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = labeled_project(deps)
    whole, one = export_job(deps, project.id, format, times=1)
    assert one == 2  # one part (fewer items than a part holds), then the join
    monkeypatch.setattr(export_parts, "PART_ITEMS", 4)
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
