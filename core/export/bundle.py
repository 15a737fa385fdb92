"""One export file of any format: picks the writer, wraps multi-file formats (and splits) in a
zip written as a stream, and says what the file is called and how to load it."""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import IO

from core.domain.errors import InvalidInput
from core.domain.exports import ExportFormat
from core.export import azureml, coco, conll, loupe_jsonl, table, voc, yolo
from core.export.records import TRAIN, VALIDATION, ImageUrl, Options, Record, only

Scan = Callable[[], Iterable[Record]]
"""Every record of the export, read afresh (a split export reads the items once per split)."""
Spool = Callable[[], IO[bytes]]
"""A fresh, empty, seekable temp file (COCO keeps its annotations there until the images end)."""

_IMAGE = {"image_multiclass", "image_multilabel", "image_bounding_box", "image_polygon"}
_SHAPES = {"image_bounding_box", "image_polygon"}
_FITS: dict[ExportFormat, set[str]] = {
    ExportFormat.COCO: _IMAGE,
    ExportFormat.AZUREML_JSONL: _IMAGE | {"text_multiclass", "text_multilabel"},
    ExportFormat.VOC: _IMAGE,
    ExportFormat.YOLO: _SHAPES,
    ExportFormat.CONLL: {"text_ner"},
}


@dataclass(frozen=True)
class Target:
    """What the export writes for one project."""

    format: ExportFormat
    task_type: str
    categories: Sequence[str]
    options: Options
    image_url: ImageUrl
    name: str = "export"


def check_fits(format: ExportFormat, task_type: str) -> None:
    fits = _FITS.get(format)
    if fits is not None and task_type not in fits:
        raise InvalidInput.one(
            "format",
            f"{format.value} does not hold {task_type} labels; it takes " + ", ".join(sorted(fits)),
        )


def file_name(target: Target) -> str:
    split = target.options.validation > 0
    single = {
        ExportFormat.COCO: ".json",
        ExportFormat.CSV: ".csv",
        ExportFormat.CONLL: ".conll",
        ExportFormat.LOUPE_JSONL: ".jsonl",
    }
    suffix = single.get(target.format)
    if suffix is None or (split and target.format in (ExportFormat.COCO, ExportFormat.CONLL)):
        suffix = ".zip"
    return f"{target.name}-{target.format.value}{suffix}"


def content_type(name: str) -> str:
    return {
        ".json": "application/json",
        ".csv": "text/csv; charset=utf-8",
        ".jsonl": "application/x-ndjson",
        ".conll": "text/plain; charset=utf-8",
    }.get(name[name.rfind(".") :], "application/zip")


def write(target: Target, scan: Scan, out: IO[bytes], spool: Spool) -> None:
    check_fits(target.format, target.task_type)
    splits = (TRAIN, VALIDATION) if target.options.validation > 0 else (TRAIN,)
    fmt = target.format
    if fmt is ExportFormat.CSV:
        table.write_csv(scan(), out)
    elif fmt is ExportFormat.LOUPE_JSONL:
        loupe_jsonl.write_loupe_jsonl(scan(), out, predictions=target.options.predictions)
    elif fmt in (ExportFormat.COCO, ExportFormat.CONLL) and len(splits) == 1:
        _single(target, scan(), out, spool)
    else:
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            _archive(target, scan, archive, splits, spool)


def _single(target: Target, records: Iterable[Record], out: IO[bytes], spool: Spool) -> None:
    if target.format is ExportFormat.COCO:
        with spool() as annotations:
            coco.write_coco(
                records,
                out,
                categories=target.categories,
                spool=annotations,
                normalized=target.options.normalized_coco,
                description=target.name,
            )
    else:
        conll.write_conll(records, out)


