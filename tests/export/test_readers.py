"""Every export format x task type, unpacked into a folder and loaded by the format's own reader
from another working directory, as a team taking its labels to its training code would:
pycocotools (COCO, with COCOeval scoring the labels against themselves), Azure ML's mltable,
pandas (CSV, Loupe JSONL), globox and torchvision's VOCDetection rules (VOC), globox and
Ultralytics' documented dataset rules (YOLO: Ultralytics itself needs PyTorch), seqeval
(CoNLL). What went in must come out."""

from __future__ import annotations

import contextlib
import io
import json
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import globox  # type: ignore[import-untyped]
import mltable  # type: ignore[import-untyped]
import pandas as pd
import pytest
import yaml
from PIL import Image
from pycocotools.coco import COCO  # type: ignore[import-untyped]
from pycocotools.cocoeval import COCOeval  # type: ignore[import-untyped]
from seqeval.metrics.sequence_labeling import get_entities  # type: ignore[import-untyped]

from core.domain.annotations import validate_annotation
from core.domain.exports import ExportFormat, ExportJob
from core.domain.task_types import TaskType
from core.export import bundle, parts
from core.export.records import Options, Picture, Record, record
from core.services import export_parts
from core.store.collections import EXPORTS, ITEMS, load
from tests.export.test_brat import parse_ann, parse_conf
from tests.support.deps import memory_deps

CLASSES = ["cat", "dog", "animal/bird"]
SIZES = {"a/1.jpg": (64, 48), "a/2.png": (40, 30), "b/3.jpg": (50, 50), "c/4.dcm": (32, 32)}
"""The pictures (JPEG, PNG, and a DICOM shipped as its display rendition)."""
IMAGE_VALUES: dict[str, dict[str, dict[str, Any]]] = {
    "image_multiclass": {p: {"label": CLASSES[i % 3]} for i, p in enumerate(SIZES)},
    "image_multilabel": {
        "a/1.jpg": {"labels": ["cat", "dog"]},
        "a/2.png": {"labels": ["animal/bird"]},
        "b/3.jpg": {"labels": ["dog"]},
        "c/4.dcm": {"labels": ["cat"]},
    },
    "image_bounding_box": {
        "a/1.jpg": {"boxes": [{"label": "cat", "x": 0.125, "y": 0.25, "w": 0.5, "h": 0.5}]},
        "a/2.png": {
            "boxes": [
                {"label": "dog", "x": 0.5, "y": 0.5, "w": 0.25, "h": 0.2},
                {"label": "animal/bird", "x": 0.0, "y": 0.0, "w": 1.0, "h": 1.0},
            ]
        },
        "b/3.jpg": {"boxes": [{"label": "dog", "x": 0.2, "y": 0.4, "w": 0.6, "h": 0.2}]},
        "c/4.dcm": {"boxes": [{"label": "cat", "x": 0.25, "y": 0.25, "w": 0.5, "h": 0.5}]},
    },
    "image_polygon": {
        "a/1.jpg": {
            "polygons": [{"label": "cat", "points": [[0.125, 0.25], [0.75, 0.25], [0.5, 0.75]]}]
        },
        "a/2.png": {
            "polygons": [
                {"label": "dog", "points": [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]}
            ]
        },
        "b/3.jpg": {
            "polygons": [{"label": "animal/bird", "points": [[0.2, 0.2], [0.8, 0.2], [0.5, 0.8]]}]
        },
        "c/4.dcm": {
            "polygons": [{"label": "cat", "points": [[0.25, 0.25], [0.75, 0.25], [0.75, 0.75]]}]
        },
    },
}
TEXTS = {
    "reviews.csv#1": 'He said "fine",\nthen left.\r\nTwo lines, a comma, quotes.',
    "reviews.csv#2": "007",
    "reviews.csv#3": "Ünïcödé 🙂 ; and a tab\there",
    "notes/4.txt": "",
}
TEXT_VALUES: dict[str, dict[str, dict[str, Any]]] = {
    "text_multiclass": {p: {"label": CLASSES[i % 3]} for i, p in enumerate(TEXTS)},
    "text_multilabel": {p: {"labels": CLASSES[: i % 3 + 1]} for i, p in enumerate(TEXTS)},
}
NER_TEXT = "Ada Lovelace met (Acme Corp) in Paris. HelloWorld, U.S. price: 3.14!"
NER_SPANS = [
    {"label": "cat", "start": 0, "end": 12},
    {"label": "dog", "start": 18, "end": 27},
    {"label": "cat", "start": 32, "end": 37},
    {"label": "animal/bird", "start": 44, "end": 49},
]
FITS = {
    ExportFormat.COCO: list(IMAGE_VALUES),
    ExportFormat.AZUREML_JSONL: [*IMAGE_VALUES, *TEXT_VALUES],
    ExportFormat.VOC: list(IMAGE_VALUES),
    ExportFormat.YOLO: ["image_bounding_box", "image_polygon"],
    ExportFormat.CONLL: ["text_ner"],
    ExportFormat.BRAT: ["text_ner"],
    ExportFormat.CSV: [*IMAGE_VALUES, *TEXT_VALUES, "text_ner"],
    ExportFormat.LOUPE_JSONL: [*IMAGE_VALUES, *TEXT_VALUES, "text_ner"],
}
CASES = [(fmt, task) for fmt, tasks in FITS.items() for task in tasks]


