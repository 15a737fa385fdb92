"""The DICOM-SEG export of a mask project: a zip holding one Segmentation instance per DICOM item
(a multi-frame file, or a series of single-frame files), `<id>.dcm` named as VOC names its
files (the item path's flat id, made unique), and `skipped.csv`, each item left out and why.

An item's file is written by `dicom_seg.segmentation` over its source files, read from the
store in slice order, from its final masks slice by slice: each slice's masks become that
frame's class-index map (instances of a class join the class's segment). A mask without a
slice is on the item's own image, its first frame, as the per-slice exports keep whole-item
shapes on the item's own image (`core.export.slices`): on a single-frame file that is the
only frame; on a volume it is what a mask painted before masks had slices was drawn on. The
frame's own masks win a pixel both paint.

Left out, with the reason in `skipped.csv`: an item that is not DICOM, one without masks, one
whose source file is gone from the store, and one highdicom cannot segment (its reason)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from core.domain.errors import NotFound
from core.domain.items import Item
from core.domain.volumes import source_files
from core.export import mask_pixels
from core.export.dicom_seg import NotSegmentable, segmentation
from core.export.records import Record

SourceFile = Callable[[str], bytes]
"""An item path's bytes, from the store (NotFound when the file is gone)."""
SKIPPED = "skipped.csv"
SKIPPED_HEADER = b"path,reason\r\n"
"""The report's header: every item left out by its path, and why."""


def entries(
    records: Iterable[Record],
    archive: zipfile.ZipFile,
    categories: Sequence[str],
    read: SourceFile | None,
    seg_id: Callable[[Record], str],
) -> bytes:
    """Each record's SEG file in `archive` (named by `seg_id`); the rows of `skipped.csv` for
    the records left out."""
    if read is None:
        raise ValueError("a DICOM-SEG export reads the items' source files: give `read`")
    skipped = io.StringIO()
    rows = csv.writer(skipped, lineterminator="\r\n")
    for rec in records:
        try:
            data = item_file(rec, categories, read)
        except NotSegmentable as why:
            rows.writerow([rec.path, str(why)])
            continue
        archive.writestr(f"{seg_id(rec)}.dcm", data)
    return skipped.getvalue().encode()


def item_file(rec: Record, categories: Sequence[str], read: SourceFile) -> bytes:
    """The SEG file of one item (NotSegmentable, with the reason, when it has none)."""
    if rec.format != "dicom":
        raise NotSegmentable(f"not a DICOM file (it is {rec.format or 'of unknown format'})")
    masks = (rec.value or {}).get("masks") or []
    if not masks:
        raise NotSegmentable("no masks")
    sources = [_source(read, path) for path in source_files(Item.model_validate(rec.document))]
    shape = _grid(masks)
    by_frame: dict[int, list[dict[str, Any]]] = {}
    for mask in sorted(masks, key=lambda m: m.get("slice") is not None):  # the frame's own last
        by_frame.setdefault(mask.get("slice") or 0, []).append(mask)
    labels: dict[int, npt.NDArray[np.integer]] = {
        frame: mask_pixels.class_index({"masks": group}, categories, *shape)
        for frame, group in by_frame.items()
    }
    return segmentation(sources, labels, categories, identity=_identity(rec, categories))


def _source(read: SourceFile, path: str) -> Dataset:
    try:
        return dcmread(io.BytesIO(read(path)), stop_before_pixels=True)
    except NotFound:
        raise NotSegmentable(f"its source file {path!r} is gone from storage") from None
    except (InvalidDicomError, ValueError, EOFError) as error:
        raise NotSegmentable(f"its source file {path!r} cannot be read: {error}") from None


def _grid(masks: list[dict[str, Any]]) -> tuple[int, int]:
    height, width = masks[0]["size"]  # every mask of an answer is on the display grid
    return int(height), int(width)


def _identity(rec: Record, categories: Sequence[str]) -> str:
    """The same item, masks and classes give the same UIDs (a part written again is the same
    instance); changed masks give new ones."""
    content = json.dumps([rec.value, list(categories)], sort_keys=True).encode()
    return f"{rec.id}:{hashlib.blake2b(content, digest_size=16).hexdigest()}"


def skipped_file(rows: bytes) -> bytes:
    return SKIPPED_HEADER + rows
