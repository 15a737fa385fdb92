"""Keypoint exports loaded by their own tools: COCO keypoints scored by pycocotools' COCOeval
(`iouType='keypoints'`), YOLO pose parsed as Ultralytics reads it; the formats without a place
for keypoints refuse them, saying why."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from pycocotools.coco import COCO  # type: ignore[import-untyped]
from pycocotools.cocoeval import COCOeval  # type: ignore[import-untyped]

from core.domain.errors import InvalidInput
from core.domain.exports import ExportFormat
from core.domain.keypoints import KeypointTemplate
from core.export import bundle
from core.export.records import Options, Record, record
from tests.export.test_formats import doc

W, H = 640, 480
TEMPLATES = {
    "person": KeypointTemplate(
        points=["nose", "left_eye", "right_eye", "left_hip", "right_hip"],
        edges=[(0, 1), (0, 2), (3, 4)],
    ),
    "hand": KeypointTemplate(points=["wrist", "thumb"], edges=[(0, 1)]),
}
CLASSES = list(TEMPLATES)


def person(x: float, y: float, *, hidden: int | None = None) -> dict[str, Any]:
    offsets = [(0.0, 0.0), (-0.02, -0.02), (0.02, -0.02), (-0.05, 0.2), (0.05, 0.2)]
    points = [{"x": x + dx, "y": y + dy, "v": 2} for dx, dy in offsets]
    if hidden is not None:
        points[hidden] = {"x": 0.0, "y": 0.0, "v": 0}
    points[1]["v"] = 1  # an occluded eye
    return {"label": "person", "points": points}


def hand(x: float, y: float) -> dict[str, Any]:
    return {"label": "hand", "points": [{"x": x, "y": y, "v": 2}, {"x": x + 0.03, "y": y, "v": 2}]}


VALUES = {
    "k/1.jpg": {"keypoints": [person(0.3, 0.2), person(0.7, 0.3, hidden=4)]},
    "k/2.jpg": {"keypoints": [person(0.5, 0.4), hand(0.1, 0.8)]},
    "k/3.jpg": {"keypoints": []},
}


def records(values: dict[str, dict[str, Any]]) -> list[Record]:
    return [record(doc(path, value), Options()) for path, value in values.items()]


def target(fmt: ExportFormat, **options: Any) -> bundle.Target:
    return bundle.Target(
        fmt,
        "image_keypoints",
        CLASSES,
        Options(**options),
        lambda p: f"https://acct/data/{p}",
        "poses",
        templates=TEMPLATES,
    )


def write(made: bundle.Target, values: dict[str, dict[str, Any]]) -> bytes:
    out = io.BytesIO()
    bundle.write(made, lambda: iter(records(values)), out, io.BytesIO)
    return out.getvalue()


def coco_file(tmp_path: Path, name: str, values: dict[str, dict[str, Any]]) -> Path:
    path = tmp_path / name
    path.write_bytes(write(target(ExportFormat.COCO), values))
    return path


def keypoint_ap(ground_truth: COCO, detections: list[dict[str, Any]]) -> float:
    with contextlib.redirect_stdout(io.StringIO()):
        found = ground_truth.loadRes(detections)
        scored = COCOeval(ground_truth, found, iouType="keypoints")
        scored.params.kpt_oks_sigmas = np.full(5, 0.05)  # the templates' (default) sigmas
        scored.params.catIds = [1]  # COCOeval's keypoint sigmas are one list: score persons
        scored.evaluate()
        scored.accumulate()
        scored.summarize()
    return float(scored.stats[0])


def detections_of(coco: COCO) -> list[dict[str, Any]]:
    anns = coco.loadAnns(coco.getAnnIds(catIds=[1]))
    return [
        {"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
        for a in anns
    ]


def test_coco_keypoints_score_1_against_themselves_and_lower_when_moved(tmp_path: Path) -> None:
    ground_truth = COCO(str(coco_file(tmp_path, "gt.json", VALUES)))
    assert keypoint_ap(ground_truth, detections_of(ground_truth)) == pytest.approx(1.0)

    moved = copy.deepcopy(VALUES)
    for value in moved.values():
        for instance in value["keypoints"]:
            for point in instance["points"]:
                if point["v"]:
                    point["x"] = min(point["x"] + 0.012, 1.0)
    perturbed = COCO(str(coco_file(tmp_path, "moved.json", moved)))
    assert 0 <= keypoint_ap(ground_truth, detections_of(perturbed)) < 0.9


def test_coco_categories_name_points_and_1_based_skeleton(tmp_path: Path) -> None:
    data = json.loads(coco_file(tmp_path, "gt.json", VALUES).read_text())
    person_cat, hand_cat = data["categories"]
    assert person_cat["keypoints"] == ["nose", "left_eye", "right_eye", "left_hip", "right_hip"]
    assert person_cat["skeleton"] == [[1, 2], [1, 3], [4, 5]]
    assert hand_cat == {
        "id": 2,
        "name": "hand",
        "supercategory": "",
        "keypoints": ["wrist", "thumb"],
        "skeleton": [[1, 2]],
    }
    first, second = [a for a in data["annotations"] if a["image_id"] == 1]
    assert first["num_keypoints"] == 5 and second["num_keypoints"] == 4
    assert second["keypoints"][12:] == [0, 0, 0]  # the absent right hip
    nose_x, nose_y, nose_v = first["keypoints"][:3]
    assert (nose_x, nose_y, nose_v) == (pytest.approx(0.3 * W), pytest.approx(0.2 * H), 2)
    assert first["keypoints"][5] == 1  # the occluded eye
    x, y, w, h = first["bbox"]
    assert (x, w) == (pytest.approx(0.25 * W), pytest.approx(0.1 * W))
    assert (y, h) == (pytest.approx(0.18 * H), pytest.approx(0.22 * H))
    assert first["area"] == pytest.approx(w * h)


def test_yolo_pose_has_kpt_shape_and_one_line_per_instance() -> None:
    data = write(target(ExportFormat.YOLO), VALUES)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        config = yaml.safe_load(archive.read("data.yaml"))
        labels = {n: archive.read(n).decode() for n in archive.namelist() if n.endswith(".txt")}
    assert config["kpt_shape"] == [5, 3]
    assert config["names"] == {0: "person", 1: "hand"}
    one = labels["labels/train/k/1.txt"].splitlines()
    assert len(one) == 2 and labels["labels/train/k/3.txt"] == ""
    numbers = [float(n) for n in one[0].split()]
    assert len(numbers) == 1 + 4 + 5 * 3
    cls, cx, cy, w, h = numbers[:5]
    assert (cls, cx, cy, w, h) == (0, pytest.approx(0.3), pytest.approx(0.29), 0.1, 0.22)
    assert numbers[5:8] == [pytest.approx(0.3), pytest.approx(0.2), 2]
    assert numbers[8 + 2] == 1  # the occluded eye's visibility
    # A hand has 2 points: padded to the shape's 5 with absent points.
    (hand_line,) = [line for line in labels["labels/train/k/2.txt"].splitlines() if line[0] == "1"]
    assert hand_line.endswith(" 2 0 0 0 0 0 0 0 0 0")
    assert len(hand_line.split()) == 1 + 4 + 5 * 3


@pytest.mark.parametrize(
    ("fmt", "why"),
    [
        (ExportFormat.AZUREML_JSONL, "Azure ML's image schemas"),
        (ExportFormat.VOC, "Pascal VOC's annotation XML has no keypoints"),
        (ExportFormat.CONLL, "conll does not hold image_keypoints"),
    ],
)
def test_formats_without_keypoints_refuse_them_saying_why(fmt: ExportFormat, why: str) -> None:
    with pytest.raises(InvalidInput, match=why):
        bundle.check_fits(fmt, "image_keypoints")


def test_csv_and_loupe_jsonl_carry_the_value_as_it_is() -> None:
    for fmt in (ExportFormat.CSV, ExportFormat.LOUPE_JSONL):
        text = write(target(fmt), VALUES).decode()
        assert '"keypoints":[{"label":"person"' in text.replace(" ", "").replace('""', '"')