def values_of(task: str) -> dict[str, dict[str, Any]]:
    if task == "text_ner":
        return {"n/1.txt": {"spans": NER_SPANS}, "n/2.txt": {"spans": []}}
    return IMAGE_VALUES.get(task) or TEXT_VALUES[task]


def records(task: str) -> list[Record]:
    found = []
    for path, value in values_of(task).items():
        width, height = SIZES.get(path, (None, None))
        kind = "image" if task.startswith("image_") else "text"
        fmt = {"jpg": "jpeg", "png": "png", "dcm": "dicom"}.get(path.rsplit(".", 1)[-1])
        body: dict[str, Any] = {
            "id": f"id-{path}",
            "path": path,
            "kind": kind,
            "state": "labeled",
            "final": value,
            "media": {"format": fmt or "text", "bytes": 10, "width": width, "height": height},
            "annotations": [{"user": "ann", "at": "2026-11-01T09:00:00.000000Z", "value": value}],
        }
        if kind == "text":
            body["text"] = NER_TEXT if path == "n/1.txt" else TEXTS.get(path, "Nothing here")
        found.append(record(body, Options()))
    return found


def picture(rec: Record, formats: frozenset[str]) -> Picture | None:
    """The source file in a format asked for, else a PNG display rendition (as the service)."""
    width, height = rec.width or 1, rec.height or 1
    fmt = rec.format if rec.format in formats else "png"
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "JPEG" if fmt == "jpeg" else "PNG")
    return Picture(fmt, width, height, lambda: iter((out.getvalue(),)))


def export(
    fmt: ExportFormat, task: str, folder: Path, *, in_parts: bool = False, **options: Any
) -> Path:
    """The export written (by an export job in parts of one item, `in_parts`) and unpacked into
    `folder`; the file, or the folder it unpacked to."""
    target = bundle.Target(
        fmt,
        task,
        CLASSES,
        Options(**options),
        lambda p: f"https://acct/data/{p}",
        "pets",
        pictures=picture,
    )
    out = io.BytesIO()
    if in_parts:
        out.write(written_in_parts(target, records(task)))
    else:
        bundle.write(target, lambda: iter(records(task)), out, io.BytesIO)
    folder.mkdir(parents=True, exist_ok=True)
    name = folder / bundle.file_name(target)
    name.write_bytes(out.getvalue())
    if name.suffix != ".zip":
        return name
    unpacked = folder / name.stem
    zipfile.ZipFile(name).extractall(unpacked)
    return unpacked


