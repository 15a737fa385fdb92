"""An export file written in parts: each part holds the bytes of a slice of the records (in
the order the whole file lists them), in one or more sections, and the file is its fixed pieces
and the sections' parts in order. Counters a format numbers by (COCO's image and annotation
ids, each split's own) are carried from part to part, and what a part must know of every item
(a split's validation set, VOC's ids) is planned before the first (`core.export.plan`), so the
file is the one written in one pass, however it was cut.

Every format is written so. Loupe JSONL, CSV, and COCO and CoNLL without a split are one
stream of records (`Layout`). The zips (`ZipLayout`: Azure ML, YOLO, VOC, DICOM-SEG, and COCO
and CoNLL with a split, a file per split) have two kinds of members: one whose data runs
through every part (data.jsonl, a split's COCO file, VOC's image lists, DICOM-SEG's
skipped.csv) is a section each part deflates on its own (`core.export.deflated`), and the join
copies the sections' compressed bytes one after the other; members whose data one part holds
whole (YOLO's and VOC's images and labels, DICOM-SEG's files) are written by the part as zip
entries of their own, which the join copies as they are. Nothing is compressed again at the
join."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from core.domain.exports import ExportFormat
from core.domain.task_types import MASK_TASKS
from core.export import (
    azureml,
    brat,
    coco,
    conll,
    deflated,
    loupe_jsonl,
    seg_files,
    table,
    voc,
    yolo,
)
from core.export.bundle import Target, brat_entries, voc_entries, yolo_entries
from core.export.plan import Plan
from core.export.records import TRAIN, VALIDATION, Record


@dataclass(frozen=True)
class Layout:
    """The file: fixed bytes, and section numbers where each section's parts go in order."""

    pieces: tuple[bytes | int, ...]

    @property
    def sections(self) -> int:
        return sum(1 for piece in self.pieces if isinstance(piece, int))


@dataclass(frozen=True)
class Member:
    """A zip member whose data is fixed bytes and sections' parts in order (each part's
    section deflated by the part)."""

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


def layout(target: Target) -> Layout | ZipLayout:
    """How `target`'s file is put together from parts."""
    split = target.options.validation > 0
    fmt = target.format
    if fmt is ExportFormat.LOUPE_JSONL:
        return Layout((0,))
    if fmt is ExportFormat.CSV:
        texts, names = target.task_type.startswith("text_"), target.attributes
        return Layout(
            (_written(lambda out: table.write_csv((), out, texts=texts, attributes=names)), 0)
        )
    if fmt is ExportFormat.YOLO:
        data_yaml = yolo.data_yaml(
            target.categories, validation=split, keypoints=target.keypoints
        ).encode()
        return ZipLayout((Member("data.yaml", (data_yaml,)), Entries(0)))
    if fmt is ExportFormat.BRAT:
        conf = brat.annotation_conf(target.categories, target.relation_classes).encode()
        return ZipLayout((Member(brat.CONF, (conf,)), Entries(0)))
    if fmt is ExportFormat.DICOM_SEG:
        return ZipLayout((Entries(0), Member(seg_files.SKIPPED, (seg_files.SKIPPED_HEADER, 2))))
    if fmt is ExportFormat.VOC:
        lists = (Member(f"{VOC_SETS}train.txt", (2,)), Member(f"{VOC_SETS}trainval.txt", (2, 3)))
        val = (Member(f"{VOC_SETS}val.txt", (3,)),) if split else ()
        return ZipLayout((Entries(0), *lists, *val, *_voc_segmentation(target, split)))
    if not split and fmt is ExportFormat.COCO:
        head = coco.coco_head(target.categories, target.name, target.templates)
        return Layout((head, 0, coco.COCO_MIDDLE, 1, coco.COCO_TAIL))
    if not split and fmt is ExportFormat.CONLL:
        return Layout((_written(lambda out: conll.write_conll((), out)), 0))
    members: list[Member] = []
    splits = _splits(target)
    for n, side in enumerate(splits):
        members += _members(target, f"{side}/" if len(splits) > 1 else "", side, n * _width(fmt))
    return ZipLayout(tuple(members))


VOC_SETS = "ImageSets/Main/"


def _voc_segmentation(target: Target, split: bool) -> tuple[Member, ...]:
    """A mask project's segmentation lists (the same ids as Main's) and its class table."""
    if target.task_type not in MASK_TASKS:
        return ()
    folder = voc.SEGMENTATION_SETS
    lists = [Member(f"{folder}train.txt", (2,)), Member(f"{folder}trainval.txt", (2, 3))]
    lists += [Member(f"{folder}val.txt", (3,))] if split else []
    return (*lists, Member("class_table.csv", (voc.class_table(list(target.categories)).encode(),)))


def _splits(target: Target) -> tuple[str, ...]:
    return (TRAIN, VALIDATION) if target.options.validation > 0 else (TRAIN,)


def _width(fmt: ExportFormat) -> int:
    """The sections of one split's file."""
    return 2 if fmt is ExportFormat.COCO else 1


