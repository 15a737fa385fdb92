"""Annotation values, one shape per task type, and the rules a labeler's submission must follow.

The JSON a labeler submits (camelCase keys) is checked by `validate_annotation`, which collects
every broken rule (up to `MAX_VIOLATIONS`) into one `InvalidAnnotation` and otherwise returns an
immutable, normalized value whose `to_json()` gives the same JSON shape back. Geometry is
normalized to [0, 1] of the displayed image (DESIGN §5); text spans are character offsets.
Every shape and every classification answer may carry `attributes` (`core.domain.attributes`):
absent when it has none, so values stored before attributes existed read and write unchanged.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Collection, Mapping, Sequence, Set
from dataclasses import dataclass, replace
from typing import Annotated, Any, TypeAlias, TypeVar, assert_never

from pydantic import Field

from core.domain.attributes import Attribute, AttributeValues, declared_for, read_attributes
from core.domain.errors import InvalidAnnotation, Violation
from core.domain.geometry import Point, clamp_unit, drop_repeats, polygon_area
from core.domain.keypoints import ABSENT, VISIBLE, KeypointTemplate
from core.domain.mask_rules import read_masks
from core.domain.masks import Mask, MaskSet
from core.domain.relations import RelationClass
from core.domain.task_types import TaskType

MAX_VIOLATIONS = 50
# Bounds on one answer: an item document holds every labeler's answer and must stay well under
# Cosmos DB's 2 MB document limit, and checking one answer must take well under a second.
MAX_SHAPES = 1_000
"""Boxes, polygons or spans in one answer."""
MAX_POINTS = 10_000
"""Polygon vertices, or keypoints, in one answer, all shapes together."""
# Float error the drawing tools may leave at the image border; larger overshoots are mistakes.
EDGE_TOLERANCE = 1e-6
# Image areas are fractions of the image: 1e-12 is far below one pixel of a 100k x 100k image, yet
# far above the rounding noise of three collinear points.
MIN_POLYGON_AREA = 1e-12
_SHOWN_LABELS = 20
_ON_SLICE = ("slice",)
"""What a box, polygon, keypoint instance or mask may carry besides its geometry: the slice of
a volume it is on."""
_MISSING: Any = object()

_Part = TypeVar("_Part")
_Parts = TypeVar("_Parts")


@dataclass(frozen=True)
class _Json:
    """Base of every value and part: field names are the JSON keys, tuples are JSON arrays,
    a field that is None (no attributes) is left out."""

    def to_json(self) -> dict[str, Any]:
        """Optional fields (default None) are left out when absent (no attributes, no slice):
        values stored before a field existed write back as they were."""
        return {
            name: _plain(value)
            for name, optional in _json_fields(type(self))
            if (value := getattr(self, name)) is not None or not optional
        }


_FIELDS: dict[type[Any], tuple[tuple[str, bool], ...]] = {}


def _json_fields(cls: type[Any]) -> tuple[tuple[str, bool], ...]:
    """Each field's name and whether it is optional (default None): read once per class, as
    every value written (an import's thousands) goes through `to_json`."""
    found = _FIELDS.get(cls)
    if found is None:
        found = _FIELDS[cls] = tuple((f.name, f.default is None) for f in dataclasses.fields(cls))
    return found


_SCALARS = frozenset((str, float, int, bool, type(None)))


def _plain(value: object) -> Any:
    if type(value) in _SCALARS:  # most of a value's parts: its numbers and names
        return value
    if isinstance(value, _Json | AttributeValues):
        return value.to_json()
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


@dataclass(frozen=True)
class SingleLabel(_Json):
    """image_multiclass / text_multiclass: exactly one class."""

    label: str
    attributes: AttributeValues | None = None


@dataclass(frozen=True)
class MultiLabel(_Json):
    """image_multilabel / text_multilabel: one or more classes, sorted so equal sets are equal."""

    labels: tuple[str, ...]
    attributes: AttributeValues | None = None


@dataclass(frozen=True)
class Box(_Json):
    """Top-left corner and size, as fractions of the image's width and height."""

    label: str
    x: float
    y: float
    w: float
    h: float
    attributes: AttributeValues | None = None
    slice: int | None = None
    """The slice of a volume it is drawn on (from 0); None: the whole item."""


@dataclass(frozen=True)
class BoxSet(_Json):
    """image_bounding_box; no boxes means the labeler saw no objects."""

    boxes: tuple[Box, ...]


@dataclass(frozen=True)
class Polygon(_Json):
    """A ring of at least 3 points; the last joins the first (the first is not repeated)."""

    label: str
    points: tuple[Point, ...]
    attributes: AttributeValues | None = None
    slice: int | None = None
    """The slice of a volume it is drawn on (from 0); None: the whole item."""


@dataclass(frozen=True)
class PolygonSet(_Json):
    """image_polygon; no polygons means the labeler saw no objects."""

    polygons: tuple[Polygon, ...]


@dataclass(frozen=True)
class Span(_Json):
    """Characters [start, end) of the item's text, counted in Unicode code points."""

    label: str
    start: int
    end: int
    attributes: AttributeValues | None = None


@dataclass(frozen=True)
class Relation(_Json):
    """A link of relation class `label` from the span that starts at `head` to the one that
    starts at `tail` (JSON `from` and `to`: spans never overlap, so a start names one span; see
    `core.domain.relations`). An undirected relation has the earlier span as its head."""

    label: str
    head: Annotated[int, Field(alias="from")]
    tail: Annotated[int, Field(alias="to")]

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "from": self.head, "to": self.tail}


