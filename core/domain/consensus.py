"""Consensus: when several labelers answer the same item, what the item's label is.

Classes go by strict majority (for multi-label, each class on its own). Boxes, polygons and
masks are matched across labelers by IoU ≥ 0.5 (masks by their pixels), keypoint instances by
object keypoint similarity (OKS, `core.domain.keypoints`) ≥ 0.5, each only with those on the
same slice of a volume, spans only when their offsets
are exactly equal; a shape that a strict majority of labelers drew, with a label a strict
majority of them chose, is kept, one that a minority drew is dropped, and anything else (an
even split) is a disagreement. Relations between kept spans follow the same rule
(`core.domain.relation_consensus`). A disagreement after the most labelers allowed goes to
review.

Attributes (`core.domain.attributes.attribute_majority`) are decided among the answers that
agree on the class (the shapes of the kept label in a matched group; for multi-label, every
answer): each attribute takes the value a strict majority gave, leaving it unset counting as a
vote; a tie on any attribute is a disagreement, and an answer whose attributes differ from the
consensus is not counted as agreeing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Generic, TypeVar

from core.domain.annotations import (
    AnnotationValue,
    Box,
    BoxSet,
    Keypoint,
    KeypointInstance,
    KeypointSet,
    MultiLabel,
    Polygon,
    PolygonSet,
    SingleLabel,
    Span,
    SpanSet,
)
from core.domain.attributes import attribute_majority
from core.domain.geometry import box_iou, polygon_iou
from core.domain.keypoints import ABSENT, DEFAULT_SIGMA, OCCLUDED, VISIBLE, oks
from core.domain.masks import Mask, MaskSet, disjoint, mask_iou
from core.domain.relation_consensus import agree_on_relations
from core.domain.relations import RelationClass
from core.domain.task_types import TaskType

MATCH_IOU = 0.5
MATCH_OKS = 0.5
"""COCO's loosest keypoint threshold (its AP averages 0.5 to 0.95)."""

S = TypeVar("S", Box, Polygon, Span, KeypointInstance, Mask)
R = TypeVar("R", Box, Polygon, KeypointInstance, Mask)
"""What may be drawn on one slice of a volume."""
Sigmas = Mapping[str, Sequence[float]]
"""Each class's per-point sigmas for OKS (`KeypointTemplate.sigma_list`)."""


class Verdict(StrEnum):
    PENDING = "pending"  # fewer answers than needed, or no agreement yet with room for more
    AGREED = "agreed"
    DISAGREED = "disagreed"  # no agreement after the most labelers allowed: review decides


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    final: AnnotationValue | None = None
    agreed: tuple[bool, ...] | None = None
    """Per answer, whether it matches the consensus; None when there was nothing to compare."""


@dataclass(frozen=True)
class _Agreement:
    final: AnnotationValue | None  # None: no agreement
    agreed: tuple[bool, ...]


def decide(
    task_type: TaskType,
    values: Sequence[AnnotationValue],
    *,
    min_labelers: int,
    max_labelers: int,
    sigmas: Sigmas | None = None,
    relation_classes: Sequence[RelationClass] = (),
) -> Decision:
    if len(values) < min_labelers:
        return Decision(Verdict.PENDING)
    if len(values) == 1:
        return Decision(Verdict.AGREED, values[0])
    found = agreement(task_type, values, sigmas=sigmas, relation_classes=relation_classes)
    if found.final is not None:
        return Decision(Verdict.AGREED, found.final, found.agreed)
    if len(values) < max_labelers:
        return Decision(Verdict.PENDING)
    return Decision(Verdict.DISAGREED, None, found.agreed)


def agreement(
    task_type: TaskType,
    values: Sequence[AnnotationValue],
    *,
    sigmas: Sigmas | None = None,
    relation_classes: Sequence[RelationClass] = (),
) -> _Agreement:
    """`sigmas`: image_keypoints' per-point sigmas by class (missing: `DEFAULT_SIGMA`);
    `relation_classes`: text_ner's, whose allowed ends a kept relation must still fit."""
    if task_type.is_classification and not task_type.is_multilabel:
        return _single([_as(SingleLabel, v) for v in values])
    if task_type.is_multilabel:
        return _multi([_as(MultiLabel, v) for v in values])
    if task_type is TaskType.IMAGE_BOUNDING_BOX:
        return _boxes([_as(BoxSet, v).boxes for v in values])
    if task_type is TaskType.IMAGE_POLYGON:
        return _polygons([_as(PolygonSet, v).polygons for v in values])
    if task_type is TaskType.IMAGE_KEYPOINTS:
        return _keypoints([_as(KeypointSet, v).keypoints for v in values], sigmas or {})
    if task_type.is_mask:
        return _masks([_as(MaskSet, v).masks for v in values])
    return _spans([_as(SpanSet, v) for v in values], relation_classes)