def written_in_parts(
    target: bundle.Target, found: list[Record], *, same_ids: bool = False
) -> bytes:
    """The file an export job writes of `found` (in that order, unless `same_ids`: then by
    their ids) in parts of one item, each step run twice (`core.services.export_parts`, on
    memory)."""
    deps = memory_deps()
    deps.export_part_items = 1
    for n, rec in enumerate(found):
        body = rec.document | {"id": rec.id if same_ids else f"item-{n:03d}", "projectId": "p"}
        deps.documents.container(ITEMS).upsert(body)
    jobs = deps.documents.container(EXPORTS)
    now = deps.clock.now()
    jobs.upsert(ExportJob(id="j", project_id="p", format=target.format, created_by="x",
                          created_at=now).to_doc())  # fmt: skip
    layout = parts.layout(target)
    while True:
        stored = jobs.get("p", "j")
        assert stored is not None
        done = [
            export_parts.step(deps, load(ExportJob, stored), stored.etag, target, "f", layout)
            for _ in range(2)
        ]
        if done[0]:
            return deps.blobs.get(export_parts.EXPORTS_CONTAINER, "f")


@contextlib.contextmanager
def elsewhere(path: Path) -> Iterator[None]:
    """Readers run from an unrelated working directory: nothing may depend on it."""
    with pytest.MonkeyPatch.context() as patch:
        path.mkdir(exist_ok=True)
        patch.chdir(path)
        yield


def flat(points: list[list[float]]) -> list[float]:
    return [c for point in points for c in point]


def close(a: float, b: float, tolerance: float = 1e-6) -> bool:
    return abs(a - b) <= tolerance


@pytest.mark.parametrize("in_parts", [False, True], ids=["whole", "in-parts"])
@pytest.mark.parametrize(("fmt", "task"), CASES, ids=[f"{f.value}-{t}" for f, t in CASES])
def test_each_format_loads_with_its_own_reader(
    fmt: ExportFormat, task: str, in_parts: bool, tmp_path: Path
) -> None:
    exported = export(fmt, task, tmp_path / "out", in_parts=in_parts)
    with elsewhere(tmp_path / "cwd"):
        READERS[fmt](exported.resolve(), task)


def read_coco(file: Path, task: str) -> None:
    api = COCO(str(file))
    expected = values_of(task)
    images = {i["file_name"]: i for i in api.loadImgs(api.getImgIds())}
    assert images.keys() == expected.keys()
    assert [c["name"] for c in api.loadCats(api.getCatIds())] == CLASSES
    for path, value in expected.items():
        anns = api.loadAnns(api.getAnnIds(imgIds=[images[path]["id"]]))
        names = [api.loadCats(a["category_id"])[0]["name"] for a in anns]
        width, height = SIZES[path]
        if "boxes" in value:
            assert names == [b["label"] for b in value["boxes"]]
            for ann, box in zip(anns, value["boxes"], strict=True):
                want = [box["x"] * width, box["y"] * height, box["w"] * width, box["h"] * height]
                assert ann["bbox"] == pytest.approx(want, abs=1e-9)
        elif "polygons" in value:
            assert names == [p["label"] for p in value["polygons"]]
            ring = flat(value["polygons"][0]["points"])
            pixels = [c * (width, height)[k % 2] for k, c in enumerate(ring)]
            assert anns[0]["segmentation"] == [pytest.approx(pixels, abs=1e-9)]
            assert api.annToMask(anns[0]).sum() > 0
        else:
            assert names == value.get("labels", [value.get("label")])
            assert all(a["bbox"] == [0, 0, width, height] for a in anns)  # the whole image
    # The labels scored against themselves by COCOeval: what a team's evaluation does.
    iou = "segm" if task == "image_polygon" else "bbox"
    results = [
        {"image_id": a["image_id"], "category_id": a["category_id"], "score": 1.0}
        | ({"segmentation": api.annToRLE(a)} if iou == "segm" else {"bbox": a["bbox"]})
        for a in api.loadAnns(api.getAnnIds())
    ]
    evaluation = COCOeval(api, api.loadRes(results), iou)
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)  # AP at IoU .50:.95


