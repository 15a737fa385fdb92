"""Mask pre-labels: the box head finds objects, GrabCut outlines each (`polygons`), and the
outline is painted onto the item's grid.

The head learns from the bounding boxes of the project's human masks. Instance segmentation
suggests one mask per confident box; semantic segmentation joins a class's masks into its one
region. No pixel has two masks: the more confident mask keeps a pixel two would share (one left
with nothing is dropped), as the domain's mask rules ask. The threshold is measured like the
polygons' (DESIGN §8), on the masks themselves, painted at the working image's size: a held-out
instance mask is correct when its IoU with an unmatched human mask of its class is at least 0.5;
a held-out class region when its IoU with the human region of its class is
(`shape_calibration.measure_regions`: the region grows as the threshold comes down)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from core.assist.box_head import BoxHead, Embed, LabeledBox, LabeledImage, ScoredBox
from core.assist.polygons import FLOOR, polygon_from_box
from core.assist.shape_calibration import (
    MATCH_IOU,
    GrowingRegion,
    HeldOutDecision,
    Measured,
    Measurement,
    cross_fit,
    greedy_match,
    measure,
    measure_regions,
    too_few_labels,
    unmeasured,
)
from core.domain.masks import Mask
from core.export.mask_pixels import (
    Grid,
    bounding_box,
    claimed,
    counts_of_grid,
    polygon_to_grid,
    resized,
    to_grid,
)

MASK_POINTS = 256
"""Corners an outline keeps before it is painted: GrabCut's patch is at most 160 pixels a side,
so this keeps every corner worth having (a polygon pre-label keeps 32)."""


@dataclass(frozen=True)
class LabeledMaskImage:
    """An image (at the working size) and its human masks, on the item's display grid (none:
    the labeler saw nothing to paint)."""

    image: Image.Image
    masks: tuple[Mask, ...]

    def as_boxes(self) -> LabeledImage:
        """The masks' bounding boxes, what the box head learns from."""
        boxes = (_box_of(mask.label, to_grid(mask.to_json())) for mask in self.masks)
        return LabeledImage(self.image, tuple(box for box in boxes if box is not None))

    def truth(self) -> list[tuple[str, Grid]]:
        """The human masks at the image's size, where held-out masks are painted."""
        width, height = self.image.size
        return [(m.label, resized(to_grid(m.to_json()), height, width)) for m in self.masks]


@dataclass(frozen=True)
class MaskSuggestion:
    label: str
    grid: Grid
    confidence: float
    """The box head's probability for the class (of the least confident part, when joined)."""

    def as_mask(self) -> Mask:
        """The annotation's Mask (confidence travels separately)."""
        height, width = self.grid.shape
        return Mask(self.label, (height, width), counts_of_grid(self.grid))


def _box_of(label: str, grid: Grid) -> LabeledBox | None:
    found = bounding_box(grid)
    if found is None:
        return None
    height, width = grid.shape
    x, y, w, h = found
    return (label, x / width, y / height, w / width, h / height)


def paint_boxes(
    image: Image.Image, boxes: Sequence[ScoredBox], height: int, width: int
) -> list[MaskSuggestion]:
    """A mask for each box GrabCut can outline, painted on a `height` x `width` grid, most
    confident first; each keeps only the pixels no more confident mask took."""
    outlined = []
    for box in sorted(boxes, key=lambda b: -b.confidence):
        ring = polygon_from_box(image, box, max_points=MASK_POINTS)
        if ring is not None:
            outlined.append((box, polygon_to_grid(ring, height, width)))
    kept = claimed([grid for _, grid in outlined])
    return [
        MaskSuggestion(box.label, grid, box.confidence)
        for (box, _), grid in zip(outlined, kept, strict=True)
        if grid.any()
    ]


def joined(masks: Sequence[MaskSuggestion]) -> list[MaskSuggestion]:
    """Each class's masks as its one region (semantic segmentation), in the order of their
    first mask; a region is as confident as its least confident part."""
    regions: dict[str, MaskSuggestion] = {}
    for mask in masks:
        found = regions.get(mask.label)
        regions[mask.label] = (
            mask
            if found is None
            else MaskSuggestion(
                mask.label, found.grid | mask.grid, min(found.confidence, mask.confidence)
            )
        )
    return list(regions.values())


def grid_iou(a: Grid, b: Grid) -> float:
    union = int(np.count_nonzero(a | b))
    return int(np.count_nonzero(a & b)) / union if union else 0.0


