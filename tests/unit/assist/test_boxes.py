from __future__ import annotations

import pytest

from core.assist.box_head import LabeledImage, ScoredBox, suppress_overlaps
from core.assist.boxes import BoxCalibration, calibrate, match
from core.assist.proposals import propose, rect_iou
from core.assist.shape_calibration import HeldOutDecision, measure
from core.domain.annotations import BoxSet, validate_annotation
from core.domain.task_types import TaskType
from tests.unit.assist.scenes import CLASSES, cheap_embed, one_blas_thread, scenes

TARGET = 0.9

_one_blas_thread = pytest.fixture(scope="module", autouse=True)(one_blas_thread)


@pytest.fixture(scope="module")
def labeled() -> list[LabeledImage]:
    return [s.labeled() for s in scenes(60, seed=1)]


@pytest.fixture(scope="module")
def fresh() -> list[LabeledImage]:
    """Images no head saw, labeled by the same hand: where the promise is checked."""
    return [s.labeled() for s in scenes(40, seed=2)]


@pytest.fixture(scope="module")
def calibration(labeled: list[LabeledImage]) -> BoxCalibration:
    return calibrate(labeled, cheap_embed, CLASSES, target=TARGET)


def recall_of_proposals(samples: list[LabeledImage]) -> float:
    found = total = 0
    for sample in samples:
        proposals = propose(sample.image)
        for _, *box in sample.boxes:
            total += 1
            found += any(rect_iou(p, (box[0], box[1], box[2], box[3])) >= 0.5 for p in proposals)
    return found / total


def test_proposals_cover_the_labeled_boxes(labeled: list[LabeledImage]) -> None:
    recall = recall_of_proposals(labeled)
    assert recall >= 0.9, f"proposal recall at IoU 0.5 is {recall:.3f}"


def test_proposals_are_normalised_deduplicated_and_capped(labeled: list[LabeledImage]) -> None:
    proposals = propose(labeled[0].image, max_proposals=25)
    assert 0 < len(proposals) <= 25
    for x, y, w, h in proposals:
        assert min(x, y) >= 0 and w > 0 and h > 0
        assert x + w <= 1 + 1e-9 and y + h <= 1 + 1e-9
    assert all(rect_iou(a, b) < 0.85 for i, a in enumerate(proposals) for b in proposals[i + 1 :])


def test_calibrated_suggestions_meet_the_target_on_fresh_images(
    calibration: BoxCalibration, fresh: list[LabeledImage]
) -> None:
    assert calibration.threshold is not None, calibration.reason
    measured = calibration.measurement.measured
    assert measured is not None and measured.lower_bound >= TARGET
    assert calibration.precision is not None and calibration.precision >= TARGET
    correct = suggested = labeled = 0
    for sample in fresh:
        suggestions = calibration.suggest(sample.image, cheap_embed)
        assert all(s.confidence >= calibration.threshold for s in suggestions)
        hits = match(suggestions, sample.boxes)
        correct += sum(hits)
        suggested += len(hits)
        labeled += len(sample.boxes)
    precision, coverage = correct / suggested, correct / labeled
    assert precision >= TARGET, f"fresh precision {precision:.3f} of {suggested} suggestions"
    assert coverage >= 0.7, f"fresh recall {coverage:.3f} of {labeled} boxes"


def test_calibration_reports_per_class_counts(
    calibration: BoxCalibration, labeled: list[LabeledImage]
) -> None:
    assert set(calibration.per_class) == set(CLASSES)
    assert sum(c.labeled for c in calibration.per_class.values()) == sum(
        len(s.boxes) for s in labeled
    )
    assert calibration.measurement.images == len(labeled)
    for counts in calibration.per_class.values():
        assert 0 <= counts.correct <= min(counts.suggested, counts.labeled)
    found = sum(c.correct for c in calibration.per_class.values())
    assert calibration.recall == pytest.approx(found / calibration.measurement.shapes)


