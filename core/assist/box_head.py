"""The box head: names each proposal a project class or background.

A logistic regression on what a crop shows (the embedding the service passes as `Embed`), the
box's size and shape, and how its colour contrasts with the strips beside it. It learns from
the project's human boxes (`LabeledImage`), jittered copies of them, and background proposals
that overlap no human box much; its predictions (`ScoredBox`) are suppressed class-wise so that
parts and overlapping repeats of one object do not reach the labeler. How far to trust its
confidence is measured elsewhere (`shape_calibration`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from core.assist.proposals import MAX_PROPOSALS, Rect, propose, rect_iou, working_copy
from core.domain.annotations import Box
from core.domain.geometry import BoxLike, box_iou

Embed = Callable[[Sequence[Image.Image]], np.ndarray]
"""Features of image crops, one row per crop (the service passes a backbone featurizer)."""

LabeledBox = tuple[str, float, float, float, float]
"""label, x, y, w, h as fractions of the image's width and height."""

BACKGROUND = "\x00background"
"""The head's name for 'no object'; no project class can be called this (a NUL never is)."""
NEGATIVE_IOU = 0.3
"""Proposals overlapping every human box less than this are background examples; those between
this and `shape_calibration.MATCH_IOU` are ambiguous (much of an object) and teach nothing
either way."""
NMS_IOU = 0.3
PART_COVERAGE = 0.8
PART_CONFIDENCE_RATIO = 0.9
"""A box lying ≥ PART_COVERAGE inside a larger box of its class whose confidence is at least
PART_CONFIDENCE_RATIO of its own is taken for a part of that object and dropped."""
CONTEXT = 0.15
"""Width of the strips beside each side of a box, as a share of its size, whose colour is
compared with the box's own."""
_CONTRAST_SIDE = 128
_EDGE_CONTRAST = 100.0
"""The contrast of a side on the image's edge: beyond any colour distance (Lab spans ~100 per
axis, and one side's distance is rarely half that), nothing of the object continues there."""


@dataclass(frozen=True)
class ScoredBox:
    """A suggested box: top-left corner and size as fractions of the image, and the head's
    probability for its class."""

    label: str
    x: float
    y: float
    w: float
    h: float
    confidence: float

    def as_box(self) -> Box:
        """The annotation's Box (confidence travels separately)."""
        return Box(self.label, self.x, self.y, self.w, self.h)

    def to_json(self) -> dict[str, Any]:
        return self.as_box().to_json()


@dataclass(frozen=True)
class LabeledImage:
    """An image and its human boxes (no boxes: the labeler saw no objects)."""

    image: Image.Image
    boxes: tuple[LabeledBox, ...]


# --- crop features ---------------------------------------------------------------------------


def crop(image: Image.Image, box: Rect) -> Image.Image:
    """The pixels under a normalised box (at least one pixel each way)."""
    return image.crop(_pixel_span(box, image.width, image.height))


def _geometry(boxes: Sequence[Rect]) -> npt.NDArray[np.float64]:
    """Shape cues the crop alone loses once the embed resizes it: size and aspect ratio."""
    rows = [(w, h, np.log(max(w, 1e-6) / max(h, 1e-6))) for _, _, w, h in boxes]
    return np.asarray(rows, dtype=np.float64).reshape(len(boxes), 3)


def _features(image: Image.Image, boxes: Sequence[Rect], embed: Embed) -> npt.NDArray[np.float64]:
    rgb = image.convert("RGB")
    crops = [crop(rgb, box) for box in boxes]
    embedded = np.asarray(embed(crops), dtype=np.float64).reshape(len(boxes), -1)
    return np.hstack([embedded, _geometry(boxes), _surround_contrast(rgb, boxes)])


def _surround_contrast(image: Image.Image, boxes: Sequence[Rect]) -> npt.NDArray[np.float64]:
    """How much a box's mean colour differs from the strip just outside each of its sides,
    sorted weakest first. A whole object differs on every side; a part of one (a triangle's
    tip looks like a triangle) or a box straddling two objects does not on at least one side,
    which the crop alone cannot show."""
    lab = cv2.cvtColor(working_copy(image, _CONTRAST_SIDE), cv2.COLOR_RGB2LAB)
    sums = np.asarray(cv2.integral(np.asarray(lab, dtype=np.float64)), dtype=np.float64)
    height, width = lab.shape[:2]
    spans = np.asarray([_pixel_span(box, width, height) for box in boxes], dtype=np.int64)
    x0, y0, x1, y1 = spans.reshape(-1, 4).T
    inside = _region_means(sums, x0, y0, x1, y1)
    mx = np.maximum(1, np.round((x1 - x0) * CONTEXT)).astype(np.int64)
    my = np.maximum(1, np.round((y1 - y0) * CONTEXT)).astype(np.int64)
    strips = (
        (x0 - mx, y0, x0, y1),
        (x1, y0, x1 + mx, y1),
        (x0, y0 - my, x1, y0),
        (x0, y1, x1, y1 + my),
    )
    sides = [_side_contrast(sums, inside, strip) for strip in strips]
    return np.sort(np.stack(sides, axis=1), axis=1).reshape(len(boxes), 4)


