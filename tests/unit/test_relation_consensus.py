"""Consensus on relations: kept when a strict majority drew the same relation between spans the
majority agreed on; dropped when a minority drew it; an even split goes on to more labelers."""

from __future__ import annotations

from core.domain.annotations import Relation, Span, SpanSet
from core.domain.consensus import Verdict, agreement, decide
from core.domain.relations import RelationClass
from core.domain.task_types import TaskType

ADA, CHARLES, LONDON = Span("PER", 0, 12), Span("PER", 18, 33), Span("LOC", 37, 43)
MET, BORN = Relation("met", 0, 18), Relation("born_in", 0, 37)


def answer(*relations: Relation, spans: tuple[Span, ...] = (ADA, CHARLES, LONDON)) -> SpanSet:
    return SpanSet(spans, relations)


def test_a_relation_most_labelers_drew_is_kept_and_a_minoritys_dropped() -> None:
    found = agreement(TaskType.TEXT_NER, [answer(MET, BORN), answer(BORN, MET), answer(MET)])
    assert found.final == answer(MET, BORN)
    assert found.agreed == (True, True, False)
    lone = agreement(TaskType.TEXT_NER, [answer(MET), answer(), answer()])
    assert lone.final == answer() and lone.agreed == (False, True, True)


def test_the_same_link_the_other_way_round_is_another_relation() -> None:
    reversed_born = Relation("born_in", 37, 0)
    found = agreement(TaskType.TEXT_NER, [answer(BORN), answer(reversed_born), answer(BORN)])
    assert found.final == answer(BORN)


def test_an_even_split_on_a_relation_waits_for_more_labelers_then_goes_to_review() -> None:
    values = [answer(MET), answer()]
    assert decide(TaskType.TEXT_NER, values, min_labelers=2, max_labelers=3).verdict is (
        Verdict.PENDING
    )
    decided = decide(TaskType.TEXT_NER, values, min_labelers=2, max_labelers=2)
    # As for a shape drawn by half: only those who drew it are marked as disagreeing.
    assert decided.verdict is Verdict.DISAGREED and decided.agreed == (False, True)


def test_a_relation_to_a_span_the_majority_did_not_keep_is_dropped_with_it() -> None:
    # Two of three drew the relation, but only one of them drew London where the others did.
    moved = Relation("born_in", 0, 36)
    shifted = (ADA, CHARLES, Span("LOC", 36, 43))
    values = [answer(BORN), answer(moved, spans=shifted), answer()]
    found = agreement(TaskType.TEXT_NER, values)
    assert found.final == answer()  # London kept (2 of 3 drew it at 37), no relation kept


def test_answers_without_relations_agree_as_before() -> None:
    found = agreement(TaskType.TEXT_NER, [answer(), answer()])
    assert found.final == answer() and found.final.to_json() == {
        "spans": [
            {"label": "PER", "start": 0, "end": 12},
            {"label": "PER", "start": 18, "end": 33},
            {"label": "LOC", "start": 37, "end": 43},
        ]
    }


def test_a_kept_relation_its_class_no_longer_allows_between_the_agreed_spans_is_review() -> None:
    # Each answer fits `born_in` (undirected, PER and LOC at its ends), one of them turned
    # round; but the spans' agreed classes are PER and PER, which it does not link.
    born = RelationClass(name="born_in", directed=False, heads=["PER"], tails=["LOC"])
    link = Relation("born_in", 0, 18)
    first = answer(link, spans=(Span("PER", 0, 12), Span("LOC", 18, 33)))
    second = answer(link, spans=(Span("LOC", 0, 12), Span("PER", 18, 33)))
    third = answer(spans=(Span("PER", 0, 12), Span("PER", 18, 33)))
    values = [first, second, third]
    decided = decide(
        TaskType.TEXT_NER, values, min_labelers=3, max_labelers=3, relation_classes=[born]
    )
    assert decided.verdict is Verdict.DISAGREED
    # Without the classes (a caller that has none) the majority's relation is kept.
    assert agreement(TaskType.TEXT_NER, values).final == answer(
        link, spans=(Span("PER", 0, 12), Span("PER", 18, 33))
    )
