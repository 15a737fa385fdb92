"""A keypoint project's COCO and YOLO pose exports written by the export stage in tiny parts,
every message delivered twice, are the files one part writes: the categories' point names and
skeleton, and `kpt_shape`, come from the project's templates in every part."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from core.domain.exports import ExportFormat
from core.domain.items import ItemState
from core.ports import Deps
from core.services.exports import ExportOptions
from tests.export.test_export_parts import export_job
from tests.export.test_export_services import MEDIA
from tests.support.labeling import add_items, running_project

FACE = {"name": "face", "keypoints": {"points": ["nose", "eye"], "edges": [[0, 1]]}}
HAND = {"name": "hand", "keypoints": {"points": ["wrist", "thumb", "tip"]}}


def instance(label: str, n: int, i: int) -> dict[str, object]:
    points = [{"x": 0.1 + 0.02 * k + 0.001 * i, "y": 0.2 + 0.01 * k, "v": 2} for k in range(n)]
    return {"label": label, "points": points}


@pytest.mark.parametrize("format", [ExportFormat.COCO, ExportFormat.YOLO])
def test_a_keypoint_export_in_parts_is_the_one_part_file(deps: Deps, format: ExportFormat) -> None:
    project = running_project(deps, task_type="image_keypoints", labelClasses=[FACE, HAND])
    for i in range(10):
        value = {"keypoints": [instance("face", 2, i)] + [instance("hand", 3, i)] * (i % 2)}
        add_items(
            deps,
            project,
            1,
            prefix=f"img/{i:03d}-",
            media=MEDIA,
            state=ItemState.LABELED,
            final=value,
            annotations=[{"user": "olive", "at": deps.clock.now(), "value": value}],
        )
    options = ExportOptions(images=False)
    whole, _ = export_job(deps, project.id, format, times=1, items=10, options=options)
    deps.export_part_items = 3
    parted, _ = export_job(deps, project.id, format, times=2, items=10, options=options)
    if format is ExportFormat.COCO:
        assert parted == whole
        coco = json.loads(parted)
        assert [c.get("keypoints") for c in coco["categories"]] == [
            ["nose", "eye"],
            ["wrist", "thumb", "tip"],
        ]
        assert coco["categories"][0]["skeleton"] == [[1, 2]]
        assert len(coco["annotations"]) == 15
        return
    with zipfile.ZipFile(io.BytesIO(parted)) as archive, zipfile.ZipFile(io.BytesIO(whole)) as one:
        assert archive.namelist() == one.namelist()
        assert all(archive.read(n) == one.read(n) for n in archive.namelist())
        assert "kpt_shape: [3, 3]" in archive.read("data.yaml").decode()
