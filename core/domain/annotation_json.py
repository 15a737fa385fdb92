"""Annotation values as stored (JSON dicts, validated when they were submitted): back to their
typed form, and the labels they use without parsing them."""

from __future__ import annotations

from typing import Any

from core.domain.annotations import (
    AnnotationValue,
    Box,
    BoxSet,
    MultiLabel,
    Polygon,
    PolygonSet,
    SingleLabel,
    Span,
    SpanSet,
)
from core.domain.task_types import TaskType


def from_json(task_type: TaskType, raw: dict[str, Any]) -> AnnotationValue:
    """A stored value back as its typed form (the inverse of `to_json`)."""
    if task_type.is_classification and not task_type.is_multilabel:
        return SingleLabel(raw["label"])
    if task_type.is_multilabel:
        return MultiLabel(tuple(raw["labels"]))
    if task_type is TaskType.IMAGE_BOUNDING_BOX:
        return BoxSet(tuple(Box(**box) for box in raw["boxes"]))
    if task_type is TaskType.IMAGE_POLYGON:
        return PolygonSet(
            tuple(
                Polygon(p["label"], tuple((x, y) for x, y in p["points"])) for p in raw["polygons"]
            )
        )
    return SpanSet(tuple(Span(**span) for span in raw["spans"]))


def value_labels(value: object) -> list[str]:
    """The distinct labels in a stored value of any task type, in order of use; tolerant of
    anything else (an imported or partial value), which has none."""
    if not isinstance(value, dict):
        return []
    found: list[str] = []
    if isinstance(value.get("label"), str):
        found.append(value["label"])
    for name in _listed(value.get("labels")):
        if isinstance(name, str):
            found.append(name)
    for key in ("boxes", "polygons", "spans"):
        for part in _listed(value.get(key)):
            if isinstance(part, dict) and isinstance(part.get("label"), str):
                found.append(part["label"])
    return list(dict.fromkeys(found))


def _listed(raw: object) -> list[Any]:
    return raw if isinstance(raw, list) else []