def _no_relations(relations: tuple[Relation, ...]) -> bool:
    return not relations


def _optional(schema: dict[str, Any]) -> None:
    """No default in the API's schema: a value without relations has no key (typed clients
    would take a default to mean the key is always there)."""
    schema.pop("default", None)


@dataclass(frozen=True)
class SpanSet(_Json):
    """text_ner: spans sorted by start, none overlapping; relations between them sorted by
    their ends. A value without relations has no `relations` key, as before relations existed."""

    spans: tuple[Span, ...]
    relations: Annotated[
        tuple[Relation, ...], Field(exclude_if=_no_relations, json_schema_extra=_optional)
    ] = ()

    def to_json(self) -> dict[str, Any]:
        shown = super().to_json()
        if not self.relations:
            del shown["relations"]
        return shown


@dataclass(frozen=True)
class Keypoint(_Json):
    """One template point: where (fractions of the image) and its visibility `v`, COCO's
    0 absent / 1 occluded / 2 visible. An absent point has no place: it is stored at 0, 0."""

    x: float
    y: float
    v: int


@dataclass(frozen=True)
class KeypointInstance(_Json):
    """One object: a point per point of its class's template, in the template's order."""

    label: str
    points: tuple[Keypoint, ...]
    attributes: AttributeValues | None = None
    slice: int | None = None
    """The slice of a volume it is placed on (from 0); None: the whole item."""


@dataclass(frozen=True)
class KeypointSet(_Json):
    """image_keypoints; no instances means the labeler saw no objects."""

    keypoints: tuple[KeypointInstance, ...]


AnnotationValue: TypeAlias = (
    SingleLabel | MultiLabel | BoxSet | PolygonSet | SpanSet | KeypointSet | MaskSet
)