def _boxes(answers: list[tuple[Box, ...]]) -> _Agreement:
    found = _shapes(answers, _same_slice(box_iou), MATCH_IOU, _mean_box)
    return _Agreement(None if found.final is None else BoxSet(found.final), found.agreed)


def _polygons(answers: list[tuple[Polygon, ...]]) -> _Agreement:
    found = _shapes(answers, _same_slice(_polygon_iou), MATCH_IOU, _medoid)
    return _Agreement(None if found.final is None else PolygonSet(found.final), found.agreed)


def _keypoints(answers: list[tuple[KeypointInstance, ...]], sigmas: Sigmas) -> _Agreement:
    def similarity(a: KeypointInstance, b: KeypointInstance) -> float:
        # Instances of two classes compare by the first's sigmas: they match only when their
        # templates have as many points, and then the label vote decides.
        spread = sigmas.get(a.label) or (DEFAULT_SIGMA,) * len(a.points)
        return oks(a.points, b.points, spread)

    found = _shapes(answers, _same_slice(similarity), MATCH_OKS, _mean_points)
    return _Agreement(None if found.final is None else KeypointSet(found.final), found.agreed)


def _masks(answers: list[tuple[Mask, ...]]) -> _Agreement:
    found = _shapes(answers, _same_slice(mask_iou), MATCH_IOU, _medoid_mask)
    return _Agreement(None if found.final is None else disjoint(found.final), found.agreed)


def _spans(answers: list[SpanSet], relation_classes: Sequence[RelationClass]) -> _Agreement:
    found = _shapes([answer.spans for answer in answers], _same_offsets, 1.0, _first_span)
    if found.final is None:
        return _Agreement(None, found.agreed)
    spans = tuple(sorted(found.final, key=lambda s: s.start))
    links = agree_on_relations(answers, spans, relation_classes)  # relations follow spans
    agreed = tuple(a and b for a, b in zip(found.agreed, links.agreed, strict=True))
    if links.relations is None:
        return _Agreement(None, agreed)
    return _Agreement(SpanSet(spans, links.relations), agreed)


V = TypeVar("V")


def _as(kind: type[V], value: AnnotationValue) -> V:
    if not isinstance(value, kind):
        raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def _majority(counts: Counter[str], total: int) -> str | None:
    label, count = counts.most_common(1)[0] if counts else ("", 0)
    return label if count * 2 > total else None


def _single(values: Sequence[SingleLabel]) -> _Agreement:
    winner = _majority(Counter(v.label for v in values), len(values))
    settled, attributes = attribute_majority([v.attributes for v in values if v.label == winner])
    agreed = tuple(v.label == winner and v.attributes == attributes for v in values)
    if winner is None or not settled:
        return _Agreement(None, agreed)
    return _Agreement(SingleLabel(winner, attributes), agreed)


def _multi(values: Sequence[MultiLabel]) -> _Agreement:
    counts = Counter(label for v in values for label in v.labels)
    total = len(values)
    chosen = tuple(sorted(label for label, n in counts.items() if n * 2 > total))
    tied = any(n * 2 == total for n in counts.values())
    settled, attributes = attribute_majority([v.attributes for v in values])
    agreed = tuple(v.labels == chosen and v.attributes == attributes for v in values)
    if tied or not chosen or not settled:
        return _Agreement(None, agreed)
    return _Agreement(MultiLabel(chosen, attributes), agreed)


@dataclass
class _Group(Generic[S]):
    members: list[tuple[int, S]]


@dataclass(frozen=True)
class _ShapeAgreement(Generic[S]):
    final: tuple[S, ...] | None
    agreed: tuple[bool, ...]


def _polygon_iou(a: Polygon, b: Polygon) -> float:
    return polygon_iou(a.points, b.points)


def _same_slice(similarity: Callable[[R, R], float]) -> Callable[[R, R], float]:
    """Shapes on different slices of a volume never match, however they overlap."""
    return lambda a, b: similarity(a, b) if a.slice == b.slice else 0.0


