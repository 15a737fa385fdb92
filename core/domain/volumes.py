"""Volumes: items of several slices (a multi-frame DICOM file, or a DICOM series), whose boxes,
polygons, keypoint instances and masks may each belong to one slice.

A shape without a slice belongs to the whole item, as every shape did before shapes had
slices. `slice_shapes` and `source_files` are what a per-slice writer starts from (the
exports' image per slice, and a DICOM-SEG writer: the source images in slice order, and each
slice's shapes)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TypeAlias, TypeVar

from core.domain.annotations import (
    AnnotationValue,
    Box,
    BoxSet,
    KeypointInstance,
    KeypointSet,
    Polygon,
    PolygonSet,
)
from core.domain.items import Annotation, Item
from core.domain.masks import Mask, MaskSet

Shape: TypeAlias = Box | Polygon | KeypointInstance | Mask


def volume_frames(item: Item) -> int:
    """How many slices an item's shapes may be drawn on: a DICOM file's frames or a series'
    slices; none for any other image, which is no volume (a multi-page TIFF shows its first
    page), so a shape on a slice of it is refused."""
    media = item.media
    return media.frames if media is not None and media.format == "dicom" else 0


def source_files(item: Item) -> list[str]:
    """The files a volume's slices come from, in slice order: a series' slices, one file
    each, or the item's one multi-frame file (its frames are the slices). What a writer that
    refers to the source images (DICOM-SEG) reads, beside `slice_shapes`."""
    if item.series is not None:
        return [member.path for member in item.series.shown]
    return [item.path]


def slice_shapes(value: AnnotationValue | None) -> dict[int | None, list[Shape]]:
    """The boxes, polygons, keypoint instances or masks of a value by the slice they are on
    (None: the whole item), in slice order, whole-item shapes first; empty for a value without
    shapes."""
    shapes: list[Shape] = []
    if isinstance(value, BoxSet):
        shapes = list(value.boxes)
    elif isinstance(value, PolygonSet):
        shapes = list(value.polygons)
    elif isinstance(value, KeypointSet):
        shapes = list(value.keypoints)
    elif isinstance(value, MaskSet):
        shapes = list(value.masks)
    found: dict[int | None, list[Shape]] = {}
    for shape in sorted(shapes, key=lambda s: -1 if s.slice is None else s.slice):
        found.setdefault(shape.slice, []).append(shape)
    return found


def moved(value: AnnotationValue, moves: Mapping[int, int]) -> AnnotationValue:
    """`value` with each shape's slice n moved to `moves[n]` (a slice without an entry stays
    where it was: its shapes are kept, never dropped)."""

    if isinstance(value, BoxSet):
        return BoxSet(tuple(_follow(b, moves) for b in value.boxes))
    if isinstance(value, PolygonSet):
        return PolygonSet(tuple(_follow(p, moves) for p in value.polygons))
    if isinstance(value, KeypointSet):
        return KeypointSet(tuple(_follow(k, moves) for k in value.keypoints))
    if isinstance(value, MaskSet):
        return MaskSet(tuple(_follow(m, moves) for m in value.masks))
    return value


_S = TypeVar("_S", Box, Polygon, KeypointInstance, Mask)


def _follow(shape: _S, moves: Mapping[int, int]) -> _S:
    if shape.slice is None or moves.get(shape.slice, shape.slice) == shape.slice:
        return shape
    return replace(shape, slice=moves[shape.slice])


def renumbered(item: Item, moves: Mapping[int, int]) -> Item:
    """`item` with the shapes of every answer, suggestion and final value following their
    slices to their new places (a slice arrived between them)."""
    if all(old == new for old, new in moves.items()):
        return item

    def value(found: AnnotationValue | None) -> AnnotationValue | None:
        return None if found is None else moved(found, moves)

    def answer(annotation: Annotation) -> Annotation:
        return annotation.model_copy(update={"value": moved(annotation.value, moves)})

    update: dict[str, object] = {
        "annotations": [answer(a) for a in item.annotations],
        "final": value(item.final),
        "prefill": value(item.prefill),
    }
    if item.prediction is not None:
        update["prediction"] = item.prediction.model_copy(
            update={"value": moved(item.prediction.value, moves)}
        )
    return item.model_copy(update=update)
