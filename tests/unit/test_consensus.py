from __future__ import annotations

import pytest

from core.domain.annotation_json import read_value
from core.domain.annotations import (
    Box,
    BoxSet,
    MultiLabel,
    Polygon,
    PolygonSet,
    SingleLabel,
    Span,
    SpanSet,
)
from core.domain.consensus import Verdict, decide
from core.domain.task_types import TaskType

MC, ML = TaskType.IMAGE_MULTICLASS, TaskType.TEXT_MULTILABEL
BOXES, POLYS, NER = TaskType.IMAGE_BOUNDING_BOX, TaskType.IMAGE_POLYGON, TaskType.TEXT_NER


def square(label: str, x: float, y: float, size: float = 0.2) -> Polygon:
    return Polygon(label, ((x, y), (x + size, y), (x + size, y + size), (x, y + size)))


def test_pending_until_min_labelers_and_a_single_answer_decides_alone() -> None:
    assert decide(MC, [SingleLabel("cat")], min_labelers=2, max_labelers=3).verdict is (
        Verdict.PENDING
    )
    alone = decide(MC, [SingleLabel("cat")], min_labelers=1, max_labelers=1)
    assert alone.verdict is Verdict.AGREED and alone.final == SingleLabel("cat")
    assert alone.agreed is None


def test_classes_go_by_strict_majority() -> None:
    split = [SingleLabel("cat"), SingleLabel("dog")]
    assert decide(MC, split, min_labelers=2, max_labelers=3).verdict is Verdict.PENDING
    out = decide(MC, split, min_labelers=2, max_labelers=2)
    assert out.verdict is Verdict.DISAGREED and out.agreed == (False, False)
    three = decide(MC, [*split, SingleLabel("cat")], min_labelers=2, max_labelers=3)
    assert three.final == SingleLabel("cat") and three.agreed == (True, False, True)


def test_multilabel_keeps_each_class_a_majority_chose() -> None:
    answers = [MultiLabel(("a", "b")), MultiLabel(("a",)), MultiLabel(("a", "b", "c"))]
    out = decide(ML, answers, min_labelers=3, max_labelers=3)
    assert out.final == MultiLabel(("a", "b")) and out.agreed == (True, False, False)
    tie = decide(ML, answers[:2], min_labelers=2, max_labelers=2)
    assert tie.verdict is Verdict.DISAGREED  # 'b' chosen by exactly half


def test_boxes_match_by_iou_and_take_the_majority_label() -> None:
    a = BoxSet((Box("car", 0.1, 0.1, 0.4, 0.4), Box("dog", 0.6, 0.6, 0.2, 0.2)))
    b = BoxSet((Box("car", 0.12, 0.1, 0.4, 0.4),))  # missed the dog
    c = BoxSet((Box("car", 0.1, 0.12, 0.4, 0.4), Box("dog", 0.61, 0.6, 0.2, 0.2)))
    out = decide(BOXES, [a, b, c], min_labelers=3, max_labelers=3)
    assert out.verdict is Verdict.AGREED and out.agreed == (True, False, True)
    assert isinstance(out.final, BoxSet)
    car, dog = out.final.boxes
    assert car.label == "car" and car.x == pytest.approx((0.1 + 0.12 + 0.1) / 3)
    assert dog.label == "dog" and dog.x == pytest.approx(0.605)


def test_a_shape_whose_label_has_no_majority_is_a_disagreement() -> None:
    a = BoxSet((Box("dog", 0.6, 0.6, 0.2, 0.2),))
    b = BoxSet((Box("cat", 0.6, 0.6, 0.2, 0.2),))
    c = BoxSet((Box("fox", 0.6, 0.6, 0.2, 0.2),))
    assert decide(BOXES, [a, b, c], min_labelers=3, max_labelers=3).verdict is (Verdict.DISAGREED)


def test_boxes_far_apart_do_not_match() -> None:
    a = BoxSet((Box("car", 0.0, 0.0, 0.2, 0.2),))
    b = BoxSet((Box("car", 0.5, 0.5, 0.2, 0.2),))
    out = decide(BOXES, [a, b], min_labelers=2, max_labelers=2)
    assert out.verdict is Verdict.DISAGREED and out.agreed == (False, False)


def test_nobody_seeing_anything_is_agreement() -> None:
    out = decide(BOXES, [BoxSet(()), BoxSet(())], min_labelers=2, max_labelers=2)
    assert out.final == BoxSet(()) and out.agreed == (True, True)


def test_polygons_match_by_polygon_iou_and_keep_the_medoid() -> None:
    answers = [
        PolygonSet((square("cell", 0.1, 0.1),)),
        PolygonSet((square("cell", 0.11, 0.1),)),
        PolygonSet((square("cell", 0.6, 0.6),)),
    ]
    out = decide(POLYS, answers, min_labelers=3, max_labelers=3)
    assert out.verdict is Verdict.AGREED and out.agreed == (True, True, False)
    assert isinstance(out.final, PolygonSet) and len(out.final.polygons) == 1


def test_spans_must_match_exactly() -> None:
    one = SpanSet((Span("PER", 0, 3),))
    off_by_one = SpanSet((Span("PER", 0, 4),))
    assert decide(NER, [one, off_by_one], min_labelers=2, max_labelers=2).verdict is (
        Verdict.DISAGREED
    )
    same = decide(NER, [one, SpanSet((Span("PER", 0, 3),))], min_labelers=2, max_labelers=2)
    assert same.final == one


def test_stored_values_read_back() -> None:
    value = PolygonSet((square("cell", 0.1, 0.1),))
    assert read_value(value.to_json()) == value
    assert read_value(SpanSet((Span("PER", 0, 3),)).to_json()) == SpanSet((Span("PER", 0, 3),))