def validate_annotation(
    task_type: TaskType,
    raw: object,
    *,
    label_names: Collection[str],
    text_length: int | None = None,
    text: str | None = None,
    templates: Mapping[str, KeypointTemplate] | None = None,
    mask_grid: tuple[int, int] | None = None,
    relation_classes: Sequence[RelationClass] = (),
    attributes: Mapping[str, Sequence[Attribute]] | None = None,
    frames: int = 1,
) -> AnnotationValue:
    """Check a submitted value against `task_type`'s rules and the project's label classes
    (shown in the order given when a label is unknown). `text_length` is required for text_ner;
    with the `text` itself, spans are also trimmed of the whitespace at their edges, so that
    every span stored is one token formats (CoNLL) can hold exactly. `templates` (each class's
    point template) is required for image_keypoints. `mask_grid` is the displayed image's
    [height, width], which every mask must cover (see `core.domain.masks`). A text_ner value's
    relations are checked against `relation_classes`. `attributes` maps a class name to the
    attributes it declares (`labels.declared_attributes`); none: no class has any. A box or
    polygon may name the slice it is on, one of the item's `frames`."""
    if task_type is TaskType.TEXT_NER and text_length is None:
        raise TypeError("text_ner annotations need text_length, the item's length in characters")
    if task_type is TaskType.IMAGE_KEYPOINTS and templates is None:
        raise TypeError("image_keypoints annotations need each class's point template")
    check = _Checker(label_names, f"{task_type.value} annotations", attributes or {}, frames)
    value: AnnotationValue | None
    match task_type:
        case TaskType.IMAGE_MULTICLASS | TaskType.TEXT_MULTICLASS:
            value = _single_label(check, raw)
        case TaskType.IMAGE_MULTILABEL | TaskType.TEXT_MULTILABEL:
            value = _multi_label(check, raw)
        case TaskType.IMAGE_BOUNDING_BOX:
            value = _shapes(check, raw, "boxes", _box, BoxSet)
        case TaskType.IMAGE_POLYGON:
            fits = _points_fit(check, raw, "polygons", "simplify the outlines (fewer vertices)")
            value = _shapes(check, raw, "polygons", _polygon, PolygonSet) if fits else None
        case TaskType.TEXT_NER:
            assert text_length is not None
            value = _spans(check, raw, text_length, text, relation_classes)
        case TaskType.IMAGE_KEYPOINTS:
            assert templates is not None
            read = _instance_reader(templates)
            fits = _points_fit(check, raw, "keypoints", "split the objects over fewer instances")
            value = _shapes(check, raw, "keypoints", read, KeypointSet) if fits else None
        case TaskType.IMAGE_SEMANTIC_SEGMENTATION | TaskType.IMAGE_INSTANCE_SEGMENTATION:
            semantic = task_type is TaskType.IMAGE_SEMANTIC_SEGMENTATION
            value = read_masks(
                check, raw, grid=mask_grid, one_per_class=semantic, max_masks=MAX_SHAPES
            )
        case _:
            assert_never(task_type)
    if check.violations or value is None:
        raise InvalidAnnotation(check.report())
    return value


def labels_of(value: AnnotationValue | None) -> tuple[str, ...]:
    """The distinct labels a value uses, in order of first use (none without a value): the one
    place that knows where each kind keeps its labels."""
    match value:
        case None:
            return ()
        case SingleLabel():
            return (value.label,)
        case MultiLabel():
            return value.labels
        case BoxSet():
            return tuple(dict.fromkeys(box.label for box in value.boxes))
        case PolygonSet():
            return tuple(dict.fromkeys(polygon.label for polygon in value.polygons))
        case SpanSet():
            return tuple(dict.fromkeys(span.label for span in value.spans))
        case KeypointSet():
            return tuple(dict.fromkeys(instance.label for instance in value.keypoints))
        case MaskSet():
            return tuple(dict.fromkeys(mask.label for mask in value.masks))
        case _:
            assert_never(value)


def attributes_of(value: AnnotationValue | None) -> tuple[AttributeValues, ...]:
    """Every set of attribute values a value carries (the answer's own, or its shapes')."""
    match value:
        case None:
            return ()
        case SingleLabel() | MultiLabel():
            parts: Sequence[
                SingleLabel | MultiLabel | Box | Polygon | Span | KeypointInstance | Mask
            ]
            parts = (value,)
        case BoxSet():
            parts = value.boxes
        case PolygonSet():
            parts = value.polygons
        case SpanSet():
            parts = value.spans
        case KeypointSet():
            parts = value.keypoints
        case MaskSet():
            parts = value.masks
        case _:
            assert_never(value)
    return tuple(part.attributes for part in parts if part.attributes)


def rename_label(value: AnnotationValue, old: str, new: str) -> AnnotationValue:
    """The same value with label `old` called `new` (a multi-label value that already had `new`
    keeps it once)."""

    def follow(label: str) -> str:
        return new if label == old else label

    match value:
        case SingleLabel():
            return replace(value, label=follow(value.label))
        case MultiLabel():
            return replace(value, labels=tuple(sorted({follow(label) for label in value.labels})))
        case BoxSet():
            return BoxSet(tuple(replace(box, label=follow(box.label)) for box in value.boxes))
        case PolygonSet():
            return PolygonSet(tuple(replace(p, label=follow(p.label)) for p in value.polygons))
        case SpanSet():
            return replace(
                value, spans=tuple(replace(s, label=follow(s.label)) for s in value.spans)
            )
        case KeypointSet():
            return KeypointSet(tuple(replace(k, label=follow(k.label)) for k in value.keypoints))
        case MaskSet():
            return MaskSet(tuple(replace(m, label=follow(m.label)) for m in value.masks))


