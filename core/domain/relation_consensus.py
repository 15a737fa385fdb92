"""Consensus on the relations of text_ner answers, once their spans are agreed.

Spans are matched across labelers by their exact offsets, and relations name their spans by
start, so two labelers who drew the same link between the same spans have equal relations. A
relation is kept when a strict majority of labelers drew it (same class, same ends, the same
way round when directed) and both its spans are kept; one a minority drew is dropped; one
exactly half drew is a disagreement, as for spans. So is a kept relation whose spans' agreed
classes its relation class does not allow (each labeler's fitted, but the classes the majority
gave each span need not: the reviewer decides)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from core.domain.annotations import Relation, Span, SpanSet
from core.domain.relations import RelationClass


@dataclass(frozen=True)
class RelationAgreement:
    relations: tuple[Relation, ...] | None
    """The kept relations, sorted as stored; None: an even split on one of them."""
    agreed: tuple[bool, ...]
    """Per answer, whether its relations are exactly the kept ones."""


def agree_on_relations(
    answers: Sequence[SpanSet], kept: Sequence[Span], classes: Sequence[RelationClass] = ()
) -> RelationAgreement:
    total = len(answers)
    starts = {span.start for span in kept}
    counts = Counter(relation for answer in answers for relation in set(answer.relations))
    chosen = sorted(
        (r for r, n in counts.items() if n * 2 > total and {r.head, r.tail} <= starts),
        key=lambda r: (r.head, r.tail, r.label),
    )
    tied = any(n * 2 == total for n in counts.values())
    agreed = tuple(set(answer.relations) == set(chosen) for answer in answers)
    misfit = any(not _fits(r, kept, classes) for r in chosen)
    return RelationAgreement(None if tied or misfit else tuple(chosen), agreed)


def _fits(relation: Relation, kept: Sequence[Span], classes: Sequence[RelationClass]) -> bool:
    kind = next((c for c in classes if c.name == relation.label), None)
    label = {span.start: span.label for span in kept}
    return kind is None or kind.allows(label[relation.head], label[relation.tail])
