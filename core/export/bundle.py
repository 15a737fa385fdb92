"""One export file of any format: picks the writer, wraps multi-file formats (and splits) in a
zip written as a stream, and says what the file is called and how to load it."""

from __future__ import annotations

import functools
import io
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import IO

from PIL import Image

from core.domain.errors import InvalidInput, NotFound
from core.domain.exports import ExportFormat
from core.domain.keypoints import KeypointTemplate
from core.domain.relations import RelationClass
from core.domain.task_types import MASK_TASKS
from core.export import (
    azureml,
    brat,
    coco,
    conll,
    loupe_jsonl,
    mask_pixels,
    seg_files,
    table,
    voc,
    yolo,
)
from core.export.records import (
    TRAIN,
    VALIDATION,
    ImageUrl,
    Options,
    Picture,
    Pictures,
    Record,
    only,
)
from core.export.split import split_key, validation_keys

Scan = Callable[[], Iterable[Record]]
"""Every record of the export, read afresh (a split export reads the items once per split)."""
Spool = Callable[[], IO[bytes]]
"""A fresh, empty, seekable temp file (COCO keeps its annotations there until the images end)."""

_IMAGE = {"image_multiclass", "image_multilabel", "image_bounding_box", "image_polygon"}
_SHAPES = {"image_bounding_box", "image_polygon"}
_KEYPOINTS = "image_keypoints"
_FITS: dict[ExportFormat, set[str]] = {
    ExportFormat.COCO: _IMAGE | MASK_TASKS | {_KEYPOINTS},
    ExportFormat.AZUREML_JSONL: _IMAGE | MASK_TASKS | {"text_multiclass", "text_multilabel"},
    ExportFormat.VOC: _IMAGE | MASK_TASKS,
    ExportFormat.YOLO: _SHAPES | {_KEYPOINTS},
    ExportFormat.CONLL: {"text_ner"},
    ExportFormat.BRAT: {"text_ner"},
    ExportFormat.DICOM_SEG: set(MASK_TASKS),
}
_WHY_NOT = {
    (ExportFormat.AZUREML_JSONL, _KEYPOINTS): "Azure ML's image schemas (classification, "
    "object detection, instance segmentation) have no keypoints",
    (ExportFormat.VOC, _KEYPOINTS): "Pascal VOC's annotation XML has no keypoints",
}
"""Why a format refuses a task type, where the list of what it takes does not say enough."""


@dataclass(frozen=True)
class Target:
    """What the export writes for one project."""

    format: ExportFormat
    task_type: str
    categories: Sequence[str]
    options: Options
    image_url: ImageUrl
    name: str = "export"
    pictures: Pictures | None = None
    """Where YOLO and VOC get the images they ship beside the labels; None: labels only."""
    relation_classes: Sequence[RelationClass] = ()
    """A text_ner project's, for the formats that declare them (BRAT's annotation.conf)."""
    templates: Mapping[str, KeypointTemplate] = field(default_factory=dict)
    """image_keypoints: each category's point template (COCO's and YOLO pose's point lists)."""
    attributes: Sequence[str] = ()
    """The attribute names the classes declare, in order (CSV gives each a column)."""
    source_file: seg_files.SourceFile | None = None
    """DICOM-SEG: an item's source files, read by path from the store."""

    @property
    def keypoints(self) -> int:
        """The most points a category's template has (YOLO pose's `kpt_shape`)."""
        return max((len(t.points) for t in self.templates.values()), default=0)


WITH_PICTURES = frozenset({ExportFormat.YOLO, ExportFormat.VOC})
"""The formats whose files are a trainable dataset only with the images inside."""


