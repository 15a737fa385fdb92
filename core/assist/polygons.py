"""Polygon pre-labels: the box head finds objects, GrabCut outlines each inside its box.

The head learns from the bounding boxes of the project's human polygons; each box it predicts
seeds `cv2.grabCut`, whose largest foreground contour, simplified, is the suggested polygon.
The threshold is measured like the boxes' (DESIGN §8), on the polygons themselves: a held-out
suggestion is correct when `polygon_iou` with an unmatched human polygon of its class is at
least 0.5."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from core.assist.box_head import BoxHead, Embed, LabeledBox, LabeledImage, ScoredBox
from core.assist.shape_calibration import (
    MATCH_IOU,
    HeldOutDecision,
    Measured,
    Measurement,
    cross_fit,
    greedy_match,
    measure,
    too_few_labels,
    unmeasured,
)
from core.domain.annotations import MIN_POLYGON_AREA, Polygon
from core.domain.geometry import BoxLike, Point, drop_repeats, polygon_area, polygon_iou

LabeledPolygon = tuple[str, tuple[Point, ...]]
"""label and ring, as fractions of the image's width and height."""

MAX_POINTS = 32
_GRABCUT_SIDE = 160
"""GrabCut runs on the box's neighbourhood scaled to at most this many pixels a side: its cost
grows with the pixels, its outline (simplified to a few dozen points anyway) hardly does."""
_SURROUND = 0.25
"""Share of the box's size added on each side as the background GrabCut learns from."""
_SLACK = 0.04
"""A predicted box may clip its object slightly; GrabCut's rectangle is grown by this share so
that the object's rim is not declared background."""
_ITERATIONS = 5
_TRACE_SCALE = 4
_MIN_FILL = 0.05
"""A foreground under this share of the box is no object's outline."""
FLOOR = 0.3
"""Held-out boxes below this confidence are not outlined during calibration (GrabCut is the
costly step): no threshold ever falls below it, so none of them could be suggested."""


@dataclass(frozen=True)
class LabeledPolygonImage:
    """An image and its human polygons (none: the labeler saw no objects)."""

    image: Image.Image
    polygons: tuple[LabeledPolygon, ...]

    def as_boxes(self) -> LabeledImage:
        return LabeledImage(self.image, tuple(bounding_box(p) for p in self.polygons))


@dataclass(frozen=True)
class PolygonSuggestion:
    label: str
    points: tuple[Point, ...]
    confidence: float
    """The box head's probability for the class of the box the outline came from."""

    def as_polygon(self) -> Polygon:
        """The annotation's Polygon (confidence travels separately)."""
        return Polygon(self.label, self.points)

    def to_json(self) -> dict[str, Any]:
        return self.as_polygon().to_json()


def bounding_box(polygon: LabeledPolygon) -> LabeledBox:
    label, ring = polygon
    left, top, right, bottom = _extent(ring)
    return (label, left, top, right - left, bottom - top)


# --- GrabCut ---------------------------------------------------------------------------------


def polygon_from_box(
    image: Image.Image, box: BoxLike, *, max_points: int = MAX_POINTS
) -> list[Point] | None:
    """The outline of the object in `box` (normalised, at most `max_points` points), by GrabCut
    seeded with the box; None when GrabCut finds no usable foreground there."""
    if box.w <= 0 or box.h <= 0 or max_points < 3:
        return None
    width, height = image.size
    region = _neighbourhood(box, width, height)
    pixels, scale = _region_pixels(image, region)
    patch_size = (pixels.shape[1], pixels.shape[0])
    rect = _seed_rect(box, (width, height), region, scale, patch_size)
    if rect is None:
        return None
    mask = _grabcut(pixels, rect)
    contour = _largest_contour(mask) if mask is not None else None
    if (
        contour is None
        or cv2.contourArea(contour.astype(np.float32)) < _MIN_FILL * rect[2] * rect[3]
    ):
        return None
    simplified = _simplify(contour, max_points)
    left, top = region[0], region[1]
    ring = drop_repeats(
        (
            _unit((left + px / scale) / width),
            _unit((top + py / scale) / height),
        )
        for px, py in simplified
    )
    if len(set(ring)) < 3 or polygon_area(ring) <= MIN_POLYGON_AREA:
        return None
    return ring


def _unit(value: float) -> float:
    return min(max(value, 0.0), 1.0)