def without_attributes(value: AnnotationValue) -> AnnotationValue:
    """The same value with no attributes anywhere (what ML assist's pre-labels are judged on:
    they never carry any)."""
    match value:
        case SingleLabel() | MultiLabel():
            return replace(value, attributes=None)
        case BoxSet():
            return BoxSet(tuple(replace(box, attributes=None) for box in value.boxes))
        case PolygonSet():
            return PolygonSet(tuple(replace(p, attributes=None) for p in value.polygons))
        case SpanSet():
            return replace(value, spans=tuple(replace(s, attributes=None) for s in value.spans))
        case KeypointSet():
            return KeypointSet(tuple(replace(k, attributes=None) for k in value.keypoints))
        case MaskSet():
            return MaskSet(tuple(replace(m, attributes=None) for m in value.masks))


class _Checker:
    """Collects violations while reading raw JSON; each reader returns None when its part is
    unusable, so later rules skip what an earlier one already reported."""

    def __init__(
        self,
        label_names: Collection[str],
        what: str,
        declared: Mapping[str, Sequence[Attribute]] | None = None,
        frames: int = 1,
    ) -> None:
        self.violations: list[Violation] = []
        self.what = what
        self._declared = declared or {}
        self.frames = frames
        self._unlisted = 0
        self._names = label_names
        self.known = label_names if isinstance(label_names, Set) else frozenset(label_names)

    def fail(self, path: str, rule: str) -> None:
        if len(self.violations) < MAX_VIOLATIONS:
            self.violations.append(Violation(path, rule))
        else:
            self._unlisted += 1

    def report(self) -> list[Violation]:
        if not self._unlisted:
            return self.violations
        return [*self.violations, Violation("", f"… and {self._unlisted} more problems")]

    def fields(
        self,
        raw: object,
        path: str,
        names: Sequence[str],
        what: str,
        optional: Sequence[str] = (),
        *,
        labeled: bool = False,
    ) -> dict[str, Any] | None:
        """An object with exactly `names` and maybe some of `optional` (and, when it is
        `labeled` with a class, `attributes`); a missing field reads as `_MISSING`, missing
        attributes as None."""
        if not isinstance(raw, dict):
            self.fail(path, f"must be an object with {', '.join(names)}")
            return None
        for key in raw:
            if key not in names and key not in optional and not (labeled and key == "attributes"):
                expected = ", ".join([*names, *(f"{o} (optional)" for o in optional)])
                self.fail(_join(path, str(key)), f"is not a field of {what}; expected {expected}")
        for name in names:
            if name not in raw:
                self.fail(_join(path, name), "is required")
        found = {name: raw.get(name, _MISSING) for name in (*names, *optional)}
        return found | {"attributes": raw.get("attributes")} if labeled else found

    def attributes(
        self, raw: object, path: str, labels: Sequence[str | None]
    ) -> AttributeValues | None:
        """The attributes at `path` of a shape or answer of `labels` (the one reader every kind
        of shape uses); a broken one is reported and read as none."""
        if raw is None:
            return None
        known = [label for label in labels if label is not None]
        if len(known) < len(labels):
            return None  # an unknown class was reported already; its attributes are unknowable
        declared = declared_for(self._declared, known)
        return read_attributes(raw, _join(path, "attributes"), declared, self.fail)

    def slice(self, raw: object, path: str) -> int | None:
        """A shape's slice: absent (the whole item), or one of the item's frames."""
        if raw is _MISSING or raw is None:
            return None
        if self.frames == 0:
            self.fail(
                path,
                "the item is no volume (a DICOM file or series) and has no slices: leave slice out",
            )
            return None
        count = f"{self.frames} slice{'s' if self.frames != 1 else ''}"
        if isinstance(raw, bool) or not isinstance(raw, int):
            self.fail(path, f"must be a whole number, the slice from 0 (the item has {count})")
        elif not 0 <= raw < self.frames:
            self.fail(
                path, f"is slice {raw}, but the item has {count}, numbered 0 to {self.frames - 1}"
            )
        else:
            return raw
        return None

    def array(self, raw: object, path: str, what: str) -> list[Any] | None:
        if raw is _MISSING:
            return None
        if not isinstance(raw, list | tuple):
            self.fail(path, f"must be a list of {what}")
            return None
        return list(raw)

    def label(self, raw: object, path: str) -> str | None:
        if raw is _MISSING:
            return None
        if not isinstance(raw, str):
            self.fail(path, "must be a label class name (a string)")
            return None
        if raw not in self.known:
            shown = repr(raw) if len(raw) <= 60 else repr(raw[:60]) + "…"  # echo no giant input
            self.fail(path, f"{shown} is not a label class of this project; {self._known_text()}")
            return None
        return raw

    def _known_text(self) -> str:
        if not self.known:
            return "it has none yet"
        ordered = list(dict.fromkeys(self._names))
        more = f", … ({len(ordered) - _SHOWN_LABELS} more)" if len(ordered) > _SHOWN_LABELS else ""
        return "known: " + ", ".join(ordered[:_SHOWN_LABELS]) + more

    def offset(self, raw: object, path: str) -> int | None:
        if raw is _MISSING:
            return None
        # bool is an int subclass, but `true` is never an offset or a coordinate.
        if isinstance(raw, bool) or not isinstance(raw, int):
            self.fail(path, "must be a whole number (a character offset)")
            return None
        return raw

    def number(self, raw: object, path: str) -> float | None:
        if raw is _MISSING:
            return None
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            self.fail(path, "must be a number")
            return None
        try:
            number = float(raw)
        except OverflowError:  # an int too large for a float
            number = math.inf
        if not math.isfinite(number):
            self.fail(path, f"must be a finite number, not {raw}")
            return None
        return number

    def coordinate(self, raw: object, path: str, axis: str) -> float | None:
        """A number in [0, 1], clamped when it overshoots by float error only."""
        number = self.number(raw, path)
        if number is None:
            return None
        if not -EDGE_TOLERANCE <= number <= 1 + EDGE_TOLERANCE:
            self.fail(path, f"must be between 0 and 1 (a fraction of the image {axis}, not pixels)")
            return None
        return clamp_unit(number)