def test_suggestions_are_valid_box_annotations(
    calibration: BoxCalibration, fresh: list[LabeledImage]
) -> None:
    suggestions = calibration.suggest(fresh[0].image, cheap_embed)
    assert suggestions
    # The threshold only cuts: it never changes which boxes survive suppression.
    assert calibration.head is not None and calibration.threshold is not None
    predicted = calibration.head.predict(fresh[0].image, cheap_embed)
    assert suggestions == [p for p in predicted if p.confidence >= calibration.threshold]
    raw = {"boxes": [s.to_json() for s in suggestions]}
    value = validate_annotation(TaskType.IMAGE_BOUNDING_BOX, raw, label_names=CLASSES)
    assert isinstance(value, BoxSet) and value.to_json() == raw


def box(label: str, x: float, y: float, w: float, h: float, confidence: float) -> ScoredBox:
    return ScoredBox(label, x, y, w, h, confidence)


def test_match_needs_the_class_and_half_overlap() -> None:
    truth = [("disc", 0.25, 0.25, 0.5, 0.5)]
    assert match([], truth) == []
    assert match([box("disc", 0.25, 0.25, 0.5, 0.5, 0.9)], []) == [False]
    assert match([box("square", 0.25, 0.25, 0.5, 0.5, 0.9)], truth) == [False]
    # Half the width: IoU exactly 0.5 counts, a hair less does not.
    assert match([box("disc", 0.25, 0.25, 0.25, 0.5, 0.9)], truth) == [True]
    assert match([box("disc", 0.25, 0.25, 0.2499, 0.5, 0.9)], truth) == [False]
    assert match([box("disc", 0.25, 0.25, 0.25, 0.5, 0.9)], truth, iou=0.6) == [False]


def test_match_takes_each_human_box_once_most_confident_first() -> None:
    truth = [("disc", 0.1, 0.1, 0.2, 0.2)]
    weak = box("disc", 0.1, 0.1, 0.2, 0.2, 0.6)  # a perfect fit, but less confident
    strong = box("disc", 0.12, 0.12, 0.2, 0.2, 0.9)
    assert match([weak, strong], truth) == [False, True]
    twins = [("disc", 0.1, 0.1, 0.2, 0.2), ("disc", 0.12, 0.1, 0.2, 0.2)]
    # Each prediction takes the best overlap still free: both find a human box.
    assert match([weak, strong], twins) == [True, True]


def test_overlap_suppression_keeps_whole_objects() -> None:
    whole = box("triangle", 0.2, 0.2, 0.4, 0.4, 0.95)
    tip = box("triangle", 0.3, 0.2, 0.2, 0.2, 0.97)  # a part, a little more confident
    shifted = box("triangle", 0.22, 0.22, 0.4, 0.4, 0.9)
    other_class = box("square", 0.22, 0.22, 0.4, 0.4, 0.5)
    kept = suppress_overlaps([tip, whole, shifted, other_class], 0.3)
    assert kept == [whole, other_class]


def test_too_few_labels_give_a_reason_and_no_suggestions(labeled: list[LabeledImage]) -> None:
    few = calibrate(labeled[:5], cheap_embed, CLASSES, target=TARGET)
    assert few.threshold is None and few.head is None
    assert few.reason is not None and "5 labeled images" in few.reason
    assert few.suggest(labeled[0].image, cheap_embed) == []
    unboxed = [LabeledImage(s.image, ()) for s in labeled[:12]]
    empty = calibrate(unboxed, cheap_embed, CLASSES, target=TARGET)
    assert empty.reason is not None and "0 labeled shapes" in empty.reason


def test_an_unreachable_target_gives_a_reason() -> None:
    # 40 held-out predictions, 36 correct: 90 % cannot be told from 85 % on so few.
    decisions = [HeldOutDecision("disc", 1 - i / 100, i % 10 != 9) for i in range(40)]
    result = measure(decisions, ["disc"] * 45, CLASSES, target=0.9, images=20)
    assert result.threshold is None and result.measured is None
    assert result.reason is not None and "no confidence threshold" in result.reason
    reachable = measure(decisions, ["disc"] * 45, CLASSES, target=0.7, images=20)
    assert reachable.measured is not None and reachable.precision is not None
    assert reachable.threshold == reachable.measured.confidence
    assert reachable.per_class["disc"].suggested == reachable.measured.support