def _neighbourhood(box: BoxLike, width: int, height: int) -> tuple[int, int, int, int]:
    """Pixel bounds (left, top, right, bottom) of the box and its surroundings."""
    x0 = (box.x - _SURROUND * box.w) * width
    y0 = (box.y - _SURROUND * box.h) * height
    x1 = (box.x + box.w * (1 + _SURROUND)) * width
    y1 = (box.y + box.h * (1 + _SURROUND)) * height
    left, top = max(int(np.floor(x0)), 0), max(int(np.floor(y0)), 0)
    right, bottom = min(int(np.ceil(x1)), width), min(int(np.ceil(y1)), height)
    return left, top, max(right, left + 1), max(bottom, top + 1)


def _region_pixels(
    image: Image.Image, region: tuple[int, int, int, int]
) -> tuple[npt.NDArray[np.uint8], float]:
    """The region's pixels, shrunk to at most _GRABCUT_SIDE a side, and the scale applied."""
    patch = image.convert("RGB").crop(region)
    scale = min(1.0, _GRABCUT_SIDE / max(patch.size))
    if scale < 1.0:
        size = (max(round(patch.width * scale), 1), max(round(patch.height * scale), 1))
        patch = patch.resize(size, Image.Resampling.BILINEAR)
        scale = patch.width / (region[2] - region[0])
    return np.ascontiguousarray(np.asarray(patch, dtype=np.uint8)), scale


def _seed_rect(
    box: BoxLike,
    image_size: tuple[int, int],
    region: tuple[int, int, int, int],
    scale: float,
    patch_size: tuple[int, int],
) -> tuple[int, int, int, int] | None:
    """GrabCut's rectangle (x, y, w, h in patch pixels): the box with a little slack, kept a
    pixel inside the patch so that GrabCut has some background to learn from."""
    (image_w, image_h), (patch_w, patch_h) = image_size, patch_size
    x0 = ((box.x - _SLACK * box.w) * image_w - region[0]) * scale
    y0 = ((box.y - _SLACK * box.h) * image_h - region[1]) * scale
    x1 = ((box.x + box.w * (1 + _SLACK)) * image_w - region[0]) * scale
    y1 = ((box.y + box.h * (1 + _SLACK)) * image_h - region[1]) * scale
    left, top = max(int(x0), 1), max(int(y0), 1)
    right, bottom = min(int(np.ceil(x1)), patch_w - 1), min(int(np.ceil(y1)), patch_h - 1)
    if right - left < 2 or bottom - top < 2:
        return None
    return left, top, right - left, bottom - top


def _grabcut(
    pixels: npt.NDArray[np.uint8], rect: tuple[int, int, int, int]
) -> npt.NDArray[np.uint8] | None:
    """Foreground mask (255 inside) after GrabCut from `rect`; None when it cannot run."""
    mask = np.zeros(pixels.shape[:2], np.uint8)
    background = np.zeros((1, 65), np.float64)
    foreground = np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(pixels, mask, rect, background, foreground, _ITERATIONS, cv2.GC_INIT_WITH_RECT)
    except cv2.error:  # e.g. no background pixels at all to learn from
        return None
    chosen = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    kernel = np.ones((3, 3), np.uint8)
    cleaned = cv2.morphologyEx(np.where(chosen, 255, 0).astype(np.uint8), cv2.MORPH_OPEN, kernel)
    return np.asarray(cleaned, dtype=np.uint8)


