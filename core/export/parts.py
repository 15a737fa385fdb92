"""An export file written in parts: each part holds the bytes of a slice of the records (in
the order the whole file lists them), in one or more sections, and the file is its fixed pieces
and the sections' parts in order. Counters a format numbers by (COCO's image and annotation
ids) are carried from part to part, so the file is byte for byte the one written in one pass,
however it was cut.

Formats of one stream of records are written so: Loupe JSONL, CSV, CoNLL and COCO without a
split. So are Azure ML and YOLO zips (`ZipLayout`): a member whose data runs through every
part (data.jsonl, data.csv) is one section, deflated into the zip at the join; members whose
data one part holds whole (YOLO's images and labels) are written by the part as zip entries of
their own, and the join copies those entries as they are and writes the zip's central
directory. VOC (whose ids are made unique over every item) and splits (which choose their
validation set from every item first) are written in one pass (`layout` is None)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from core.domain.exports import ExportFormat
from core.export import azureml, coco, conll, loupe_jsonl, table, yolo
from core.export.bundle import Target, yolo_entries
from core.export.records import Record


@dataclass(frozen=True)
class Layout:
    """The file: fixed bytes, and section numbers where each section's parts go in order."""

    pieces: tuple[bytes | int, ...]

    @property
    def sections(self) -> int:
        return sum(1 for piece in self.pieces if isinstance(piece, int))


@dataclass(frozen=True)
class Member:
    """A zip member whose data is fixed bytes and sections' parts in order."""

    name: str
    pieces: tuple[bytes | int, ...]


@dataclass(frozen=True)
class Entries:
    """Section `section` holds a part's zip entries, `section + 1` their directory."""

    section: int


@dataclass(frozen=True)
class ZipLayout:
    """A zip file: its members in order, and where each part's own entries go."""

    members: tuple[Member | Entries, ...]

    @property
    def sections(self) -> int:
        count = 0
        for member in self.members:
            if isinstance(member, Entries):
                count = max(count, member.section + 2)
            else:
                count = max([count, *(p + 1 for p in member.pieces if isinstance(p, int))])
        return count


def layout(target: Target) -> Layout | ZipLayout | None:
    """How `target`'s file is put together from parts; None when it is written whole."""
    if target.options.validation > 0:
        return None
    texts = target.task_type.startswith("text_")
    if target.format is ExportFormat.AZUREML_JSONL and texts:
        mltable = azureml.TEXT_MLTABLE.format(file="data.csv").encode()
        header = _written(lambda out: azureml.write_text_csv((), out, task_type=target.task_type))
        return ZipLayout((Member("MLTable", (mltable,)), Member("data.csv", (header, 0))))
    if target.format is ExportFormat.AZUREML_JSONL:
        mltable = azureml.IMAGE_MLTABLE.format(file="data.jsonl").encode()
        return ZipLayout((Member("MLTable", (mltable,)), Member("data.jsonl", (0,))))
    if target.format is ExportFormat.YOLO:
        data_yaml = yolo.data_yaml(target.categories, validation=False).encode()
        return ZipLayout((Member("data.yaml", (data_yaml,)), Entries(0)))
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
    if fmt is ExportFormat.AZUREML_JSONL and texts:
        task = target.task_type
        header = _written(lambda out: azureml.write_text_csv((), out, task_type=task))
        rows = _written(lambda out: azureml.write_text_csv(records, out, task_type=task))
        return [rows[len(header) :]]
    if fmt is ExportFormat.AZUREML_JSONL:
        url, task = target.image_url, target.task_type
        return [
            _written(
                lambda out: azureml.write_image_jsonl(records, out, task_type=task, image_url=url)
            )
        ]
    if fmt is ExportFormat.YOLO:
        return _entries(lambda archive: yolo_entries(target, records, archive))
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


def _entries(write: Callable[[zipfile.ZipFile], None]) -> list[bytes]:
    """A part's own zip entries, written as the whole file's writer writes them, and their
    directory (its length first: the entries' length, where the directory began)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        write(archive)
        start = archive.start_dir
    data = out.getvalue()
    return [data[:start], start.to_bytes(8, "big") + data[start:]]


def directory(section: bytes) -> list[zipfile.ZipInfo]:
    """The entries a part's directory section describes, with offsets within its entries."""
    start = int.from_bytes(section[:8], "big")
    with zipfile.ZipFile(io.BytesIO(section[8:])) as listing:
        # Read alone, the directory seems to follow `start` bytes of data that are not there:
        # zipfile moves every offset back by that much.
        infos = listing.infolist()
    for info in infos:
        info.header_offset += start
    return infos


def _written(write: Any) -> bytes:
    out = io.BytesIO()
    write(out)
    return out.getvalue()
