"""ML-assist cycles of box, polygon and mask projects: a head learns from crops of the project's
own shapes, its threshold is measured out-of-fold by image (`core.assist.boxes`, `polygons` and
`masks`), and unlabeled images get the shapes it is confident about as a pre-label to confirm or
correct."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from core.assist.box_head import BoxHead, Embed, LabeledImage
from core.assist.boxes import BoxCalibration, calibrate
from core.assist.masks import LabeledMaskImage, MaskCalibration, calibrate_masks
from core.assist.polygons import LabeledPolygonImage, PolygonCalibration, calibrate_polygons
from core.domain.annotations import AnnotationValue, BoxSet, PolygonSet
from core.domain.assist import AssistState, is_audit
from core.domain.errors import InvalidAnnotation
from core.domain.items import Item, ItemState, Prediction
from core.domain.masks import MaskSet
from core.domain.projects import Project
from core.domain.runs import RunKind
from core.domain.task_types import MediaKind, TaskType
from core.media.images import decoded_rgb
from core.ports import Deps
from core.services.assist import human_labels
from core.services.assist_inputs import (
    Outcome,
    all_items,
    device_figures,
    featurizer_for,
    usable,
)
from core.services.labeling import mask_grid, validated
from core.services.runs import RunLog, Step
from core.services.spool import spooled
from core.services.suggestions import Suggestion, write_suggestions
from core.store.collections import load

IMAGE_SIDE = 512
"""Images are worked on at most this large: objects worth a shape survive, memory stays small."""
MAX_LABELED = 400
"""The newest labeled images a cycle learns from (each fold finds proposals and crops them)."""
INFER_PER_CYCLE = 500
"""Unlabeled images a cycle pre-labels, next in queue order first: proposals and crops cost
about a second an image on a CPU; the GPU job goes faster, and each cycle takes the next ones."""

HEAD = BoxHead(max_proposals=40, jitter=1, negatives_per_image=8)
"""Sized for a CPU: every proposal of every image is a crop through the backbone. Forty find
most objects worth a box (measured on the test scenes); the GPU job could afford more."""

Calibration = BoxCalibration | PolygonCalibration | MaskCalibration


class _CountingEmbed:
    """The featurizer as the shape heads call it: each distinct crop embedded once (a labeled
    image's proposals are cropped again for every fold it trains), crops and time counted for
    the runs."""

    def __init__(self, embed: Embed) -> None:
        self._embed = embed
        self._seen: dict[bytes, np.ndarray] = {}
        self.crops = 0
        self.seconds = 0.0

    def __call__(self, crops: Sequence[Image.Image]) -> np.ndarray:
        keys = [hashlib.blake2b(c.tobytes() + repr(c.size).encode()).digest() for c in crops]
        missing = [i for i, key in enumerate(keys) if key not in self._seen]
        if missing:
            started = time.perf_counter()
            rows = self._embed([crops[i] for i in missing])
            self.seconds += time.perf_counter() - started
            self.crops += len(missing)
            self._seen.update((keys[i], row) for i, row in zip(missing, rows, strict=True))
        return np.stack([self._seen[key] for key in keys])


@dataclass(frozen=True)
class _Rows:
    """Which items (by row) a cycle learns from, leaves to the random sample, and pre-labels."""

    labeled: list[int]
    """The newest labels (up to `MAX_LABELED`)."""
    unlabeled: list[int]
    sample: list[int]
    waiting: list[int]
    """Unlabeled items outside the sample, first in the queue (up to `INFER_PER_CYCLE`)."""


def _rows(items: list[Item], media: MediaKind) -> _Rows:
    rows = [row for row, item in enumerate(items) if usable(item, media)]
    labeled = sorted(
        (r for r in rows if items[r].state is ItemState.LABELED and items[r].final is not None),
        key=lambda r: items[r].updated_at,
    )[-MAX_LABELED:]
    unlabeled = [
        r for r in rows if items[r].state is ItemState.UNLABELED and not items[r].annotations
    ]
    waiting = sorted(
        (r for r in unlabeled if not is_audit(items[r].id)), key=lambda r: items[r].rank
    )[:INFER_PER_CYCLE]
    return _Rows(labeled, unlabeled, [r for r in unlabeled if is_audit(items[r].id)], waiting)


def _featurize(
    deps: Deps, project: Project, runs: RunLog, items: list[Item], labeled: list[int]
) -> tuple[_CountingEmbed, dict[int, Image.Image]]:
    """The crop embedder (crops are embedded as the head needs them) and the labeled images."""
    with runs.step(RunKind.FEATURIZE) as step:
        featurizer = featurizer_for(deps, project)
        embed = _CountingEmbed(featurizer.embed_images)
        images = {row: _image(deps, items[row]) for row in labeled}
        device, fallback = device_figures(deps, featurizer)
        step.metrics = {"labeledImages": len(labeled)} | device
        later = "crops are embedded as the head trains and predicts (see their runs)"
        step.message = "; ".join(m for m in (fallback, later) if m)
    return embed, images


def shape_cycle(deps: Deps, project: Project, runs: RunLog, state: AssistState) -> Outcome:
    documents = all_items(deps, project.id)
    items = [load(Item, d) for d in documents]
    rows = _rows(items, project.task_type.media)
    labeled = rows.labeled
    first = state.last_cycle is None
    # Only labels of the random sample (or made before any cycle) measure the threshold.
    calibrating = [first or items[r].audit for r in labeled]
    embed, images = _featurize(deps, project, runs, items, labeled)
    names = [label.name for label in project.label_classes]
    with runs.step(RunKind.TRAIN) as step:
        samples = [(images[row], items[row].final) for row in labeled]
        calibration = _calibrate(project, samples, embed, names, calibrating)
        step.metrics = _train_figures(len(labeled), calibration, embed)
        step.message = calibration.reason
    with runs.step(RunKind.VALIDATE) as step:
        _report(calibration, project.assist.target_precision, step)
    with runs.step(RunKind.INFER) as step:
        changes, refused = _suggestions(deps, project, runs, items, rows, calibration, embed)
        for row in rows.sample + (labeled if first else []):
            changes[row] = Suggestion(None, None, audit=True)
        write_suggestions(deps, items, documents, changes)
        suggested = sum(1 for change in changes.values() if change.prediction is not None)
        coverage = suggested / len(rows.waiting) if rows.waiting else 0.0
        step.metrics = {
            "considered": len(rows.waiting),
            "randomSample": len(rows.sample),
            "prelabeled": suggested,
            "refused": refused,
            "coverage": coverage,
            "crops": embed.crops,
        }
        if calibration.threshold is None:
            step.message = "no pre-labels: " + (calibration.reason or "no threshold")
    return Outcome(human_labels(deps, project.id), calibration.threshold, coverage, suggested)


def _train_figures(
    labeled: int, calibration: Calibration, embed: _CountingEmbed
) -> dict[str, float]:
    return {
        "labeledImages": labeled,
        "calibrationImages": calibration.measurement.images,
        "shapes": calibration.measurement.shapes,
        "crops": embed.crops,
        "cropsPerSecond": embed.crops / embed.seconds if embed.seconds else 0.0,
    }


def _suggestions(
    deps: Deps,
    project: Project,
    runs: RunLog,
    items: list[Item],
    rows: _Rows,
    calibration: Calibration,
    embed: _CountingEmbed,
) -> tuple[dict[int, Suggestion], int]:
    """The waiting items' pre-labels, or, with no threshold, every earlier one taken back
    (this model cannot vouch for them); and how many items' suggestions were left out for
    breaking a rule of the answer (`_prediction`)."""
    if calibration.threshold is None:
        return {row: Suggestion(None, None) for row in rows.unlabeled}, 0
    run = runs.run_id(RunKind.INFER)
    changes = {}
    refused = 0
    for row in rows.waiting:
        shapes = _suggest(calibration, _image(deps, items[row]), items[row], embed)
        prediction = _prediction(project, items[row], shapes, run)
        refused += bool(shapes) and prediction is None
        changes[row] = Suggestion(prediction, None)
    return changes, refused


def _suggest(
    calibration: Calibration, image: Image.Image, item: Item, embed: Embed
) -> Sequence[Any]:
    """The shapes the calibrated head suggests for an item; masks on its display grid."""
    if isinstance(calibration, MaskCalibration):
        grid = mask_grid(item)
        return calibration.suggest(image, embed, grid) if grid else []
    return calibration.suggest(image, embed)


def _calibrate(
    project: Project,
    samples: list[tuple[Image.Image, AnnotationValue | None]],
    embed: Embed,
    names: list[str],
    calibrating: list[bool],
) -> Calibration:
    """`samples`: each labeled image with its final value."""
    task_type, known = project.task_type, set(names)
    options: dict[str, Any] = {
        "target": project.assist.target_precision,
        "head": HEAD,
        "calibration": calibrating,
    }
    if task_type.is_mask:
        masks = [LabeledMaskImage(image, tuple(_shapes(v, MaskSet, known))) for image, v in samples]
        semantic = task_type is TaskType.IMAGE_SEMANTIC_SEGMENTATION
        return calibrate_masks(masks, embed, names, semantic=semantic, **options)
    if task_type is TaskType.IMAGE_POLYGON:
        polygons = [
            LabeledPolygonImage(
                image, tuple((p.label, p.points) for p in _shapes(v, PolygonSet, known))
            )
            for image, v in samples
        ]
        return calibrate_polygons(polygons, embed, names, **options)
    boxes = [
        LabeledImage(image, tuple((b.label, b.x, b.y, b.w, b.h) for b in _shapes(v, BoxSet, known)))
        for image, v in samples
    ]
    return calibrate(boxes, embed, names, **options)


def _report(calibration: Calibration, target: float, step: Step) -> None:
    step.metrics["targetPrecision"] = target
    measured = calibration.measurement.measured
    if measured is None:
        step.message = calibration.reason
        return
    step.metrics.update(
        threshold=measured.confidence,
        heldOutPrecision=measured.precision,
        lowerBound=measured.lower_bound,
        support=measured.support,
        heldOutRecall=calibration.recall,
    )
    for name, counts in calibration.per_class.items():
        step.per_class[name] = {
            "labeled": counts.labeled,
            "suggested": counts.suggested,
            "precision": counts.correct / counts.suggested if counts.suggested else 1.0,
            "recall": counts.correct / counts.labeled if counts.labeled else 0.0,
        }


_SHAPES = {BoxSet: "boxes", PolygonSet: "polygons", MaskSet: "masks"}


def _shapes(value: AnnotationValue | None, kind: type, known: set[str]) -> list[Any]:
    """A labeled item's shapes of the project's classes (none when it has no value of `kind`;
    a shape of a class since removed is no example)."""
    if not isinstance(value, kind):
        return []
    return [shape for shape in getattr(value, _SHAPES[kind]) if shape.label in known]


def _prediction(project: Project, item: Item, shapes: Sequence[Any], run: str) -> Prediction | None:
    """`shapes`: the ScoredBox, PolygonSuggestion or MaskSuggestion the calibrated head
    suggests. A mask pre-label is validated as the labeler's answer would be (a pre-label is
    what they submit when they accept it), and left out if it breaks a rule: masks have limits
    (the answer's run lengths) a suggestion could exceed."""
    if not shapes:
        return None
    value = _value(project.task_type, shapes)
    if project.task_type.is_mask:
        try:
            value = validated(project, item, value.to_json())
        except InvalidAnnotation:
            return None
    return Prediction(value=value, confidence=min(s.confidence for s in shapes), run=run)


def _value(task_type: TaskType, shapes: Sequence[Any]) -> AnnotationValue:
    if task_type.is_mask:
        return MaskSet(tuple(s.as_mask() for s in shapes))
    if task_type is TaskType.IMAGE_POLYGON:
        return PolygonSet(tuple(s.as_polygon() for s in shapes))
    return BoxSet(tuple(s.as_box() for s in shapes))


def _image(deps: Deps, item: Item) -> Image.Image:
    """The display rendition (oriented as labelers see it), at most IMAGE_SIDE, RGB. Decoded
    within the media budget all the same: the display of a browser-ready item is its source
    file, which may have been replaced by a bigger one since it was rendered."""
    assert item.derivatives is not None
    container, name = item.derivatives.display.split("/", 1)
    with spooled(deps.blobs, container, name) as file:
        return decoded_rgb(file, IMAGE_SIDE)
