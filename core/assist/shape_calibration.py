"""Measuring a shape head's threshold out-of-fold by image, for boxes, polygons and masks alike.

Each image's predictions come from a head trained on the other folds only (`cross_fit`); a
held-out prediction counts as correct when it overlaps an unmatched human shape of its class at
least MATCH_IOU (`greedy_match`, with whatever overlap the shape calls for), and `measure` takes
the lowest confidence whose Wilson lower bound on precision reaches the target (DESIGN §8).
`boxes`, `polygons` and `masks` differ only in how they turn predictions into held-out
decisions; a semantic mask's class region, which grows as the threshold comes down, is measured
by `measure_regions`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from core.assist.box_head import BoxHead, Embed, LabeledImage, ScoredBox
from core.assist.calibration import Threshold, pick_threshold, wilson_lower_bound
from core.assist.proposals import propose

MATCH_IOU = 0.5
"""A prediction is correct when it overlaps a human shape of its class at least this much."""
MIN_IMAGES = 10
MIN_BOXES = 20
"""Fewer labels than these cannot measure a precision worth a threshold."""


def greedy_match(
    predicted: Sequence[tuple[str, float]],
    truth_labels: Sequence[str],
    overlap: Callable[[int, int], float],
    threshold: float,
) -> list[bool]:
    """Which predictions (label, confidence) find a human shape: most confident first, each
    takes the best-overlapping unmatched human shape of its class with overlap ≥ threshold."""
    order = sorted(range(len(predicted)), key=lambda i: -predicted[i][1])
    taken: set[int] = set()
    hits = [False] * len(predicted)
    for i in order:
        best, best_overlap = -1, -1.0
        for j, label in enumerate(truth_labels):
            if j in taken or label != predicted[i][0]:
                continue
            value = overlap(i, j)
            if value >= threshold and value > best_overlap:
                best, best_overlap = j, value
        if best >= 0:
            taken.add(best)
            hits[i] = True
    return hits


@dataclass(frozen=True)
class ClassCounts:
    labeled: int
    """Human shapes of this class."""
    suggested: int
    """Held-out suggestions of this class at or above the threshold."""
    correct: int
    """Of those, how many matched a human shape."""


@dataclass(frozen=True)
class HeldOutDecision:
    """One prediction on an image its head never saw."""

    label: str
    confidence: float
    correct: bool


@dataclass(frozen=True)
class Measurement:
    """What held-out human labels say about a shape head at one threshold."""

    threshold: float | None
    """Suggest a shape when its confidence is at least this; None: suggest nothing."""
    reason: str | None
    """Why there is no threshold (for people), when there is none."""
    measured: Threshold | None
    """Held-out precision, its lower bound, support and coverage at the threshold."""
    recall: float
    """Share of human shapes a held-out suggestion at or above the threshold found."""
    per_class: dict[str, ClassCounts]
    images: int
    shapes: int

    @property
    def precision(self) -> float | None:
        return self.measured.precision if self.measured else None


def too_few_labels(images: int, shapes: int) -> str | None:
    """Why so few labels cannot be calibrated on, or None when they can."""
    if images < MIN_IMAGES:
        return f"only {images} labeled images; calibration needs at least {MIN_IMAGES}"
    if shapes < MIN_BOXES:
        return f"only {shapes} labeled shapes; calibration needs at least {MIN_BOXES}"
    return None


def fold_of_each(count: int, folds: int, seed: int) -> npt.NDArray[np.int64]:
    """A fold number per image: shuffled, then dealt round-robin so folds differ by at most
    one image."""
    order = np.random.default_rng(seed).permutation(count)
    assignment = np.empty(count, dtype=np.int64)
    assignment[order] = np.arange(count) % folds
    return assignment


def cross_fit(
    samples: Sequence[LabeledImage],
    embed: Embed,
    classes: Sequence[str],
    *,
    folds: int,
    head: BoxHead,
    min_confidence: float = 0.0,
) -> tuple[list[list[ScoredBox]], BoxHead]:
    """Each image's predictions from a head trained on the other folds only (at least
    `min_confidence`), and a head trained on every image. Proposals are found once per image."""
    if folds < 2:
        raise ValueError(f"out-of-fold predictions need at least 2 folds, not {folds}")
    proposals = [propose(s.image, max_proposals=head.max_proposals) for s in samples]
    assignment = fold_of_each(len(samples), min(folds, len(samples)), head.seed)
    predictions: list[list[ScoredBox]] = [[] for _ in samples]
    for fold in np.unique(assignment):
        train = [i for i in range(len(samples)) if assignment[i] != fold]
        fold_head = head.fresh().fit_with_proposals(
            [samples[i] for i in train], [proposals[i] for i in train], embed, classes
        )
        for i in np.flatnonzero(assignment == fold):
            predictions[int(i)] = fold_head.predict_with_proposals(
                samples[int(i)].image, proposals[int(i)], embed, min_confidence=min_confidence
            )
    final = head.fresh().fit_with_proposals(samples, proposals, embed, classes)
    return predictions, final


def measure(
    decisions: Sequence[HeldOutDecision],
    truth_labels: Sequence[str],
    classes: Sequence[str],
    *,
    target: float,
    images: int,
) -> Measurement:
    """The threshold for `target` precision and what it yields, overall and per class."""
    chosen = pick_threshold(
        [d.confidence for d in decisions], [d.correct for d in decisions], target
    )
    cut = chosen.confidence if chosen else np.inf
    kept = [d for d in decisions if d.confidence >= cut]
    return _measurement(chosen, kept, decisions, truth_labels, classes, target, images)


@dataclass(frozen=True)
class GrowingRegion:
    """One class's region on one held-out image (semantic segmentation), joined from the parts
    at or above the threshold: lowering the threshold only adds parts. `confidences` are the
    parts', most confident first; `correct[k]` says whether the region of the first k + 1 parts
    matches the human region of its class."""

    label: str
    confidences: tuple[float, ...]
    correct: tuple[bool, ...]

    def at(self, threshold: float) -> HeldOutDecision | None:
        """The region as suggested at `threshold` (None: no part reaches it)."""
        parts = sum(1 for c in self.confidences if c >= threshold)
        if not parts:
            return None
        return HeldOutDecision(self.label, self.confidences[parts - 1], self.correct[parts - 1])


def measure_regions(
    regions: Sequence[GrowingRegion],
    truth_labels: Sequence[str],
    classes: Sequence[str],
    *,
    target: float,
    images: int,
) -> Measurement:
    """`measure` for regions that grow as the threshold comes down: at each candidate threshold
    every region is judged as joined there, and the lowest threshold whose Wilson lower bound
    on precision reaches the target is taken (as `pick_threshold` takes it)."""
    candidates = sorted({c for r in regions for c in r.confidences}, reverse=True)
    every = _decisions_at(regions, candidates[-1]) if candidates else []
    chosen: Threshold | None = None
    kept: list[HeldOutDecision] = []
    for cut in candidates:
        decisions = _decisions_at(regions, cut)
        right = sum(d.correct for d in decisions)
        bound = wilson_lower_bound(right, len(decisions))
        if bound >= target:
            share = len(decisions) / len(every)
            chosen = Threshold(cut, right / len(decisions), bound, len(decisions), share)
            kept = decisions
    return _measurement(chosen, kept, every, truth_labels, classes, target, images)


def _decisions_at(regions: Sequence[GrowingRegion], cut: float) -> list[HeldOutDecision]:
    return [d for r in regions if (d := r.at(cut)) is not None]


def _measurement(
    chosen: Threshold | None,
    kept: Sequence[HeldOutDecision],
    decisions: Sequence[HeldOutDecision],
    truth_labels: Sequence[str],
    classes: Sequence[str],
    target: float,
    images: int,
) -> Measurement:
    """What the `kept` decisions (those at or above the chosen threshold) yield, overall and
    per class; `decisions` are all the held-out ones, for the reason when none is chosen."""
    labeled = Counter(truth_labels)
    per_class = {
        name: ClassCounts(
            labeled=labeled[name],
            suggested=sum(d.label == name for d in kept),
            correct=sum(d.label == name and d.correct for d in kept),
        )
        for name in classes
    }
    found = sum(d.correct for d in kept)
    reason = None
    if chosen is None:
        reason = (
            f"no confidence threshold reaches a precision of {target:.0%} with 97.5 % certainty "
            f"on {len(decisions)} held-out predictions ({sum(d.correct for d in decisions)} "
            "correct); label more images"
        )
    return Measurement(
        threshold=chosen.confidence if chosen else None,
        reason=reason,
        measured=chosen,
        recall=found / len(truth_labels) if truth_labels else 0.0,
        per_class=per_class,
        images=images,
        shapes=len(truth_labels),
    )


def unmeasured(
    reason: str, classes: Sequence[str], truth_labels: Sequence[str], *, images: int
) -> Measurement:
    labeled = Counter(truth_labels)
    return Measurement(
        threshold=None,
        reason=reason,
        measured=None,
        recall=0.0,
        per_class={name: ClassCounts(labeled[name], 0, 0) for name in classes},
        images=images,
        shapes=len(truth_labels),
    )


class Measured:
    """Shortcuts to a calibration's measurement."""

    measurement: Measurement

    @property
    def threshold(self) -> float | None:
        return self.measurement.threshold

    @property
    def reason(self) -> str | None:
        return self.measurement.reason

    @property
    def precision(self) -> float | None:
        """Held-out precision at the threshold."""
        return self.measurement.precision

    @property
    def recall(self) -> float:
        """Held-out share of human shapes found at the threshold."""
        return self.measurement.recall

    @property
    def per_class(self) -> dict[str, ClassCounts]:
        return self.measurement.per_class