def _single_label(check: _Checker, raw: object) -> SingleLabel | None:
    fields = check.fields(raw, "", ("label",), check.what, labeled=True)
    if fields is None:
        return None
    label = check.label(fields["label"], "label")
    attributes = check.attributes(fields["attributes"], "", [label])
    return SingleLabel(label, attributes) if label is not None else None


def _multi_label(check: _Checker, raw: object) -> MultiLabel | None:
    fields = check.fields(raw, "", ("labels",), check.what, labeled=True)
    if fields is None:
        return None
    items = check.array(fields["labels"], "labels", "class names")
    if items is None:
        return None
    if not items:
        check.fail("labels", "must name at least one class")
    first_seen: dict[str, int] = {}
    for index, item in enumerate(items):
        label = check.label(item, f"labels[{index}]")
        if label is None:
            continue
        if label in first_seen:
            check.fail(
                f"labels[{index}]", f"{label!r} is listed twice (also labels[{first_seen[label]}])"
            )
        first_seen.setdefault(label, index)
    labels = tuple(sorted(first_seen))
    chosen: Sequence[str | None] = labels if len(first_seen) == len(items) else [None]
    return MultiLabel(labels, check.attributes(fields["attributes"], "", chosen))


def _shapes(
    check: _Checker,
    raw: object,
    key: str,
    read: Callable[[_Checker, object, str], _Part | None],
    build: Callable[[tuple[_Part, ...]], _Parts],
) -> _Parts | None:
    fields = check.fields(raw, "", (key,), check.what)
    items = check.array(fields[key], key, key) if fields else None
    if items is None or not _few_enough(check, items, key):
        return None
    shapes = [read(check, item, f"{key}[{index}]") for index, item in enumerate(items)]
    kept = tuple(shape for shape in shapes if shape is not None)
    return build(kept) if len(kept) == len(shapes) else None


def _few_enough(check: _Checker, items: list[Any], key: str) -> bool:
    if len(items) <= MAX_SHAPES:
        return True
    check.fail(key, f"has {len(items):,} {key}; one answer may have at most {MAX_SHAPES:,}")
    return False


def _points_fit(check: _Checker, raw: object, key: str, advice: str) -> bool:
    """Counted before any point is checked, so a giant answer costs no validation time."""
    shapes = raw.get(key) if isinstance(raw, dict) else None
    if not isinstance(shapes, list):
        return True
    total = sum(
        len(p["points"])
        for p in shapes
        if isinstance(p, dict) and isinstance(p.get("points"), list)
    )
    if total <= MAX_POINTS:
        return True
    check.fail(
        key, f"have {total:,} points in all; one answer may have at most {MAX_POINTS:,}: {advice}"
    )
    return False


