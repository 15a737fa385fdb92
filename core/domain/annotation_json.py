"""Annotation values as JSON, in documents and on the wire: one object per value whose single
key names its kind (`label`, `labels`, `boxes`, `polygons`, `spans`, `keypoints`, `masks`),
read into and written from the typed values of `core.domain.annotations`.

The key is the discriminator, so documents stored before the values were typed (the same
untagged objects) read back as they are, and the API's schema shows one shape per kind."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Discriminator, Tag, TypeAdapter

from core.domain.annotations import (
    AnnotationValue,
    BoxSet,
    KeypointSet,
    MultiLabel,
    PolygonSet,
    SingleLabel,
    SpanSet,
    labels_of,
)
from core.domain.masks import MaskSet

_KIND_OF: dict[type[Any], str] = {
    SingleLabel: "label",
    MultiLabel: "labels",
    BoxSet: "boxes",
    PolygonSet: "polygons",
    SpanSet: "spans",
    KeypointSet: "keypoints",
    MaskSet: "masks",
}
_TYPED = tuple(_KIND_OF)


def _kind(raw: object) -> str | None:
    """The kind of a JSON object (its key) or of a typed value (its class)."""
    if isinstance(raw, dict):
        return next((kind for kind in _KIND_OF.values() if kind in raw), None)
    return _KIND_OF.get(type(raw))


StoredValue = Annotated[
    Annotated[SingleLabel, Tag("label")]
    | Annotated[MultiLabel, Tag("labels")]
    | Annotated[BoxSet, Tag("boxes")]
    | Annotated[PolygonSet, Tag("polygons")]
    | Annotated[SpanSet, Tag("spans")]
    | Annotated[KeypointSet, Tag("keypoints")]
    | Annotated[MaskSet, Tag("masks")],
    Discriminator(
        _kind,
        custom_error_type="annotation_value",
        custom_error_message="an annotation value has one of label, labels, boxes, polygons, "
        "spans, keypoints, masks",
    ),
]
"""An `AnnotationValue` in a pydantic field: validated from JSON (or kept when typed already),
dumped to the same JSON."""

_STORED: TypeAdapter[AnnotationValue] = TypeAdapter(StoredValue)


def read_value(raw: object) -> AnnotationValue:
    """A value as stored (validated when it was submitted) back in its typed form."""
    return _STORED.validate_python(raw)


def stored_labels(raw: object) -> tuple[str, ...]:
    """The labels of a value read straight from a document (a sweep over stored items, an
    export, an import's counters) or from a file being imported; none when it is missing or is
    no value. Read from the JSON itself, as `labels_of` reads a typed value, without building
    the value: every item written adds up its labels this way. A value too broken to read
    still names its labels (a box without coordinates names its class): an import refused for
    both problems lists the unknown class in its summary too."""
    if not isinstance(raw, dict):
        return labels_of(raw) if isinstance(raw, _TYPED) else ()
    kind = _kind(raw)
    if kind is None:
        return ()
    content = raw[kind]
    if kind == "label":
        named = [content]
    elif not isinstance(content, list):
        named = []
    elif kind == "labels":
        named = content
    else:
        named = [part.get("label") for part in content if isinstance(part, dict)]
    return tuple(dict.fromkeys(label for label in named if isinstance(label, str)))


def _as_sent(raw: object) -> object:
    return raw


SubmittedValue = Annotated[
    dict[str, Any], BeforeValidator(_as_sent, json_schema_input_type=StoredValue)
]
"""A value as a labeler or reviewer sends it: any JSON object here (refused as before when it
is none), checked against the project's rules by `validate_annotation`, which names every
broken rule at once. Its schema is `StoredValue`'s: what that check accepts."""
