"""An export file written in parts: each part holds the bytes of a slice of the records (in
the order the whole file lists them), in one or more sections, and the file is its fixed pieces
and the sections' parts in order. Counters a format numbers by (COCO's image and annotation
ids) are carried from part to part, so the file is byte for byte the one written in one pass,
however it was cut.

Formats of one stream of records are written so: Loupe JSONL, CSV, CoNLL and COCO without a
split. Zips and splits (which choose their validation set from every item first) are written
in one pass (`layout` is None)."""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from core.domain.exports import ExportFormat
from core.export import coco, conll, loupe_jsonl, table
from core.export.bundle import Target
from core.export.records import Record


@dataclass(frozen=True)
class Layout:
    """The file: fixed bytes, and section numbers where each section's parts go in order."""

    pieces: tuple[bytes | int, ...]

    @property
    def sections(self) -> int:
        return sum(1 for piece in self.pieces if isinstance(piece, int))


def layout(target: Target) -> Layout | None:
    """How `target`'s file is put together from parts; None when it is written whole."""
    if target.options.validation > 0:
        return None
    texts = target.task_type.startswith("text_")
    if target.format is ExportFormat.LOUPE_JSONL:
        return Layout((0,))
    if target.format is ExportFormat.CSV:
        return Layout((_written(lambda out: table.write_csv((), out, texts=texts)), 0))
    if target.format is ExportFormat.CONLL:
        return Layout((_written(lambda out: conll.write_conll((), out)), 0))
    if target.format is ExportFormat.COCO:
        head = coco.coco_head(target.categories, target.name)
        return Layout((head, 0, coco.COCO_MIDDLE, 1, coco.COCO_TAIL))
    return None


def write_part(target: Target, records: Iterable[Record], counts: dict[str, Any]) -> list[bytes]:
    """Each section's bytes for `records`, the part after those `counts` (images, annotations)
    describe; `counts` is moved on past them."""
    texts = target.task_type.startswith("text_")
    fmt = target.format
    if fmt is ExportFormat.LOUPE_JSONL:
        predictions = target.options.predictions
        return [
            _written(
                lambda out: loupe_jsonl.write_loupe_jsonl(records, out, predictions=predictions)
            )
        ]
    if fmt is ExportFormat.CSV:
        header = _written(lambda out: table.write_csv((), out, texts=texts))
        rows = _written(lambda out: table.write_csv(records, out, texts=texts))
        return [rows[len(header) :]]
    if fmt is ExportFormat.CONLL:
        start = _written(lambda out: conll.write_conll((), out))
        return [_written(lambda out: conll.write_conll(records, out))[len(start) :]]
    category_id = coco.category_ids(target.categories)
    images, annotations = io.BytesIO(), io.BytesIO()
    for rec in records:
        counts["images"] = counts.get("images", 0) + 1
        image, found = coco.coco_record(
            rec,
            counts["images"],
            counts.get("annotations", 0),
            category_id,
            target.options.normalized_coco,
        )
        images.write(image)
        annotations.write(found.text)
        counts["annotations"] = counts.get("annotations", 0) + found.number
    return [images.getvalue(), annotations.getvalue()]


def _written(write: Any) -> bytes:
    out = io.BytesIO()
    write(out)
    return out.getvalue()