def check_fits(format: ExportFormat, task_type: str) -> None:
    fits = _FITS.get(format)
    if fits is not None and task_type not in fits:
        why = _WHY_NOT.get((format, task_type))
        if format is ExportFormat.DICOM_SEG:
            why = "a DICOM Segmentation holds masks, painted in a segmentation project"
        raise InvalidInput.one(
            "format",
            f"{format.value} does not hold {task_type} labels"
            + (f" ({why}); export coco, yolo, csv or loupe_jsonl" if why else "")
            + "; it takes "
            + ", ".join(sorted(fits)),
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


_TYPES = {
    ".json": "application/json",
    ".csv": "text/csv; charset=utf-8",
    ".jsonl": "application/x-ndjson",
    ".conll": "text/plain; charset=utf-8",
    ".zip": "application/zip",
}
CONTENT_TYPES = tuple(_TYPES.values())
"""Every type an export file is sent as."""


def content_type(name: str) -> str:
    return _TYPES.get(name[name.rfind(".") :], _TYPES[".zip"])


def write(target: Target, scan: Scan, out: IO[bytes], spool: Spool) -> None:
    check_fits(target.format, target.task_type)
    splits = (TRAIN, VALIDATION) if target.options.validation > 0 else (TRAIN,)
    scan = split_scan(target.options, scan)
    fmt = target.format
    if fmt is ExportFormat.CSV:
        texts = target.task_type.startswith("text_")
        table.write_csv(scan(), out, texts=texts, attributes=target.attributes)
    elif fmt is ExportFormat.LOUPE_JSONL:
        loupe_jsonl.write_loupe_jsonl(
            scan(), out, predictions=target.options.predictions, split=len(splits) > 1
        )
    elif fmt in (ExportFormat.COCO, ExportFormat.CONLL) and len(splits) == 1:
        _single(target, scan(), out, spool)
    else:
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            _archive(target, scan, archive, splits, spool)


def split_scan(options: Options, scan: Scan) -> Scan:
    """`scan` with each record's split set, chosen in a first pass over the items
    (`core.export.split`): the same items in validation whatever the format. Items of a kept
    split stay where it put them; the others are split among themselves."""
    if options.validation <= 0:
        return scan
    kept = options.kept

    def earlier(rec: Record) -> str | None:
        return kept.side(rec.id) if kept is not None else None

    keys = validation_keys(
        ((rec.id, rec.value) for rec in scan() if earlier(rec) is None),
        fraction=options.validation,
        seed=options.seed,
    )

    def split() -> Iterator[Record]:
        for rec in scan():
            side = earlier(rec)
            if side is None:
                side = VALIDATION if split_key(options.seed, rec.id) in keys else TRAIN
            yield replace(rec, split=side) if side != rec.split else rec

    return split


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
                templates=target.templates,
            )
    else:
        conll.write_conll(records, out)


def _archive(
    target: Target, scan: Scan, archive: zipfile.ZipFile, splits: Sequence[str], spool: Spool
) -> None:
    fmt, task = target.format, target.task_type
    if fmt is ExportFormat.YOLO:
        _yolo(target, scan, archive, validation=len(splits) > 1)
        return
    if fmt is ExportFormat.VOC:
        _voc(target, scan, archive, validation=len(splits) > 1)
        return
    if fmt is ExportFormat.BRAT:
        archive.writestr(
            brat.CONF, brat.annotation_conf(target.categories, target.relation_classes)
        )
        ids = voc.VocIds()
        brat_entries(target, scan(), archive, lambda rec: ids.id(rec.path))
        return
    if fmt is ExportFormat.DICOM_SEG:
        ids = voc.VocIds()
        rows = seg_files.entries(
            scan(), archive, target.categories, target.source_file, lambda r: ids.id(r.path)
        )
        archive.writestr(seg_files.SKIPPED, seg_files.skipped_file(rows))
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


def _yolo(target: Target, scan: Scan, archive: zipfile.ZipFile, *, validation: bool) -> None:
    yaml = yolo.data_yaml(target.categories, validation=validation, keypoints=target.keypoints)
    archive.writestr("data.yaml", yaml)
    yolo_entries(target, scan(), archive)


def yolo_entries(target: Target, records: Iterable[Record], archive: zipfile.ZipFile) -> None:
    """Each record's image (where shipped) and label file."""
    class_id = {name: i for i, name in enumerate(target.categories)}
    for rec in records:
        picture = target.pictures(rec, yolo.IMAGE_FORMATS) if target.pictures else None
        image = yolo.image_name(rec, picture.format if picture else None)
        if picture is not None:
            _put(archive, image, picture.chunks)
        # Every image has a label file, empty for one without shapes (a background image).
        archive.writestr(yolo.label_name(image), yolo.label_lines(rec, class_id, target.keypoints))


def brat_entries(
    target: Target,
    records: Iterable[Record],
    archive: zipfile.ZipFile,
    doc_id: Callable[[Record], str],
) -> None:
    """Each record's text and standoff annotations, named by `doc_id` (flat and unique)."""
    split = target.options.validation > 0
    classes = target.relation_classes
    for name, content in brat.documents(records, target.categories, classes, doc_id, split=split):
        archive.writestr(name, content)


_JPEG = frozenset({"jpeg"})


def _voc(target: Target, scan: Scan, archive: zipfile.ZipFile, *, validation: bool) -> None:
    ids = voc.VocIds()
    listed = voc_entries(target, scan(), archive, lambda rec: ids.id(rec.path))
    sets = voc_sets(listed, validation=validation)
    for name, members in sets.items():
        archive.writestr(f"ImageSets/Main/{name}.txt", members)
    if target.task_type in MASK_TASKS:  # as `parts` lays them out, after Main's
        for name, members in sets.items():
            archive.writestr(f"{voc.SEGMENTATION_SETS}{name}.txt", members)
        archive.writestr("class_table.csv", voc.class_table(list(target.categories)))