def read_azureml(folder: Path, task: str) -> None:
    frame = mltable.load(str(folder)).to_pandas_dataframe()
    expected = values_of(task)
    if task.startswith("text_"):
        assert list(frame.columns) == ["text", "labels"]
        assert frame["text"].tolist() == [TEXTS[p] for p in expected]  # newlines, quotes, "007"
        want = [repr(v["labels"]) if "labels" in v else v["label"] for v in expected.values()]
        assert frame["labels"].tolist() == want
        return
    assert len(frame) == len(expected)
    for (path, value), (_, row) in zip(expected.items(), frame.iterrows(), strict=True):
        assert str(row["image_url"]) == f"https://acct/data/{path}"  # a stream the job opens
        label = row["label"]
        if "label" in value:
            assert label == value["label"]
        elif "labels" in value:
            assert list(label) == value["labels"]
        elif "boxes" in value:
            for got, box in zip(label, value["boxes"], strict=True):
                assert got["label"] == box["label"]
                assert close(got["topX"], box["x"]) and close(got["bottomY"], box["y"] + box["h"])
        else:
            got = label[0]
            assert got["label"] == value["polygons"][0]["label"]
            assert list(got["polygon"][0]) == pytest.approx(flat(value["polygons"][0]["points"]))


def read_csv(file: Path, task: str) -> None:
    frame = pd.read_csv(file, keep_default_na=False, dtype=str)
    expected = values_of(task)
    assert frame["path"].tolist() == list(expected)
    assert [json.loads(v) for v in frame["value"]] == list(expected.values())
    if task.startswith("text_"):
        texts = [NER_TEXT if p == "n/1.txt" else TEXTS.get(p, "Nothing here") for p in expected]
        assert frame["text"].tolist() == texts  # the text itself, not only `reviews.csv#1`


def read_loupe_jsonl(file: Path, task: str) -> None:
    frame = pd.read_json(file, lines=True, dtype=False, precise_float=True)
    expected = values_of(task)
    assert frame["path"].tolist() == list(expected)
    assert frame["final"].tolist() == list(expected.values())


def read_voc(folder: Path, task: str) -> None:
    """torchvision's VOCDetection rules (it cannot be installed beside this machine's torch):
    ids from ImageSets/Main/<set>.txt, JPEGImages/<id>.jpg, Annotations/<id>.xml; and globox's
    reader for the boxes."""
    expected = values_of(task)
    ids = (folder / "ImageSets/Main/train.txt").read_text().split()
    assert (folder / "ImageSets/Main/trainval.txt").read_text().split() == ids
    boxes = globox.AnnotationSet.from_pascal_voc(folder / "Annotations")
    assert len(ids) == len(expected) == len(boxes)
    for voc_id, (path, value) in zip(ids, expected.items(), strict=True):
        with Image.open(folder / "JPEGImages" / f"{voc_id}.jpg") as image:
            assert image.format == "JPEG"
            size = image.size
        root = ET.parse(folder / "Annotations" / f"{voc_id}.xml").getroot()
        assert root.findtext("path") == path and root.findtext("filename") == f"{voc_id}.jpg"
        assert (
            int(root.findtext("size/width") or 0),
            int(root.findtext("size/height") or 0),
        ) == size
        width, height = size
        wanted = _pixel_boxes(value, width, height)
        got = [
            (
                o.findtext("name"),
                *(int(o.findtext(f"bndbox/{k}") or "") for k in ("xmin", "ymin", "xmax", "ymax")),
            )
            for o in root.iter("object")
        ]
        assert got == wanted
        read = boxes[f"{voc_id}.jpg"]
        assert [(b.label, b.xmin, b.ymax) for b in read.boxes] == [
            (w[0], w[1], w[4]) for w in wanted
        ]


def _pixel_boxes(value: dict[str, Any], width: int, height: int) -> list[tuple[Any, ...]]:
    """VOC's 1-based inclusive pixel boxes of a value, each edge at its nearest pixel edge."""
    shapes = [
        (b["label"], b["x"], b["y"], b["x"] + b["w"], b["y"] + b["h"])
        for b in value.get("boxes", ())
    ]
    for p in value.get("polygons", ()):
        xs, ys = [q[0] for q in p["points"]], [q[1] for q in p["points"]]
        shapes.append((p["label"], min(xs), min(ys), max(xs), max(ys)))
    for label in value.get("labels", [value["label"]] if "label" in value else []):
        shapes.append((label, 0.0, 0.0, 1.0, 1.0))
    return [
        (
            label,
            round(x0 * width) + 1,
            round(y0 * height) + 1,
            round(x1 * width),
            round(y1 * height),
        )
        for label, x0, y0, x1, y1 in shapes
    ]