def _members(target: Target, folder: str, side: str, first: int) -> list[Member]:
    """One split's file (or the whole file's members, without a split): COCO, CoNLL or an
    Azure ML table, its sections numbered from `first`."""
    if target.format is ExportFormat.COCO:
        head = coco.coco_head(target.categories, target.name, target.templates)
        pieces = (head, first, coco.COCO_MIDDLE, first + 1, coco.COCO_TAIL)
        return [Member(f"{folder}{side}.json", pieces)]
    if target.format is ExportFormat.CONLL:
        start = _written(lambda out: conll.write_conll((), out))
        return [Member(f"{folder}{side}.conll", (start, first))]
    if target.task_type.startswith("text_"):
        mltable = azureml.TEXT_MLTABLE.format(file="data.csv").encode()
        task = target.task_type
        header = _written(lambda out: azureml.write_text_csv((), out, task_type=task))
        table_csv = Member(f"{folder}data.csv", (header, first))
        return [Member(f"{folder}MLTable", (mltable,)), table_csv]
    mltable = azureml.IMAGE_MLTABLE.format(file="data.jsonl").encode()
    return [Member(f"{folder}MLTable", (mltable,)), Member(f"{folder}data.jsonl", (first,))]


def write_part(
    target: Target, records: Sequence[Record], counts: dict[str, Any], plan: Plan
) -> list[bytes]:
    """Each section's bytes for `records` (on their sides of the split), the part after those
    `counts` (images, annotations) describe; `counts` is moved on past them. A zip member's
    sections are deflated (`deflated.compress`)."""
    fmt = target.format
    split = target.options.validation > 0
    if fmt is ExportFormat.LOUPE_JSONL:
        predictions = target.options.predictions
        write = loupe_jsonl.write_loupe_jsonl
        return [_written(lambda out: write(records, out, predictions=predictions, split=split))]
    if fmt is ExportFormat.CSV:
        texts, names = target.task_type.startswith("text_"), target.attributes
        header = _written(lambda out: table.write_csv((), out, texts=texts, attributes=names))
        rows = _written(lambda out: table.write_csv(records, out, texts=texts, attributes=names))
        return [rows[len(header) :]]
    if fmt is ExportFormat.YOLO:
        return _entries(lambda archive: yolo_entries(target, records, archive))
    if fmt is ExportFormat.BRAT:
        return _entries(lambda archive: brat_entries(target, records, archive, plan.voc_id))
    if fmt is ExportFormat.DICOM_SEG:
        skipped: list[bytes] = []
        read, categories = target.source_file, target.categories
        entries = _entries(
            lambda out: skipped.append(
                seg_files.entries(records, out, categories, read, plan.voc_id)
            )
        )
        return [*entries, deflated.compress(skipped[0])]
    if fmt is ExportFormat.VOC:
        listed: dict[str, list[str]] = {}

        def voc(archive: zipfile.ZipFile) -> None:
            listed.update(voc_entries(target, records, archive, plan.voc_id))

        entries = _entries(voc)
        lists = ("".join(f"{m}\n" for m in listed[side]).encode() for side in (TRAIN, VALIDATION))
        return [*entries, *map(deflated.compress, lists)]
    if not split and fmt is ExportFormat.COCO:
        return _coco(target, records, counts, "")
    if not split and fmt is ExportFormat.CONLL:
        return [_stream(target, records)]
    sections: list[bytes] = []
    for side in _splits(target):
        mine = [r for r in records if r.split == side] if split else records
        prefix = f"{side}:" if split else ""
        found = _coco(target, mine, counts, prefix) if fmt is ExportFormat.COCO else None
        sections += found if found is not None else [_stream(target, mine)]
    return [deflated.compress(section) for section in sections]


def _coco(
    target: Target, records: Iterable[Record], counts: dict[str, Any], prefix: str
) -> list[bytes]:
    """A COCO file's images and annotations of `records`, numbered on from `counts`."""
    category_id = coco.category_ids(target.categories)
    images, annotations = io.BytesIO(), io.BytesIO()
    seen, noted = f"{prefix}images", f"{prefix}annotations"
    for rec in records:
        counts[seen] = counts.get(seen, 0) + 1
        image, found = coco.coco_record(
            rec, counts[seen], counts.get(noted, 0), category_id, target.options.normalized_coco
        )
        images.write(image)
        annotations.write(found.text)
        counts[noted] = counts.get(noted, 0) + found.number
    return [images.getvalue(), annotations.getvalue()]


def _stream(target: Target, records: Iterable[Record]) -> bytes:
    """CoNLL's sentences, or an Azure ML table's rows, of `records`."""
    if target.format is ExportFormat.CONLL:
        start = _written(lambda out: conll.write_conll((), out))
        return _written(lambda out: conll.write_conll(records, out))[len(start) :]
    task = target.task_type
    if task.startswith("text_"):
        header = _written(lambda out: azureml.write_text_csv((), out, task_type=task))
        rows = _written(lambda out: azureml.write_text_csv(records, out, task_type=task))
        return rows[len(header) :]
    url = target.image_url
    return _written(
        lambda out: azureml.write_image_jsonl(records, out, task_type=task, image_url=url)
    )


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
