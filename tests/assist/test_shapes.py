"""ML assist for boxes, polygons and masks through the queue, with the default image backbone:
scenes of squares, discs and triangles uploaded, labeled with their true shapes, a cycle on the
assist queue, and its pre-labels checked on the images no one labeled."""

from __future__ import annotations

import io

import pytest

from core.assist.boxes import match
from core.assist.masks import MaskSuggestion, grid_iou, match_masks
from core.assist.polygons import match_polygons
from core.domain import mask_rules
from core.domain.annotations import validate_annotation
from core.domain.items import ItemState
from core.domain.messages import ASSIST_TRAIN
from core.domain.runs import JobStatus, RunKind
from core.domain.task_types import TaskType
from core.export.mask_pixels import to_grid
from core.services.assist import assist_status, request_training
from tests.assist.conftest import OWNER, create, items, label, upload
from tests.support.assist import drain
from tests.unit.assist.scenes import CLASSES, SIDE, Scene, scenes

pytestmark = pytest.mark.slow

TARGET = 0.8
"""Two dozen labeled images cannot vouch for more with 95 % certainty."""


def uploaded(deps, task_type: str, count: int):
    project_id = create(deps, task_type, CLASSES, targetPrecision=TARGET, trainAfter=10)
    made = scenes(count, seed=11)
    files = []
    for n, scene in enumerate(made):
        buffer = io.BytesIO()
        scene.image.save(buffer, "PNG")
        files.append((f"s/{n:03d}.png", buffer.getvalue()))
    ids = upload(deps, project_id, files)
    return project_id, {ids[f"s/{n:03d}.png"]: scene for n, scene in enumerate(made)}


def test_box_pre_labels_meet_the_target_on_unlabeled_images(deps):
    project_id, truth = uploaded(deps, "image_bounding_box", 32)

    def boxes(item):
        shapes = truth[item.id].labeled().boxes
        keys = ("label", "x", "y", "w", "h")
        return {"boxes": [dict(zip(keys, shape, strict=True)) for shape in shapes]}

    label(deps, project_id, 24, boxes)
    request_training(deps, project_id=project_id, actor=OWNER)
    drain(deps, ASSIST_TRAIN)

    runs = {r.kind: r for r in assist_status(deps, project_id=project_id, actor=OWNER).runs}
    assert {r.status for r in runs.values()} == {JobStatus.SUCCEEDED}
    assert runs[RunKind.VALIDATE].metrics["lowerBound"] >= TARGET
    correct = suggested = 0
    for item in items(deps, project_id):
        if item.state is ItemState.UNLABELED and item.prediction is not None:
            predicted = [_Scored(**b) for b in item.to_doc()["prediction"]["value"]["boxes"]]
            hits = match(predicted, truth[item.id].labeled().boxes)
            correct, suggested = correct + sum(hits), suggested + len(hits)
    assert suggested >= 4 and correct / suggested >= TARGET, (correct, suggested)


def test_polygon_pre_labels_are_outlines_that_meet_the_target(deps):
    project_id, truth = uploaded(deps, "image_polygon", 26)

    def polygons(item):
        return {
            "polygons": [
                {"label": name, "points": [list(p) for p in ring]}
                for name, ring in truth[item.id].outlined().polygons
            ]
        }

    label(deps, project_id, 20, polygons)
    request_training(deps, project_id=project_id, actor=OWNER)
    drain(deps, ASSIST_TRAIN)

    runs = {r.kind: r for r in assist_status(deps, project_id=project_id, actor=OWNER).runs}
    assert {r.status for r in runs.values()} == {JobStatus.SUCCEEDED}
    assert runs[RunKind.VALIDATE].metrics["lowerBound"] >= TARGET
    found = [i for i in items(deps, project_id) if i.prediction is not None]
    correct = suggested = 0
    for item in found:
        outlines = [
            _Outline(p["label"], tuple(map(tuple, p["points"])))
            for p in item.to_doc()["prediction"]["value"]["polygons"]
        ]
        hits = match_polygons(outlines, truth[item.id].outlined().polygons)
        correct, suggested = correct + sum(hits), suggested + len(hits)
    assert suggested and correct / suggested >= TARGET, (correct, suggested)


def _masks(truth: dict[str, Scene], *, semantic: bool):
    def answer(item):
        return {"masks": [m.to_json() for m in truth[item.id].masks(semantic=semantic)]}

    return answer