IMG_FORMATS = {"bmp", "dng", "jpeg", "jpg", "mpo", "png", "tif", "tiff", "webp", "pfm", "heic"}
"""Ultralytics' image suffixes (ultralytics/data/utils.py)."""


def read_yolo(folder: Path, task: str) -> None:
    """Ultralytics' documented rules (check_det_dataset, img2label_paths, verify_image_label):
    without a `path:` key the root is data.yaml's folder; train/val are folders of images whose
    suffix it knows; each image's label is the path with its last /images/ made /labels/ and a
    .txt suffix; a line is a class index below nc and fractions, 5 numbers for a box, an odd
    count of at least 7 for a segment. globox then reads the boxes back."""
    data = yaml.safe_load((folder / "data.yaml").read_text())
    assert "path" not in data  # a relative path: would be read against the working directory
    root = folder  # Path(data["yaml_file"]).parent
    assert data["nc"] == len(data["names"]) == len(CLASSES)
    assert [data["names"][i] for i in range(data["nc"])] == CLASSES
    expected = values_of(task)
    images = sorted(
        p for p in (root / data["train"]).rglob("*.*") if p.suffix[1:].lower() in IMG_FORMATS
    )
    assert len(images) == len(expected)  # the DICOM too, as its rendition with a .png suffix
    for image in images:
        label = Path("/labels/".join(str(image).rsplit("/images/", 1))).with_suffix(".txt")
        path = str(image.relative_to(root / data["train"]))
        path = path if path in expected else path.rsplit(".", 1)[0]
        value = expected[path]
        with Image.open(image) as opened:
            assert opened.size == SIZES[path]
        if task == "image_bounding_box":  # globox reads the boxes back, in pixels
            read = globox.Annotation.from_yolo_v5(label, image_size=opened.size)
            assert [(b.label, b.xmin, b.ymax) for b in read.boxes] == [
                (
                    str(CLASSES.index(b["label"])),
                    pytest.approx(b["x"] * opened.size[0]),
                    pytest.approx((b["y"] + b["h"]) * opened.size[1]),
                )
                for b in value["boxes"]
            ]
        lines = [line.split() for line in label.read_text().splitlines()]
        shapes = value.get("boxes") or value.get("polygons")
        assert [CLASSES[int(line[0])] for line in lines] == [s["label"] for s in shapes]
        for line, shape in zip(lines, shapes, strict=True):
            numbers = [float(n) for n in line[1:]]
            assert all(0 <= n <= 1 for n in numbers)
            if task == "image_bounding_box":
                assert len(numbers) == 4
                assert numbers == pytest.approx(
                    [
                        shape["x"] + shape["w"] / 2,
                        shape["y"] + shape["h"] / 2,
                        shape["w"],
                        shape["h"],
                    ],
                    abs=1e-6,
                )
            else:
                assert len(numbers) >= 6 and len(numbers) % 2 == 0
                assert numbers == pytest.approx(flat(shape["points"]), abs=1e-6)


def read_conll(file: Path, task: str) -> None:
    """CoNLL 2003 as its readers take it: `token tag` lines split on whitespace, a blank line
    between sentences; entities by seqeval, the sequence-labeling tools' reader of IOB tags."""
    lines = file.read_text(encoding="utf-8").split("\n")
    assert lines[0] == "-DOCSTART- O"
    sentences: list[list[tuple[str, str]]] = [[]]
    for line in lines[2:]:
        if line.strip():
            token, tag = line.split()  # exactly two columns: no token holds whitespace
            sentences[-1].append((token, tag))
        elif sentences[-1]:
            sentences.append([])
    first = sentences[0]
    entities = get_entities([tag for _, tag in first])
    spans = []
    offsets, position = [], 0
    for token, _ in first:
        position = NER_TEXT.index(token, position)
        offsets.append((position, position + len(token)))
        position += len(token)
    for label, start, end in entities:
        spans.append({"label": label, "start": offsets[start][0], "end": offsets[end][1]})
    assert spans == NER_SPANS  # every span back, exactly
    assert (
        ("Paris", "B-cat") in first and (".", "O") in first and ("World", "B-animal/bird") in first
    )
    assert sentences[1] == [("Nothing", "O"), ("here", "O")]