def _box(check: _Checker, raw: object, path: str) -> Box | None:
    return _plain_box(raw, check.known) or _checked_box(check, raw, path)


_BOX_FIELDS = frozenset(("label", "x", "y", "w", "h"))
_NUMBERS = (float, int)


def _plain_box(raw: object, known: Set[str]) -> Box | None:
    """The common box, read at a fraction of the full check's cost: exactly its five fields, a
    known class, numbers (not true/false), inside the image with a positive size. Anything
    else is None, and left to `_checked_box`, which accepts it the same or says what is wrong.
    (NaN and infinities fail the comparisons; the ranges are compared before any conversion,
    so an integer too large for a float never reaches one.)"""
    if type(raw) is not dict or raw.keys() != _BOX_FIELDS:
        return None
    label, x, y, w, h = raw["label"], raw["x"], raw["y"], raw["w"], raw["h"]
    if (
        type(label) is str
        and label in known
        and type(x) in _NUMBERS
        and type(y) in _NUMBERS
        and type(w) in _NUMBERS
        and type(h) in _NUMBERS
        and 0 <= x <= 1
        and 0 <= y <= 1
        and 0 < w <= 1
        and 0 < h <= 1
        and x + w <= 1
        and y + h <= 1
    ):
        return Box(label, float(x), float(y), float(w), float(h))
    return None


def _checked_box(check: _Checker, raw: object, path: str) -> Box | None:
    fields = check.fields(
        raw, path, ("label", "x", "y", "w", "h"), "a box", _ON_SLICE, labeled=True
    )
    if fields is None:
        return None
    label = check.label(fields["label"], f"{path}.label")
    x = check.coordinate(fields["x"], f"{path}.x", "width")
    y = check.coordinate(fields["y"], f"{path}.y", "height")
    w = _extent(check, x, fields["w"], f"{path}.w", "width", "right")
    h = _extent(check, y, fields["h"], f"{path}.h", "height", "bottom")
    attributes = check.attributes(fields["attributes"], path, [label])
    if label is None or x is None or y is None or w is None or h is None:
        return None
    return Box(label, x, y, w, h, attributes, check.slice(fields["slice"], f"{path}.slice"))


def _extent(
    check: _Checker, start: float | None, raw: object, path: str, size: str, edge: str
) -> float | None:
    """A box's width or height: positive, and within the image from `start` (when known)."""
    length = check.number(raw, path)
    if length is None:
        return None
    if length <= 0:
        check.fail(path, f"must be > 0 (a box needs a positive {size})")
        return None
    if start is None:
        return None
    end = start + length
    if end <= 1:
        return length
    if end > 1 + EDGE_TOLERANCE:
        axis = "x + w" if size == "width" else "y + h"
        check.fail(path, f"{axis} = {end:.6g} must be ≤ 1 (the box runs past the {edge} edge)")
        return None
    if start >= 1:
        check.fail(path, f"leaves the box no {size} inside the image")
        return None
    return 1.0 - start  # float error past the edge: pull the far side back onto the border


def _polygon(check: _Checker, raw: object, path: str) -> Polygon | None:
    fields = check.fields(raw, path, ("label", "points"), "a polygon", _ON_SLICE, labeled=True)
    if fields is None:
        return None
    label = check.label(fields["label"], f"{path}.label")
    attributes = check.attributes(fields["attributes"], path, [label])
    items = check.array(fields["points"], f"{path}.points", "[x, y] points")
    if items is None:
        return None
    points: list[Point] = []
    for index, item in enumerate(items):
        at = f"{path}.points[{index}]"
        if isinstance(item, list | tuple) and len(item) == 2:
            x = check.coordinate(item[0], f"{at}[0]", "width")
            y = check.coordinate(item[1], f"{at}[1]", "height")
            if x is not None and y is not None:
                points.append((x, y))
        else:
            check.fail(at, "must be a point [x, y]")
    if len(points) < len(items):
        return None
    ring = drop_repeats(points)
    if len(set(ring)) < 3:
        check.fail(f"{path}.points", f"needs at least 3 distinct points, has {len(set(ring))}")
        return None
    if polygon_area(ring) <= MIN_POLYGON_AREA:
        check.fail(f"{path}.points", "encloses no area (are all points on one line?)")
        return None
    on = check.slice(fields["slice"], f"{path}.slice")
    return Polygon(label, tuple(ring), attributes, on) if label is not None else None


