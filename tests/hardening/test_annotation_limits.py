"""Regression: answers of any size were accepted; one of 100,000 polygons took 30 s to check
and made an item document of 6 MB, past Cosmos DB's 2 MB limit. Now bounded, and refused
before the shapes are checked (masks: their number and their run lengths' characters, before
any run is decoded)."""

from __future__ import annotations

import time

import pytest

from core.domain.annotations import MAX_POINTS, MAX_SHAPES, validate_annotation
from core.domain.errors import InvalidAnnotation
from core.domain.keypoints import KeypointTemplate
from core.domain.masks import MAX_MASK_CHARS, encode_counts
from core.domain.task_types import TaskType

BOX = {"label": "cat", "x": 0.1, "y": 0.1, "w": 0.1, "h": 0.1}
TRIANGLE = {"label": "cat", "points": [[0.1, 0.1], [0.2, 0.1], [0.2, 0.2]]}


def spans(count: int) -> list[dict[str, object]]:
    return [{"label": "cat", "start": n, "end": n + 1} for n in range(count)]


def pixels(count: int) -> dict[str, object]:
    """`count` masks of one pixel each, on a grid just large enough."""
    side = int((count + 1) ** 0.5) + 1
    size, total = [side, side], side * side
    return {
        "masks": [
            {"label": "cat", "size": size, "counts": encode_counts([n, 1, total - n - 1])}
            for n in range(count)
        ]
    }


def runs(chars: int) -> dict[str, object]:
    """One mask of alternating one-pixel runs whose counts take `chars` characters (1, 1, 1,
    then deltas of 0), on a 300 x 400 grid: exactly covered at the limit."""
    return {"masks": [{"label": "cat", "size": [300, 400], "counts": "111" + "0" * (chars - 3)}]}


CASES = [
    (TaskType.IMAGE_BOUNDING_BOX, "boxes", lambda n: {"boxes": [BOX] * n}, MAX_SHAPES),
    (TaskType.IMAGE_POLYGON, "polygons", lambda n: {"polygons": [TRIANGLE] * n}, MAX_SHAPES),
    (TaskType.TEXT_NER, "spans", lambda n: {"spans": spans(n)}, MAX_SHAPES),
    (
        TaskType.IMAGE_POLYGON,
        "polygons",
        lambda n: {"polygons": [{"label": "cat", "points": TRIANGLE["points"] * (n // 3)}]},
        MAX_POINTS - MAX_POINTS % 3,
    ),
    (TaskType.IMAGE_INSTANCE_SEGMENTATION, "masks", pixels, MAX_SHAPES),
    (TaskType.IMAGE_SEMANTIC_SEGMENTATION, "masks", runs, MAX_MASK_CHARS),
]


@pytest.mark.parametrize(("task", "field", "make", "limit"), CASES)
def test_an_answer_at_the_limit_passes_and_one_past_it_is_refused(
    task: TaskType, field: str, make: object, limit: int
) -> None:
    assert callable(make)
    extra = 3 if field == "polygons" and limit != MAX_SHAPES else 1
    validate_annotation(task, make(limit), label_names=["cat"], text_length=limit + 10)
    started = time.perf_counter()
    with pytest.raises(InvalidAnnotation) as refused:
        validate_annotation(task, make(limit * 100 + extra), label_names=["cat"], text_length=10**6)
    assert time.perf_counter() - started < 1.0  # refused without checking every shape
    (violation,) = refused.value.violations
    assert violation.field == field and "at most" in violation.rule


def test_keypoint_answers_are_bounded_by_points_before_any_is_checked() -> None:
    template = KeypointTemplate(points=[f"p{k}" for k in range(10)])
    point = {"x": 0.5, "y": 0.5, "v": 2}

    def instances(count: int) -> dict[str, object]:
        return {"keypoints": [{"label": "cat", "points": [point] * 10}] * count}

    def check(raw: object) -> None:
        validate_annotation(
            TaskType.IMAGE_KEYPOINTS, raw, label_names=["cat"], templates={"cat": template}
        )

    check(instances(MAX_POINTS // 10))
    started = time.perf_counter()
    with pytest.raises(InvalidAnnotation) as refused:
        check(instances(MAX_POINTS * 10))
    assert time.perf_counter() - started < 1.0
    (violation,) = refused.value.violations
    assert violation.field == "keypoints" and f"at most {MAX_POINTS:,}" in violation.rule