def read_brat(folder: Path, task: str) -> None:
    """The standoff files by the strict reader of `test_brat` (no BRAT library is installed):
    each document's spans back, exactly."""
    conf = parse_conf((folder / "annotation.conf").read_text(encoding="utf-8"))
    for path, value in values_of(task).items():
        name = folder / path.removesuffix(".txt").replace("/", "_")
        text = name.with_suffix(".txt").read_text(encoding="utf-8")
        assert text == (NER_TEXT if path == "n/1.txt" else "Nothing here")
        assert parse_ann(text, name.with_suffix(".ann").read_text(encoding="utf-8"), conf) == value


READERS = {
    ExportFormat.COCO: read_coco,
    ExportFormat.AZUREML_JSONL: read_azureml,
    ExportFormat.CSV: read_csv,
    ExportFormat.LOUPE_JSONL: read_loupe_jsonl,
    ExportFormat.VOC: read_voc,
    ExportFormat.YOLO: read_yolo,
    ExportFormat.CONLL: read_conll,
    ExportFormat.BRAT: read_brat,
}


def split_records(count: int = 60) -> list[Record]:
    """Imbalanced classes: 40 cat, 15 dog, 5 animal/bird."""
    labels = ["cat"] * 40 + ["dog"] * 15 + ["animal/bird"] * 5
    return [
        record(
            {
                "id": f"item-{i}",
                "path": f"s/{i}.jpg",
                "state": "labeled",
                "final": {"label": label},
                "media": {"format": "jpeg", "bytes": 1, "width": 8, "height": 8},
            },
            Options(),
        )
        for i, label in enumerate(labels[:count])
    ]


def validation_paths(
    fmt: ExportFormat, seed: int, tmp_path: Path, *, in_parts: bool = False
) -> list[str]:
    target = bundle.Target(
        fmt, "image_multiclass", CLASSES, Options(validation=0.2, seed=seed), lambda p: p, "s"
    )
    out = io.BytesIO()
    if in_parts:
        out.write(written_in_parts(target, split_records(), same_ids=True))
    else:
        bundle.write(target, lambda: iter(split_records()), out, io.BytesIO)
    data = out.getvalue()
    if fmt is ExportFormat.CSV:
        frame = pd.read_csv(io.BytesIO(data), dtype=str)
        return sorted(frame[frame["split"] == "validation"]["path"])
    if fmt is ExportFormat.LOUPE_JSONL:
        frame = pd.read_json(io.BytesIO(data), lines=True)
        return sorted(frame[frame["split"] == "validation"]["path"])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        if fmt is ExportFormat.COCO:
            images = json.loads(archive.read("validation/validation.json"))["images"]
            return sorted(i["file_name"] for i in images)
        if fmt is ExportFormat.VOC:
            ids = archive.read("ImageSets/Main/val.txt").decode().split()
            return sorted(f"s/{i.removeprefix('s_')}.jpg" for i in ids)
        lines = archive.read("validation/data.jsonl").decode().splitlines()
        return sorted(json.loads(line)["image_url"] for line in lines)