def _largest_contour(mask: npt.NDArray[np.uint8]) -> npt.NDArray[np.float64] | None:
    """The outline of the largest foreground blob, in continuous patch coordinates (a pixel
    spans [i, i + 1)). Traced on a finer copy of the mask: a contour runs through the centres
    of the boundary pixels, half a pixel inside the blob's edge, which on a 30-pixel object
    costs 6 % of its area."""
    fine = cv2.resize(mask, None, fx=_TRACE_SCALE, fy=_TRACE_SCALE, interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(fine, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    largest = np.asarray(max(contours, key=cv2.contourArea), dtype=np.float64)
    return (largest + 0.5) / _TRACE_SCALE


def _simplify(contour: npt.NDArray[np.float64], max_points: int) -> list[tuple[float, float]]:
    """Douglas–Peucker with a tolerance that grows until the ring has at most `max_points`."""
    points = contour.astype(np.float32)
    perimeter = cv2.arcLength(points, closed=True)
    tolerance = max(0.25, 0.005 * perimeter)
    approx = cv2.approxPolyDP(points, tolerance, closed=True)
    while len(approx) > max_points:
        tolerance *= 1.3
        approx = cv2.approxPolyDP(points, tolerance, closed=True)
    return [(float(p[0][0]), float(p[0][1])) for p in approx]


# --- suggestions and calibration -------------------------------------------------------------


def outline_boxes(
    image: Image.Image, boxes: Sequence[ScoredBox], *, max_points: int = MAX_POINTS
) -> list[PolygonSuggestion]:
    """A polygon for each box GrabCut can outline, with the box's class and confidence."""
    suggestions = []
    for box in boxes:
        ring = polygon_from_box(image, box, max_points=max_points)
        if ring is not None:
            suggestions.append(PolygonSuggestion(box.label, tuple(ring), box.confidence))
    return suggestions


def match_polygons(
    predicted: Sequence[PolygonSuggestion],
    truth: Sequence[LabeledPolygon],
    iou: float = MATCH_IOU,
) -> list[bool]:
    """For each suggestion (in the order given), whether it is correct: a human polygon of its
    class overlaps it with polygon IoU ≥ `iou` and no more confident suggestion took it first."""
    predicted_boxes = [_extent(p.points) for p in predicted]
    truth_boxes = [_extent(ring) for _, ring in truth]

    def overlap(i: int, j: int) -> float:
        # The exact polygon IoU is costly; rings whose extents are apart cannot overlap.
        if not _extents_meet(predicted_boxes[i], truth_boxes[j]):
            return 0.0
        return polygon_iou(predicted[i].points, truth[j][1])

    return greedy_match(
        [(p.label, p.confidence) for p in predicted],
        [label for label, _ in truth],
        overlap,
        iou,
    )


def _extent(ring: Sequence[Point]) -> tuple[float, float, float, float]:
    xs = [x for x, _ in ring]
    ys = [y for _, y in ring]
    return min(xs), min(ys), max(xs), max(ys)


def _extents_meet(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@dataclass(frozen=True)
class PolygonCalibration(Measured):
    """The measured threshold and the box head fitted on every labeled image (None when there
    were too few labels to measure anything)."""

    measurement: Measurement
    head: BoxHead | None
    max_points: int = MAX_POINTS

    def suggest(self, image: Image.Image, embed: Embed) -> list[PolygonSuggestion]:
        """Polygons confident enough to pre-label with; none without a measured threshold."""
        if self.head is None or self.threshold is None:
            return []
        boxes = self.head.predict(image, embed, min_confidence=self.threshold)
        return outline_boxes(image, boxes, max_points=self.max_points)


def calibrate_polygons(
    samples: Sequence[LabeledPolygonImage],
    embed: Embed,
    classes: Sequence[str],
    *,
    target: float,
    folds: int = 5,
    head: BoxHead | None = None,
    max_points: int = MAX_POINTS,
    calibration: Sequence[bool] | None = None,
) -> PolygonCalibration:
    """Out-of-fold by image, like `boxes.calibrate`, but judged on the outlines: held-out
    boxes are turned into polygons and marked with `match_polygons`. A box GrabCut cannot
    outline yields no suggestion, so it is not counted either way."""
    template = head or BoxHead()
    truth_labels = [label for s in samples for label, _ in s.polygons]
    shortage = too_few_labels(len(samples), len(truth_labels))
    if shortage:
        measurement = unmeasured(shortage, classes, truth_labels, images=len(samples))
        return PolygonCalibration(measurement, None, max_points)
    boxes = [s.as_boxes() for s in samples]
    predictions, final = cross_fit(
        boxes, embed, classes, folds=folds, head=template, min_confidence=FLOOR
    )
    kept = [True] * len(samples) if calibration is None else list(calibration)
    decisions: list[HeldOutDecision] = []
    for sample, predicted, keep in zip(samples, predictions, kept, strict=True):
        if not keep:  # trains, but does not measure (not in the random sample)
            continue
        outlines = outline_boxes(sample.image, predicted, max_points=max_points)
        hits = match_polygons(outlines, sample.polygons)
        decisions.extend(
            HeldOutDecision(p.label, p.confidence, hit)
            for p, hit in zip(outlines, hits, strict=True)
        )
    truth = [
        label for s, keep in zip(samples, kept, strict=True) if keep for label, _ in s.polygons
    ]
    measurement = measure(decisions, truth, classes, target=target, images=sum(kept))
    return PolygonCalibration(measurement, final, max_points)