_Ints = npt.NDArray[np.int64]


def _pixel_span(box: Rect, width: int, height: int) -> tuple[int, int, int, int]:
    """A normalised box's pixel bounds [x0, x1) × [y0, y1), at least one pixel each way."""
    x, y, w, h = box
    x0 = min(max(round(x * width), 0), width - 1)
    y0 = min(max(round(y * height), 0), height - 1)
    x1 = max(min(round((x + w) * width), width), x0 + 1)
    y1 = max(min(round((y + h) * height), height), y0 + 1)
    return x0, y0, x1, y1


def _region_means(
    sums: npt.NDArray[np.float64], x0: _Ints, y0: _Ints, x1: _Ints, y1: _Ints
) -> npt.NDArray[np.float64]:
    """Mean pixel of each [x0, x1) × [y0, y1), from an integral image (empty ones: zero)."""
    total = sums[y1, x1] - sums[y0, x1] - sums[y1, x0] + sums[y0, x0]
    area = np.maximum((x1 - x0) * (y1 - y0), 1)
    return np.asarray(total / area[:, None], dtype=np.float64)


def _side_contrast(
    sums: npt.NDArray[np.float64],
    inside: npt.NDArray[np.float64],
    strip: tuple[_Ints, _Ints, _Ints, _Ints],
) -> npt.NDArray[np.float64]:
    """Colour distance to a strip beside each box; a side on the image's edge counts as fully
    contrasting (nothing of the object can continue past the frame)."""
    height, width = sums.shape[0] - 1, sums.shape[1] - 1
    x0, y0 = np.clip(strip[0], 0, width), np.clip(strip[1], 0, height)
    x1, y1 = np.clip(strip[2], 0, width), np.clip(strip[3], 0, height)
    distance = np.linalg.norm(inside - _region_means(sums, x0, y0, x1, y1), axis=1)
    return np.where((x1 > x0) & (y1 > y0), distance, _EDGE_CONTRAST)


# --- training examples -----------------------------------------------------------------------


def _jittered(box: Rect, rng: np.random.Generator, copies: int) -> list[Rect]:
    """Shifted and rescaled copies of a human box that still overlap it well (IoU ≳ 0.7): the
    head sees what an imperfect proposal of the object looks like."""
    x, y, w, h = box
    out: list[Rect] = []
    for _ in range(copies):
        dx, dy = rng.uniform(-0.08, 0.08, 2)
        sw, sh = np.exp(rng.uniform(-0.1, 0.1, 2))
        nw, nh = min(w * sw, 1.0), min(h * sh, 1.0)
        nx = min(max(x + dx * w + (w - nw) / 2, 0.0), 1.0 - nw)
        ny = min(max(y + dy * h + (h - nh) / 2, 0.0), 1.0 - nh)
        out.append((float(nx), float(ny), float(nw), float(nh)))
    return out


def _training_boxes(
    sample: LabeledImage,
    proposals: Sequence[Rect],
    rng: np.random.Generator,
    *,
    classes: frozenset[str],
    jitter: int,
    negatives: int,
) -> tuple[list[Rect], list[str]]:
    """Human boxes of `classes` (and jittered copies) with their class, plus background
    proposals that overlap every human box less than NEGATIVE_IOU. A box of another class (one
    since removed from the project) is no example, yet its object is no background either."""
    boxes: list[Rect] = []
    labels: list[str] = []
    truth = [box[1:] for box in sample.boxes]
    for label, *rect in sample.boxes:
        if label not in classes:
            continue
        human: Rect = (rect[0], rect[1], rect[2], rect[3])
        for copy in [human, *_jittered(human, rng, jitter)]:
            boxes.append(copy)
            labels.append(label)
    background = _background_examples(proposals, truth, rng, negatives)
    boxes.extend(background)
    labels.extend([BACKGROUND] * len(background))
    return boxes, labels