def test_split_is_exact_stratified_reproducible_and_the_same_in_every_format(
    tmp_path: Path,
) -> None:
    formats = [
        ExportFormat.COCO,
        ExportFormat.AZUREML_JSONL,
        ExportFormat.CSV,
        ExportFormat.LOUPE_JSONL,
        ExportFormat.VOC,
    ]
    by_label = {r.path: r.value["label"] for r in split_records() if r.value}
    seen = []
    for seed in range(5):
        paths = [validation_paths(fmt, seed, tmp_path) for fmt in formats]
        assert all(p == paths[0] for p in paths), seed  # one split, whatever the format
        chosen = paths[0]
        assert len(chosen) == 12  # 0.2 of 60, exactly
        counts = {label: sum(by_label[p] == label for p in chosen) for label in CLASSES}
        assert counts == {"cat": 8, "dog": 3, "animal/bird": 1}  # 0.2 of each class
        assert validation_paths(ExportFormat.CSV, seed, tmp_path) == chosen  # reproducible
        for fmt in formats:  # planned first, then written in parts: the same split
            assert validation_paths(fmt, seed, tmp_path, in_parts=True) == chosen, fmt
        seen.append(chosen)
    assert len({tuple(s) for s in seen}) == 5  # another seed, another validation set


ROUND_TRIP = [
    ("Ada Lovelace met Charles Babbage in London.", ["Ada Lovelace", "Charles Babbage", "London"]),
    (
        "(Acme Corp) hired Zoë, from Paris, France; HelloWorld!",
        ["Acme Corp", "Zoë", "Paris", "France", "World"],
    ),
    ("Prices rose 3.14% in the U.S. on 12:30 news, said O'Brien.", ["3.14", "U.S.", "O'Brien"]),
    (
        "e-mail:bob@example.com  and\ttabs\nnewlines — dashes…",
        ["bob@example.com", "tabs", "dashes"],
    ),
    ("NewYork and New York; ab-cd split: ab|cd.", ["York", "New York", "ab", "cd"]),
    ("Emoji 🙂 near Tokyo🗼 and ĀČĒ diacritics.", ["🙂", "Tokyo", "ĀČĒ"]),
    ("Adjacent spans:AcmeWidget sold.", ["Acme", "Widget"]),
    (
        "Dr. Smith, Ph.D., visited St. Louis (Missouri).",
        ["Dr. Smith", "Ph.D.", "St. Louis", "Missouri"],
    ),
]


def test_conll_round_trip_keeps_every_span_exactly() -> None:
    """Spans in → CoNLL → spans out, identical: tokens are cut at every span boundary, even
    inside a word (`World` in `HelloWorld`) or on punctuation (`(Acme Corp)`)."""
    from core.export import conll

    documents, spans_in = [], []
    for index, (text, names) in enumerate(ROUND_TRIP):
        spans, position = [], 0
        for n, name in enumerate(names):
            start = text.index(name, position)
            position = start + len(name)
            spans.append({"label": CLASSES[n % 3], "start": start, "end": position})
        spans_in.append(spans)
        body = {
            "id": f"t{index}",
            "path": f"t/{index}.txt",
            "state": "labeled",
            "text": text,
            "final": {"spans": spans},
        }
        documents.append(record(body, Options()))
    target = bundle.Target(ExportFormat.CONLL, "text_ner", CLASSES, Options(), lambda p: p, "n")
    out = io.BytesIO()
    bundle.write(target, lambda: iter(documents), out, io.BytesIO)
    sentences = conll.read_conll(out.getvalue().decode())
    spans_out = [
        conll.spans_of(text, tags) for (text, _), tags in zip(ROUND_TRIP, sentences, strict=True)
    ]
    exact = sum(
        a == b
        for got, want in zip(spans_out, spans_in, strict=True)
        for a, b in zip(got, want, strict=False)
    )
    assert spans_out == spans_in, f"{exact} of {sum(map(len, spans_in))} spans exact"
    # Punctuation is its own token, as in CoNLL 2003; abbreviations and numbers stay whole.
    tokens = [token for sentence in sentences for token, _ in sentence]
    assert {"London", ".", "(", ")", "3.14", "U.S.", "O'Brien", "Hello", "World"} <= set(tokens)
    assert not any(c.isspace() for token in tokens for c in token)
    # A span with whitespace at an edge is trimmed when saved, so CoNLL holds it exactly.
    saved = validate_annotation(
        TaskType.TEXT_NER,
        {"spans": [{"label": "PER", "start": 1, "end": 8}]},
        label_names=["PER"],
        text_length=9,
        text="a Paris b",
    ).to_json()
    assert saved == {"spans": [{"label": "PER", "start": 2, "end": 7}]}
