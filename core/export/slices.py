"""Volumes in the image formats (COCO, YOLO, Pascal VOC, Azure ML JSONL): a 2D detector trains
on pictures, so each slice of a volume that has shapes (boxes, polygons, keypoint instances or
masks) becomes an image of its own, with those shapes.

A slice's image is named after the file it is in: a DICOM series' slice by its own file's
path (a DICOM file a reader opens as it is), frame n of a multi-frame file as `path#n`. The
formats that ship pictures (YOLO, VOC) ship the slice's rendition, through the file's window.
Shapes drawn for the whole item stay on the item's own image (its first frame), as before
shapes had slices. Every image of a volume keeps the item's id, so that the train/validation
split keeps a volume on one side: slices of one patient never train and validate at once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from core.domain.exports import ExportFormat
from core.export.records import Options, Record, record

PER_SLICE = frozenset(
    {ExportFormat.COCO, ExportFormat.YOLO, ExportFormat.VOC, ExportFormat.AZUREML_JSONL}
)
"""The formats whose entries are pictures: a volume's slices become pictures of their own."""
_SHAPES = ("boxes", "polygons", "keypoints", "masks")


def per_slice(rec: Record) -> Iterator[Record]:
    """`rec` as the images it makes: one per slice with shapes, and the item's own for its
    whole-item shapes (or when it has no shape on a slice at all)."""
    value = rec.value or {}
    key = next((k for k in _SHAPES if k in value), None)
    shapes: list[dict[str, Any]] = value.get(key, []) if key else []
    on_slices = [s for s in shapes if s.get("slice") is not None]
    if key is None or not on_slices:
        yield rec
        return
    whole = [s for s in shapes if s.get("slice") is None]
    if whole:
        yield replace(rec, value={key: whole})
    by_slice: dict[int, list[dict[str, Any]]] = {}
    for shape in on_slices:
        by_slice.setdefault(shape["slice"], []).append(
            {k: v for k, v in shape.items() if k != "slice"}
        )
    for number in sorted(by_slice):
        yield replace(
            rec, path=slice_path(rec, number), value={key: by_slice[number]}, slice=number
        )


def slice_path(rec: Record, number: int) -> str:
    """The name of slice `number`'s image: its own file's path in a series, else `path#n`."""
    series = rec.document.get("series") or {}
    shown = [s for s in series.get("slices", ()) if not s.get("error")]
    if 0 <= number < len(shown):
        return str(shown[number]["path"])
    return f"{rec.path}#{number}"


def records_of(document: dict[str, Any], options: Options) -> Iterator[Record]:
    """The records of a stored item document: its images, when the format has one per slice."""
    found = record(document, options)
    if options.slices:
        yield from per_slice(found)
    else:
        yield found