def voc_entries(
    target: Target,
    records: Iterable[Record],
    archive: zipfile.ZipFile,
    voc_id: Callable[[Record], str],
) -> dict[str, list[str]]:
    """Each record's picture (where shipped) and annotation file, named by `voc_id`; the ids
    of each split."""
    listed: dict[str, list[str]] = {TRAIN: [], VALIDATION: []}
    for rec in records:
        name = voc_id(rec)
        picture = target.pictures(rec, _JPEG) if target.pictures else None
        if picture is None:
            xml = voc.voc_xml(rec, name)
        else:
            _put(archive, f"JPEGImages/{name}.jpg", functools.partial(_as_jpeg, picture))
            xml = voc.voc_xml(rec, name, width=picture.width, height=picture.height)
        archive.writestr(f"Annotations/{name}.xml", xml)
        if target.task_type in MASK_TASKS:
            size = (picture.height, picture.width) if picture else (rec.height, rec.width)
            _voc_masks(target, rec, name, archive, size)
        listed[rec.split].append(name)
    return listed


def _voc_masks(
    target: Target,
    rec: Record,
    name: str,
    archive: zipfile.ZipFile,
    size: tuple[int | None, int | None],
) -> None:
    """The record's class-index PNG (and object-index PNG for instances), at the picture's size
    (the mask's own when the image's is unknown)."""
    masks = (rec.value or {}).get("masks", [])
    height, width = size
    if not height or not width:
        height, width = masks[0]["size"] if masks else (1, 1)
    classes = mask_pixels.class_index(rec.value, target.categories, height, width)
    archive.writestr(
        f"SegmentationClass/{name}.png", mask_pixels.index_png(classes, len(target.categories))
    )
    if target.task_type == "image_instance_segmentation":
        objects = mask_pixels.object_index(rec.value, height, width)
        archive.writestr(
            f"SegmentationObject/{name}.png", mask_pixels.index_png(objects, len(masks))
        )


def voc_sets(listed: dict[str, list[str]], *, validation: bool) -> dict[str, str]:
    """ImageSets/Main's lists (train, trainval, and val with a split), one id a line."""
    train, val = ("".join(f"{m}\n" for m in listed[side]) for side in (TRAIN, VALIDATION))
    return {"train": train, "trainval": train + val} | ({"val": val} if validation else {})


def _as_jpeg(picture: Picture) -> Iterator[bytes]:
    """A JPEG's bytes as they are; another picture (a display rendition, at most 2048 pixels
    a side) encoded as JPEG."""
    if picture.format == "jpeg":
        return picture.chunks()
    with Image.open(io.BytesIO(b"".join(picture.chunks()))) as image:
        out = io.BytesIO()
        image.convert("RGB").save(out, "JPEG", quality=95)
    return iter((out.getvalue(),))


def _put(archive: zipfile.ZipFile, name: str, chunks: Callable[[], Iterable[bytes]]) -> None:
    """Store a picture; one whose file is gone from storage (deleted since it was ingested)
    is left out, its labels kept, rather than failing the whole export."""
    try:
        stream = iter(chunks())
        first = next(stream, b"")
    except NotFound:
        return
    # Stored, not deflated: pictures are compressed already, and deflating them costs most
    # of an export's time for nothing.
    with archive.open(zipfile.ZipInfo(name), "w", force_zip64=True) as part:
        part.write(first)
        for chunk in stream:
            part.write(chunk)


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
    if format is ExportFormat.BRAT:
        return unzip + (
            "from pathlib import Path\n"
            f"for ann in sorted(Path({folder!r}).rglob('*.ann')):\n"
            "    lines = ann.read_text(encoding='utf-8').splitlines()\n"
            "    print(ann.stem, sum(l[0] == 'T' for l in lines), 'spans',"
            " sum(l[0] == 'R' for l in lines), 'relations')\n"
        )
    if format is ExportFormat.DICOM_SEG:
        return unzip + (
            "from pathlib import Path\nimport highdicom as hd\n"
            f"for path in sorted(Path({folder!r}).glob('*.dcm')):\n"
            "    seg = hd.seg.segread(path)\n"
            "    print(path.name, [s.segment_label for s in seg.SegmentSequence],"
            " seg.NumberOfFrames, 'frames')\n"
        )
    if format is ExportFormat.YOLO:
        return unzip + (
            "from ultralytics import YOLO\n"
            f"YOLO('yolo11n.pt').train(data={folder + '/data.yaml'!r}, epochs=10)\n"
        )
    if format is ExportFormat.VOC:
        devkit = folder + "/VOCdevkit/VOC2012"
        return (
            f"import zipfile\nzipfile.ZipFile({name!r}).extractall({devkit!r})\n"
            "from torchvision.datasets import VOCDetection\n"
            f"train = VOCDetection({folder!r}, year='2012', image_set='train')\n"
            "image, target = train[0]\nprint(len(train), target['annotation']['object'])\n"
        )
    return (
        f"sentences = open({name!r}, encoding='utf-8').read().strip().split('\\n\\n')[1:]\n"
        "rows = [[line.rsplit(' ', 1) for line in s.splitlines()] for s in sentences]\n"
        "print(len(rows), 'sentences')\n"
    )
