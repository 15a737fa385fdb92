"""Bounding-box pre-labels learned from the project's own boxes.

Class-agnostic proposals come from classic OpenCV segmentation (`proposals`); a
logistic-regression head on crop embeddings names each proposal a class or background
(`box_head`). Its confidence threshold is measured, never guessed (`shape_calibration`):
out-of-fold by image, a held-out prediction counts as correct when it overlaps an unmatched
human box of its class with IoU ≥ 0.5 (`match`), and `pick_threshold` takes the lowest
confidence whose Wilson lower bound on precision reaches the target (DESIGN §8). This module
holds what a box project's assist uses: `calibrate` and the `BoxCalibration` it yields."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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
from core.domain.annotations import Box
from core.domain.geometry import box_iou


def match(
    predicted: Sequence[ScoredBox], truth: Sequence[LabeledBox], iou: float = MATCH_IOU
) -> list[bool]:
    """For each predicted box (in the order given), whether it is correct: a human box of its
    class overlaps it with IoU ≥ `iou` and no more confident prediction took that box first."""
    truth_boxes = [Box(*box) for box in truth]
    return greedy_match(
        [(p.label, p.confidence) for p in predicted],
        [box[0] for box in truth],
        lambda i, j: box_iou(predicted[i], truth_boxes[j]),
        iou,
    )


@dataclass(frozen=True)
class BoxCalibration(Measured):
    """The measured threshold and the head fitted on every labeled image (None when there were
    too few labels to measure anything)."""

    measurement: Measurement
    head: BoxHead | None

    def suggest(self, image: Image.Image, embed: Embed) -> list[ScoredBox]:
        """Boxes confident enough to pre-label with; none without a measured threshold."""
        if self.head is None or self.threshold is None:
            return []
        return self.head.predict(image, embed, min_confidence=self.threshold)


def calibrate(
    samples: Sequence[LabeledImage],
    embed: Embed,
    classes: Sequence[str],
    *,
    target: float,
    folds: int = 5,
    head: BoxHead | None = None,
    calibration: Sequence[bool] | None = None,
) -> BoxCalibration:
    """Out-of-fold by image: train on the other folds, predict the held-out images, mark each
    prediction with `match`, and pick the threshold with `pick_threshold`. Every image trains;
    only those flagged in `calibration` (None: all) measure the threshold."""
    template = head or BoxHead()
    truth_labels = [box[0] for s in samples for box in s.boxes]
    shortage = too_few_labels(len(samples), len(truth_labels))
    if shortage:
        measurement = unmeasured(shortage, classes, truth_labels, images=len(samples))
        return BoxCalibration(measurement, None)
    predictions, final = cross_fit(samples, embed, classes, folds=folds, head=template)
    kept = [True] * len(samples) if calibration is None else list(calibration)
    decisions = [
        HeldOutDecision(p.label, p.confidence, hit)
        for sample, predicted, keep in zip(samples, predictions, kept, strict=True)
        if keep
        for p, hit in zip(predicted, match(predicted, sample.boxes), strict=True)
    ]
    truth = [box[0] for s, keep in zip(samples, kept, strict=True) if keep for box in s.boxes]
    measurement = measure(decisions, truth, classes, target=target, images=sum(kept))
    return BoxCalibration(measurement, final)