def _background_examples(
    proposals: Sequence[Rect], truth: Sequence[Rect], rng: np.random.Generator, count: int
) -> list[Rect]:
    """Up to `count` proposals overlapping every human box less than NEGATIVE_IOU; half of them,
    where there are enough, from those that touch a human box at all. Parts of objects and
    boxes half on one are the background a head most often takes for an object; random ones
    alone rarely include them."""
    touching: list[Rect] = []
    clear: list[Rect] = []
    for proposal in proposals:
        overlap = max((rect_iou(proposal, t) for t in truth), default=0.0)
        if overlap < NEGATIVE_IOU:
            (touching if overlap > 0 else clear).append(proposal)
    hard = _sample(touching, count // 2, rng)
    return hard + _sample(clear, count - len(hard), rng)


def _sample(boxes: Sequence[Rect], count: int, rng: np.random.Generator) -> list[Rect]:
    if len(boxes) <= count:
        return list(boxes)
    picks = rng.choice(len(boxes), size=count, replace=False)
    return [boxes[int(i)] for i in sorted(picks)]


# --- the head --------------------------------------------------------------------------------


@dataclass
class BoxHead:
    """Names each proposal a project class or background: a logistic regression on crop
    embeddings, box size and shape, and surround contrast. Fit it on labeled images first."""

    max_proposals: int = MAX_PROPOSALS
    jitter: int = 2
    """Shifted copies of each human box added as examples of its class."""
    negatives_per_image: int = 16
    nms_iou: float = NMS_IOU
    seed: int = 0
    """Seeds the jitter, the choice of background examples and the folds: same labels, same
    head, same threshold."""
    classes: tuple[str, ...] = ()
    _model: Any = field(default=None, repr=False)

    def fit(self, samples: Sequence[LabeledImage], embed: Embed, classes: Sequence[str]) -> BoxHead:
        proposals = [propose(s.image, max_proposals=self.max_proposals) for s in samples]
        return self.fit_with_proposals(samples, proposals, embed, classes)

    def fit_with_proposals(
        self,
        samples: Sequence[LabeledImage],
        proposals: Sequence[Sequence[Rect]],
        embed: Embed,
        classes: Sequence[str],
    ) -> BoxHead:
        """`fit` with each sample's proposals already computed (calibration reuses them)."""
        self.classes = tuple(classes)
        rng = np.random.default_rng(self.seed)
        rows: list[npt.NDArray[np.float64]] = []
        labels: list[str] = []
        for sample, found in zip(samples, proposals, strict=True):
            boxes, names = _training_boxes(
                sample,
                found,
                rng,
                classes=frozenset(self.classes),
                jitter=self.jitter,
                negatives=self.negatives_per_image,
            )
            if boxes:
                rows.append(_features(sample.image, boxes, embed))
                labels.extend(names)
        self._model = None
        if len(set(labels)) >= 2:  # a classifier needs two outcomes to tell apart
            model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.5))
            self._model = model.fit(np.vstack(rows), np.asarray(labels))
        return self

    def fresh(self) -> BoxHead:
        """An unfitted head with the same settings."""
        return BoxHead(
            self.max_proposals, self.jitter, self.negatives_per_image, self.nms_iou, self.seed
        )

    @property
    def fitted(self) -> bool:
        return self._model is not None

    def predict(
        self, image: Image.Image, embed: Embed, *, min_confidence: float = 0.0
    ) -> list[ScoredBox]:
        proposals = propose(image, max_proposals=self.max_proposals)
        return self.predict_with_proposals(image, proposals, embed, min_confidence=min_confidence)

    def predict_with_proposals(
        self,
        image: Image.Image,
        proposals: Sequence[Rect],
        embed: Embed,
        *,
        min_confidence: float = 0.0,
    ) -> list[ScoredBox]:
        """Proposals named by the head, background dropped, overlaps of one class suppressed,
        then those below `min_confidence` dropped; most confident first. (Suppressing first
        keeps a threshold from changing which boxes survive, so calibration's held-out boxes
        are the ones later suggested.)"""
        if self._model is None or not proposals:
            return []
        probabilities = self._model.predict_proba(_features(image, proposals, embed))
        names = [str(name) for name in self._model.classes_]
        best = probabilities.argmax(axis=1)
        scored = [
            ScoredBox(names[int(k)], *box, confidence=float(probabilities[i, k]))
            for i, (box, k) in enumerate(zip(proposals, best, strict=True))
            if names[int(k)] != BACKGROUND
        ]
        kept = suppress_overlaps(scored, self.nms_iou)
        return [box for box in kept if box.confidence >= min_confidence]


def suppress_overlaps(boxes: Sequence[ScoredBox], threshold: float) -> list[ScoredBox]:
    """Class-wise suppression: drop parts of a larger box of the same class, then keep a box
    unless a more confident box of its class overlaps it by IoU > threshold."""
    whole = [box for box in boxes if not _is_part(box, boxes)]
    kept: list[ScoredBox] = []
    for box in sorted(whole, key=lambda b: -b.confidence):
        if all(other.label != box.label or box_iou(other, box) <= threshold for other in kept):
            kept.append(box)
    return kept


def _is_part(box: ScoredBox, others: Sequence[ScoredBox]) -> bool:
    """Whether a larger box of its class, not much less confident, covers most of it. Objects
    of one class seldom nest, while a segmentation that splits an object (a shaded face, a thin
    tip lost to smoothing) yields confident boxes on its parts."""
    area = box.w * box.h
    for other in others:
        if other is box or other.label != box.label or other.w * other.h <= area:
            continue
        if other.confidence < PART_CONFIDENCE_RATIO * box.confidence:
            continue
        if _intersection(box, other) >= PART_COVERAGE * area:
            return True
    return False


def _intersection(a: BoxLike, b: BoxLike) -> float:
    overlap_w = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    overlap_h = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    return max(overlap_w, 0.0) * max(overlap_h, 0.0)
