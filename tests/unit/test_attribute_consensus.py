"""Consensus on attributes: among the answers that agree on the class, each attribute takes the
value a strict majority gave (unset is a vote); a tie is a disagreement; an answer whose
attributes differ from the consensus does not count as agreeing."""

from __future__ import annotations

from core.domain.annotations import Box, BoxSet, MultiLabel, SingleLabel, Span, SpanSet
from core.domain.attributes import AttributeValues
from core.domain.consensus import Verdict, decide
from core.domain.task_types import TaskType

MC, ML = TaskType.IMAGE_MULTICLASS, TaskType.TEXT_MULTILABEL
BOXES, NER = TaskType.IMAGE_BOUNDING_BOX, TaskType.TEXT_NER


def values(**given: bool | int | float | str) -> AttributeValues | None:
    return AttributeValues(given) if given else None


def car(**given: bool | int | float | str) -> Box:
    return Box("car", 0.25, 0.25, 0.5, 0.5, values(**given))


def test_matched_boxes_take_each_attributes_majority() -> None:
    answers = [
        BoxSet((car(occluded=True, color="red"),)),
        BoxSet((car(occluded=True),)),
        BoxSet((car(occluded=False, color="red"),)),
    ]
    out = decide(BOXES, answers, min_labelers=3, max_labelers=3)
    assert out.verdict is Verdict.AGREED
    assert out.final == BoxSet((car(occluded=True, color="red"),))
    assert out.agreed == (True, False, False)


def test_a_tie_on_an_attribute_is_a_disagreement() -> None:
    answers = [BoxSet((car(occluded=True),)), BoxSet((car(occluded=False),))]
    assert decide(BOXES, answers, min_labelers=2, max_labelers=3).verdict is Verdict.PENDING
    out = decide(BOXES, answers, min_labelers=2, max_labelers=2)
    assert out.verdict is Verdict.DISAGREED and out.agreed == (False, False)


def test_a_value_only_a_minority_set_is_dropped_and_true_is_not_1() -> None:
    answers = [BoxSet((car(doors=1),)), BoxSet((car(doors=True),)), BoxSet((car(),))]
    out = decide(BOXES, answers, min_labelers=3, max_labelers=3)
    assert out.verdict is Verdict.DISAGREED  # 1, true and unset: no strict majority
    answers[1] = BoxSet((car(),))
    assert decide(BOXES, answers, min_labelers=3, max_labelers=3).final == BoxSet((car(),))


def test_only_the_answers_with_the_winning_class_vote() -> None:
    answers = [
        SingleLabel("car", values(color="red")),
        SingleLabel("car", values(color="red")),
        SingleLabel("tree", values(color="blue")),
    ]
    out = decide(MC, answers, min_labelers=3, max_labelers=3)
    assert out.final == SingleLabel("car", values(color="red"))
    assert out.agreed == (True, True, False)
    split = [SingleLabel("car", values(color="red")), SingleLabel("car", values(color="blue"))]
    assert decide(MC, split, min_labelers=2, max_labelers=2).verdict is Verdict.DISAGREED


def test_multilabel_and_spans_follow_the_same_rule() -> None:
    answers = [
        MultiLabel(("a", "b"), values(mood="calm")),
        MultiLabel(("a", "b"), values(mood="calm")),
        MultiLabel(("a",)),
    ]
    out = decide(ML, answers, min_labelers=3, max_labelers=3)
    assert out.final == MultiLabel(("a", "b"), values(mood="calm"))
    spans = [
        SpanSet((Span("PER", 0, 3, values(role="author")),)),
        SpanSet((Span("PER", 0, 3, values(role="author")),)),
    ]
    assert decide(NER, spans, min_labelers=2, max_labelers=2).final == spans[0]


def test_answers_without_attributes_decide_as_before() -> None:
    answers = [BoxSet((car(),)), BoxSet((car(),))]
    out = decide(BOXES, answers, min_labelers=2, max_labelers=2)
    assert out.final == BoxSet((car(),)) and out.final.boxes[0].attributes is None  # type: ignore[union-attr]