def _grids(masks) -> list[tuple[str, object]]:
    return [(m["label"], to_grid(m)) for m in masks]


def _mask_pre_labels(deps, task_type: TaskType) -> list[tuple[dict, Scene]]:
    """Each pre-labeled item's suggestion (valid as a labeler's answer) beside its truth, after
    a cycle on 20 labeled scenes of 26; the held-out bound met the target."""
    semantic = task_type == TaskType.IMAGE_SEMANTIC_SEGMENTATION
    project_id, truth = uploaded(deps, task_type.value, 26)
    label(deps, project_id, 20, _masks(truth, semantic=semantic))
    request_training(deps, project_id=project_id, actor=OWNER)
    drain(deps, ASSIST_TRAIN)

    runs = {r.kind: r for r in assist_status(deps, project_id=project_id, actor=OWNER).runs}
    assert {r.status for r in runs.values()} == {JobStatus.SUCCEEDED}
    assert runs[RunKind.VALIDATE].metrics["lowerBound"] >= TARGET
    found = []
    for item in items(deps, project_id):
        if item.prediction is not None:
            raw = item.to_doc()["prediction"]["value"]
            validate_annotation(task_type, raw, label_names=CLASSES, mask_grid=(SIDE, SIDE))
            found.append((raw, truth[item.id]))
    return found


def test_instance_mask_pre_labels_meet_the_target_and_are_valid_answers(deps):
    correct = suggested = 0
    for raw, scene in _mask_pre_labels(deps, TaskType.IMAGE_INSTANCE_SEGMENTATION):
        masks = [MaskSuggestion(n, g, 1.0) for n, g in _grids(raw["masks"])]
        hits = match_masks(masks, _grids(m.to_json() for m in scene.masks()))
        correct, suggested = correct + sum(hits), suggested + len(hits)
    assert suggested and correct / suggested >= TARGET, (correct, suggested)


def test_semantic_pre_labels_are_one_region_a_class_meeting_the_target(deps):
    correct = suggested = 0
    for raw, scene in _mask_pre_labels(deps, TaskType.IMAGE_SEMANTIC_SEGMENTATION):
        human = dict(_grids(m.to_json() for m in scene.masks(semantic=True)))
        for name, grid in _grids(raw["masks"]):
            correct += name in human and grid_iou(grid, human[name]) >= 0.5
            suggested += 1
    assert suggested and correct / suggested >= TARGET, (correct, suggested)


def test_a_mask_pre_label_breaking_an_answer_rule_is_not_written(deps, monkeypatch):
    """Validated as the labeler's answer would be: here the answer's run lengths are capped
    below what any suggestion takes, so none is written, and the infer run counts them."""
    project_id, truth = uploaded(deps, "image_instance_segmentation", 26)
    label(deps, project_id, 20, _masks(truth, semantic=False))
    monkeypatch.setattr(mask_rules, "MAX_MASK_CHARS", 10)
    request_training(deps, project_id=project_id, actor=OWNER)
    drain(deps, ASSIST_TRAIN)

    runs = {r.kind: r for r in assist_status(deps, project_id=project_id, actor=OWNER).runs}
    assert runs[RunKind.VALIDATE].metrics["threshold"] > 0
    infer = runs[RunKind.INFER].metrics
    assert infer["prelabeled"] == 0 and infer["refused"] > 0
    assert all(i.prediction is None for i in items(deps, project_id))


def test_no_mask_pre_labels_while_evidence_is_short(deps):
    project_id, truth = uploaded(deps, "image_instance_segmentation", 14)
    label(deps, project_id, 6, _masks(truth, semantic=False))
    request_training(deps, project_id=project_id, actor=OWNER)
    drain(deps, ASSIST_TRAIN)

    runs = {r.kind: r for r in assist_status(deps, project_id=project_id, actor=OWNER).runs}
    assert runs[RunKind.TRAIN].status is JobStatus.SUCCEEDED
    assert runs[RunKind.TRAIN].message is not None
    assert "only 6 labeled images" in runs[RunKind.TRAIN].message
    assert runs[RunKind.INFER].metrics["prelabeled"] == 0
    assert all(i.prediction is None for i in items(deps, project_id))


class _Scored:
    def __init__(self, label, x, y, w, h):
        self.label, self.x, self.y, self.w, self.h, self.confidence = label, x, y, w, h, 1.0


class _Outline:
    def __init__(self, label, points):
        self.label, self.points, self.confidence = label, points, 1.0