def _instance_reader(
    templates: Mapping[str, KeypointTemplate],
) -> Callable[[_Checker, object, str], KeypointInstance | None]:
    def read(check: _Checker, raw: object, path: str) -> KeypointInstance | None:
        what = "a keypoint instance"
        fields = check.fields(raw, path, ("label", "points"), what, _ON_SLICE, labeled=True)
        if fields is None:
            return None
        label = check.label(fields["label"], f"{path}.label")
        attributes = check.attributes(fields["attributes"], path, [label])
        items = check.array(fields["points"], f"{path}.points", "points {x, y, v}")
        template = templates.get(label) if label is not None else None
        if items is None or label is None:
            return None
        if template is None:
            check.fail(f"{path}.label", f"{label!r} has no point template")
            return None
        if len(items) != len(template.points):
            names = ", ".join(template.points[:10]) + (", …" if len(template.points) > 10 else "")
            check.fail(
                f"{path}.points",
                f"has {len(items)} points; {label!r} has {len(template.points)} ({names}), "
                "one entry each in this order (absent ones with v: 0)",
            )
            return None
        points = [_keypoint(check, item, f"{path}.points[{i}]") for i, item in enumerate(items)]
        kept = tuple(p for p in points if p is not None)
        if len(kept) < len(points):
            return None
        if all(p.v == ABSENT for p in kept):
            check.fail(f"{path}.points", "are all absent (v: 0): remove the instance instead")
            return None
        on = check.slice(fields["slice"], f"{path}.slice")
        return KeypointInstance(label, kept, attributes, on)

    return read


def _keypoint(check: _Checker, raw: object, path: str) -> Keypoint | None:
    """`{x, y, v}`; an absent point (v 0) may leave out x and y, and is stored at 0, 0."""
    if isinstance(raw, dict) and raw.get("v") == ABSENT and not {"x", "y"} & raw.keys():
        raw = {"x": 0, "y": 0, "v": ABSENT}
    fields = check.fields(raw, path, ("x", "y", "v"), "a keypoint")
    if fields is None:
        return None
    x = check.coordinate(fields["x"], f"{path}.x", "width")
    y = check.coordinate(fields["y"], f"{path}.y", "height")
    v = fields["v"]
    if v is _MISSING:
        return None
    if isinstance(v, bool) or v not in range(ABSENT, VISIBLE + 1):
        check.fail(f"{path}.v", "must be 0 (absent), 1 (occluded) or 2 (visible)")
        return None
    if x is None or y is None:
        return None
    return Keypoint(0.0, 0.0, ABSENT) if v == ABSENT else Keypoint(x, y, int(v))


def _spans(
    check: _Checker,
    raw: object,
    text_length: int,
    text: str | None,
    relation_classes: Sequence[RelationClass],
) -> SpanSet | None:
    related = isinstance(raw, dict) and "relations" in raw  # optional: most answers have none
    fields = check.fields(raw, "", ("spans", "relations") if related else ("spans",), check.what)
    items = check.array(fields["spans"], "spans", "spans") if fields else None
    if items is None or not _few_enough(check, items, "spans"):
        return None
    spans: list[tuple[int, Span]] = []
    starts: dict[int, Span] = {}  # a span by its start as sent and as trimmed
    for index, item in enumerate(items):
        span = _span(check, item, f"spans[{index}]", text_length)
        sent = span
        if span is not None and text is not None:
            span = _trimmed(check, span, f"spans[{index}]", text)
        if span is not None and sent is not None:
            spans.append((index, span))
            starts.setdefault(sent.start, span)
            starts.setdefault(span.start, span)
    spans.sort(key=lambda pair: (pair[1].start, pair[1].end, pair[0]))
    # Sorted by start, a span overlaps an earlier one iff it starts before the furthest end.
    reach: tuple[int, Span] | None = None
    for index, span in spans:
        if reach is not None and span.start < reach[1].end:
            other, covered = reach
            where = f"({covered.start}–{covered.end})"
            check.fail(f"spans[{index}]", f"overlaps spans[{other}] {where}")
        if reach is None or span.end > reach[1].end:
            reach = (index, span)
    if len(spans) < len(items):
        return None
    relations: tuple[Relation, ...] = ()
    if fields is not None and related:
        found = _relations(check, fields["relations"], starts, relation_classes)
        if found is None:
            return None
        relations = found
    return SpanSet(tuple(span for _, span in spans), relations)