def match_masks(
    predicted: Sequence[MaskSuggestion], truth: Sequence[tuple[str, Grid]], iou: float = MATCH_IOU
) -> list[bool]:
    """For each mask (in the order given), whether it is correct: a human mask of its class
    overlaps it with IoU ≥ `iou` and no more confident mask took that one first."""
    return greedy_match(
        [(p.label, p.confidence) for p in predicted],
        [label for label, _ in truth],
        lambda i, j: grid_iou(predicted[i].grid, truth[j][1]),
        iou,
    )


def growing_regions(
    parts: Sequence[MaskSuggestion], truth: Sequence[tuple[str, Grid]]
) -> list[GrowingRegion]:
    """Each suggested class's region on one image as its parts (most confident first) join
    it, judged against the human region of the class (all its human masks together)."""
    human = {r.label: r.grid for r in joined([MaskSuggestion(n, g, 1.0) for n, g in truth])}
    regions = []
    for label in dict.fromkeys(p.label for p in parts):
        mine = sorted((p for p in parts if p.label == label), key=lambda p: -p.confidence)
        region = np.zeros_like(mine[0].grid)
        correct = []
        for part in mine:
            region = region | part.grid
            correct.append(label in human and grid_iou(region, human[label]) >= MATCH_IOU)
        regions.append(GrowingRegion(label, tuple(p.confidence for p in mine), tuple(correct)))
    return regions


@dataclass(frozen=True)
class MaskCalibration(Measured):
    """The measured threshold and the box head fitted on every labeled image (None when there
    were too few labels to measure anything)."""

    measurement: Measurement
    head: BoxHead | None
    semantic: bool

    def suggest(
        self, image: Image.Image, embed: Embed, grid: tuple[int, int]
    ) -> list[MaskSuggestion]:
        """Masks confident enough to pre-label with, on `grid` ([height, width]: the item's
        display size); none without a measured threshold."""
        if self.head is None or self.threshold is None:
            return []
        boxes = self.head.predict(image, embed, min_confidence=self.threshold)
        painted = paint_boxes(image, boxes, *grid)
        return joined(painted) if self.semantic else painted


def calibrate_masks(
    samples: Sequence[LabeledMaskImage],
    embed: Embed,
    classes: Sequence[str],
    *,
    semantic: bool,
    target: float,
    folds: int = 5,
    head: BoxHead | None = None,
    calibration: Sequence[bool] | None = None,
) -> MaskCalibration:
    """Out-of-fold by image, like `polygons.calibrate_polygons`, but judged on the masks:
    held-out boxes are painted at the image's size and marked with `match_masks` (instance), or
    joined by class and judged region by region (semantic)."""
    truth_labels = [mask.label for s in samples for mask in s.masks]
    shortage = too_few_labels(len(samples), len(truth_labels))
    if shortage:
        measurement = unmeasured(shortage, classes, truth_labels, images=len(samples))
        return MaskCalibration(measurement, None, semantic)
    boxes = [s.as_boxes() for s in samples]
    predictions, final = cross_fit(
        boxes, embed, classes, folds=folds, head=head or BoxHead(), min_confidence=FLOOR
    )
    kept = [True] * len(samples) if calibration is None else list(calibration)
    measured = [(s, p) for s, p, keep in zip(samples, predictions, kept, strict=True) if keep]
    truth = [label for s, _ in measured for label in _class_labels(s, semantic)]
    if semantic:
        regions = [
            region
            for sample, predicted in measured
            for region in growing_regions(_painted(sample, predicted), sample.truth())
        ]
        found = measure_regions(regions, truth, classes, target=target, images=len(measured))
        return MaskCalibration(found, final, semantic)
    decisions: list[HeldOutDecision] = []
    for sample, predicted in measured:
        painted = _painted(sample, predicted)
        hits = match_masks(painted, sample.truth())
        decisions.extend(
            HeldOutDecision(p.label, p.confidence, hit)
            for p, hit in zip(painted, hits, strict=True)
        )
    found = measure(decisions, truth, classes, target=target, images=len(measured))
    return MaskCalibration(found, final, semantic)


def _painted(sample: LabeledMaskImage, boxes: Sequence[ScoredBox]) -> list[MaskSuggestion]:
    width, height = sample.image.size
    return paint_boxes(sample.image, boxes, height, width)


def _class_labels(sample: LabeledMaskImage, semantic: bool) -> list[str]:
    """What a held-out image's suggestions are measured against: its masks (instance), or the
    classes it shows (semantic: one region each)."""
    labels = [mask.label for mask in sample.masks]
    return list(dict.fromkeys(labels)) if semantic else labels