def _shapes(
    answers: Sequence[Sequence[S]],
    similarity: Callable[[S, S], float],
    threshold: float,
    merge: Callable[[list[S], str], S],
) -> _ShapeAgreement[S]:
    groups = _match(answers, similarity, threshold)
    total = len(answers)
    kept: list[S] = []
    disagreed = False
    fine = [True] * total  # per labeler: every shape they drew is in a kept group, labelled so
    drew_kept: list[set[int]] = [set() for _ in range(total)]
    for index, group in enumerate(groups):
        shapes = [shape for _, shape in group.members]
        label = _majority(Counter(shape.label for shape in shapes), len(shapes))
        if len(shapes) * 2 < total:  # a minority drew it: the majority says there is nothing
            for who, _ in group.members:
                fine[who] = False
            continue
        same = [s for s in shapes if s.label == label]
        settled, attributes = attribute_majority([s.attributes for s in same])
        if len(shapes) * 2 == total or label is None or not settled:
            disagreed = True
            for who, _ in group.members:
                fine[who] = False
            continue
        kept.append(replace(merge(same, label), attributes=attributes))
        for who, shape in group.members:
            fine[who] = fine[who] and shape.label == label and shape.attributes == attributes
            drew_kept[who].add(index)
    kept_groups = {i for i, g in enumerate(groups) if len(g.members) * 2 > total}
    agreed = tuple(fine[who] and kept_groups <= drew_kept[who] for who in range(total))
    return _ShapeAgreement(None if disagreed else tuple(kept), agreed)


def _match(
    answers: Sequence[Sequence[S]], similarity: Callable[[S, S], float], threshold: float
) -> list[_Group[S]]:
    """Greedy matching, labeler by labeler: each shape joins the group it is most similar to on
    average (at least `threshold`), a group taking one shape per labeler."""
    groups: list[_Group[S]] = []
    for who, shapes in enumerate(answers):
        pairs = []
        for si, shape in enumerate(shapes):
            for gi, group in enumerate(groups):
                score = sum(similarity(shape, s) for _, s in group.members) / len(group.members)
                if score >= threshold:
                    pairs.append((score, si, gi))
        pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
        placed: set[int] = set()
        taken: set[int] = set()
        for _, si, gi in pairs:
            if si not in placed and gi not in taken:
                groups[gi].members.append((who, shapes[si]))
                placed.add(si)
                taken.add(gi)
        groups += [_Group([(who, s)]) for si, s in enumerate(shapes) if si not in placed]
    return groups


def _mean_box(boxes: list[Box], label: str) -> Box:
    count = len(boxes)
    x = sum(b.x for b in boxes) / count
    y = sum(b.y for b in boxes) / count
    w = min(sum(b.w for b in boxes) / count, 1.0 - x)
    h = min(sum(b.h for b in boxes) / count, 1.0 - y)
    return Box(label, x, y, w, h, slice=boxes[0].slice)  # matched boxes share their slice


def _medoid(polygons: list[Polygon], label: str) -> Polygon:
    """The drawn polygon closest to the others (averaging rings would not give a valid one)."""

    def closeness(p: Polygon) -> float:
        return sum(polygon_iou(p.points, q.points) for q in polygons if q is not p)

    best = max(polygons, key=closeness)
    return Polygon(label, best.points, slice=best.slice)


def _medoid_mask(masks: list[Mask], label: str) -> Mask:
    """The painted mask closest to the others: a pixel vote could leave the kept masks sharing
    pixels, which no answer may."""
    best = max(masks, key=lambda m: sum(mask_iou(m, n) for n in masks if n is not m))
    return Mask(label, best.size, best.counts, slice=best.slice)


def _same_offsets(a: Span, b: Span) -> float:
    return 1.0 if (a.start, a.end) == (b.start, b.end) else 0.0


def _first_span(spans: list[Span], label: str) -> Span:
    return Span(label, spans[0].start, spans[0].end)  # matched spans share their offsets


def _mean_points(instances: list[KeypointInstance], label: str) -> KeypointInstance:
    """Each point where the labelers who placed it put it on average, with the visibility most
    of them gave (a tie reads occluded: placed, but not plainly seen); absent when most of them
    left it out."""
    points = []
    for drawn in zip(*(i.points for i in instances), strict=True):
        placed = [p for p in drawn if p.v != ABSENT]
        if len(placed) * 2 <= len(drawn):
            points.append(Keypoint(0.0, 0.0, ABSENT))
            continue
        visible = sum(p.v == VISIBLE for p in placed)
        v = VISIBLE if visible * 2 > len(placed) else OCCLUDED
        x = sum(p.x for p in placed) / len(placed)
        y = sum(p.y for p in placed) / len(placed)
        points.append(Keypoint(x, y, v))
    return KeypointInstance(label, tuple(points), slice=instances[0].slice)  # matched: one slice