def _archive(
    target: Target, scan: Scan, archive: zipfile.ZipFile, splits: Sequence[str], spool: Spool
) -> None:
    fmt, task = target.format, target.task_type
    if fmt is ExportFormat.YOLO:
        archive.writestr("data.yaml", yolo.data_yaml(target.categories, validation=len(splits) > 1))
        class_id = {name: i for i, name in enumerate(target.categories)}
        for rec in scan():
            archive.writestr(yolo.label_name(rec), yolo.label_lines(rec, class_id))
        return
    if fmt is ExportFormat.VOC:
        for rec in scan():
            stem = rec.path.rsplit(".", 1)[0]
            folder = f"{rec.split}/" if len(splits) > 1 else ""
            archive.writestr(f"{folder}Annotations/{stem}.xml", voc.voc_xml(rec))
        return
    for split in splits:
        folder = f"{split}/" if len(splits) > 1 else ""
        records = only(scan(), split) if len(splits) > 1 else scan()
        if fmt is ExportFormat.AZUREML_JSONL and task.startswith("text_"):
            archive.writestr(f"{folder}MLTable", azureml.TEXT_MLTABLE.format(file="data.csv"))
            with archive.open(f"{folder}data.csv", "w", force_zip64=True) as part:
                azureml.write_text_csv(records, part, task_type=task)
        elif fmt is ExportFormat.AZUREML_JSONL:
            archive.writestr(f"{folder}MLTable", azureml.IMAGE_MLTABLE.format(file="data.jsonl"))
            with archive.open(f"{folder}data.jsonl", "w", force_zip64=True) as part:
                azureml.write_image_jsonl(records, part, task_type=task, image_url=target.image_url)
        else:
            suffix = ".json" if fmt is ExportFormat.COCO else ".conll"
            with archive.open(f"{folder}{split}{suffix}", "w", force_zip64=True) as part:
                _single(target, records, part, spool)


def snippet(format: ExportFormat, name: str) -> str:
    """Ready-to-run Python that loads the downloaded file `name`."""
    folder = name.removesuffix(".zip")
    unzip = f"import zipfile\nzipfile.ZipFile({name!r}).extractall({folder!r})\n"
    if format is ExportFormat.COCO and name.endswith(".json"):
        return (
            "from pycocotools.coco import COCO\n"
            f"coco = COCO({name!r})\n"
            "print(len(coco.getImgIds()), 'images', len(coco.getAnnIds()), 'annotations')\n"
        )
    if format is ExportFormat.COCO:
        return unzip + (
            "from pycocotools.coco import COCO\n"
            f"train = COCO({folder + '/train/train.json'!r})\n"
            f"validation = COCO({folder + '/validation/validation.json'!r})\n"
        )
    if format is ExportFormat.AZUREML_JSONL:
        return unzip + (
            "import mltable\n"
            f"table = mltable.load({folder!r})  # or a train/ or validation/ folder inside\n"
            "df = table.to_pandas_dataframe()\nprint(df.head())\n"
        )
    if format is ExportFormat.CSV:
        return f"import pandas as pd\ndf = pd.read_csv({name!r})\nprint(df.head())\n"
    if format is ExportFormat.LOUPE_JSONL:
        return f"import pandas as pd\ndf = pd.read_json({name!r}, lines=True)\nprint(df.head())\n"
    if format is ExportFormat.YOLO:
        return unzip + (
            f"# copy each image to {folder}/images/<split>/<its path>, then:\n"
            "from ultralytics import YOLO\n"
            f"YOLO('yolo11n.pt').train(data={folder + '/data.yaml'!r}, epochs=10)\n"
        )
    if format is ExportFormat.VOC:
        return unzip + (
            "import pathlib, xml.etree.ElementTree as ET\n"
            f"for xml in pathlib.Path({folder!r}).rglob('*.xml'):\n"
            "    root = ET.parse(xml).getroot()\n"
            "    print(root.findtext('path'), [o.findtext('name') for o in root.iter('object')])\n"
        )
    return (
        f"sentences = open({name!r}, encoding='utf-8').read().strip().split('\\n\\n')[1:]\n"
        "rows = [[line.rsplit(' ', 1) for line in s.splitlines()] for s in sentences]\n"
        "print(len(rows), 'sentences')\n"
    )