def _relations(
    check: _Checker, raw: object, starts: dict[int, Span], classes: Sequence[RelationClass]
) -> tuple[Relation, ...] | None:
    items = check.array(raw, "relations", "relations")
    if items is None or not _few_enough(check, items, "relations"):
        return None
    by_name = {relation.name: relation for relation in classes}
    seen: dict[tuple[str, int, int], int] = {}
    for index, item in enumerate(items):
        path = f"relations[{index}]"
        fields = check.fields(item, path, ("label", "from", "to"), "a relation")
        if fields is None:
            continue
        kind = _relation_class(check, fields["label"], f"{path}.label", by_name)
        head = _end(check, fields["from"], f"{path}.from", starts)
        tail = _end(check, fields["to"], f"{path}.to", starts)
        if kind is None or head is None or tail is None:
            continue
        if head is tail:
            check.fail(path, f"links the span at {head.start}–{head.end} to itself")
            continue
        if not kind.allows(head.label, tail.label):
            check.fail(
                path,
                f"{kind.name!r} links {kind.ends_text()}; this one links {head.label} "
                f"{'→' if kind.directed else '↔'} {tail.label}",
            )
            continue
        if not kind.directed and tail.start < head.start:
            head, tail = tail, head  # stored one way round, so either drawing is the same
        key = (kind.name, head.start, tail.start)
        if key in seen:
            check.fail(
                path, f"repeats relations[{seen[key]}] (the same class between the same spans)"
            )
        seen.setdefault(key, index)
    if len(seen) < len(items):
        return None
    return tuple(Relation(name, head, tail) for name, head, tail in sorted(seen, key=_by_ends))


def _by_ends(key: tuple[str, int, int]) -> tuple[int, int, str]:
    name, head, tail = key
    return head, tail, name


def _relation_class(
    check: _Checker, raw: object, path: str, by_name: dict[str, RelationClass]
) -> RelationClass | None:
    if raw is _MISSING:
        return None
    if not isinstance(raw, str):
        check.fail(path, "must be a relation class name (a string)")
        return None
    found = by_name.get(raw)
    if found is None:
        shown = repr(raw) if len(raw) <= 60 else repr(raw[:60]) + "…"
        known = "known: " + ", ".join(list(by_name)[:_SHOWN_LABELS]) if by_name else "it has none"
        check.fail(path, f"{shown} is not a relation class of this project; {known}")
    return found


def _end(check: _Checker, raw: object, path: str, starts: dict[int, Span]) -> Span | None:
    """The span a relation's end names by its start offset."""
    start = check.offset(raw, path)
    if start is None:
        return None
    span = starts.get(start)
    if span is None:
        listed = sorted({s.start for s in starts.values()})
        shown = ", ".join(map(str, listed[:10])) + (", …" if len(listed) > 10 else "")
        where = f"spans start at {shown}" if listed else "the answer has no spans"
        check.fail(path, f"names no span: no span starts at {start} ({where})")
    return span


def _span(check: _Checker, raw: object, path: str, text_length: int) -> Span | None:
    fields = check.fields(raw, path, ("label", "start", "end"), "a span", labeled=True)
    if fields is None:
        return None
    label = check.label(fields["label"], f"{path}.label")
    attributes = check.attributes(fields["attributes"], path, [label])
    start = check.offset(fields["start"], f"{path}.start")
    end = check.offset(fields["end"], f"{path}.end")
    if start is not None and not 0 <= start < text_length:
        check.fail(f"{path}.start", f"must be ≥ 0 and < {text_length}, the length of the text")
        start = None
    if end is not None and not 1 <= end <= text_length:
        check.fail(f"{path}.end", f"must be ≥ 1 and ≤ {text_length}, the length of the text")
        end = None
    if start is not None and end is not None and end <= start:
        check.fail(
            f"{path}.end", f"must be > start ({start}); a span covers at least one character"
        )
        return None
    if label is None or start is None or end is None:
        return None
    return Span(label, start, end, attributes)


def _trimmed(check: _Checker, span: Span, path: str, text: str) -> Span | None:
    covered = text[span.start : span.end]
    if not covered.strip():
        check.fail(path, f"covers only whitespace ({span.start}–{span.end})")
        return None
    start = span.start + len(covered) - len(covered.lstrip())
    end = span.end - (len(covered) - len(covered.rstrip()))
    return replace(span, start=start, end=end)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
