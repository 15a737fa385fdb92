"""Mask projects' exports read back by the formats' own tools: COCO RLE by pycocotools (COCOeval
with iouType='segm' scores the labels against themselves as 1.0), VOC's class-index PNGs by
Pillow and NumPy, Azure ML's instance-segmentation polygons by filling them again; and the
mask ↔ polygon conversions exact."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import zipfile
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pycocotools import mask as coco_mask  # type: ignore[import-untyped]
from pycocotools.coco import COCO  # type: ignore[import-untyped]
from pycocotools.cocoeval import COCOeval  # type: ignore[import-untyped]

from core.domain.exports import ExportFormat
from core.domain.items import Derivatives, ItemState, MediaFacts
from core.export import bundle
from core.export.coco_reader import read_coco
from core.export.mask_pixels import (
    counts_of_grid,
    fill_rings,
    outlines,
    polygon_to_grid,
    to_grid,
)
from core.export.records import Imported, Options, Problem, Record, record
from core.ports import Deps, Query
from core.services.exports import ExportOptions
from core.services.imports import ImportFormat, ImportMode, import_labels
from core.store.collections import ITEMS, scan
from tests.export.test_export_parts import export_job
from tests.support.deps import memory_deps
from tests.support.labeling import add_items, running_project

CLASSES = ["road", "car", "sky"]
H, W = 48, 64


def grid(*cells: tuple[int, int, int, int]) -> np.ndarray:
    out = np.zeros((H, W), dtype=bool)
    for r0, r1, c0, c1 in cells:
        out[r0:r1, c0:c1] = True
    return out


def stored(label: str, pixels: np.ndarray) -> dict[str, Any]:
    return {"label": label, "size": list(pixels.shape), "counts": counts_of_grid(pixels)}


ROAD = grid((30, 48, 0, 64))
CAR = grid((20, 30, 10, 25))
CAR2 = grid((22, 34, 40, 56))
SKY = grid((0, 12, 0, 64))
RING = grid((14, 26, 2, 14)) & ~grid((18, 22, 6, 10))  # a car with a hole in it, below the sky
VALUES = {
    "street/1.jpg": {
        "masks": [stored("road", ROAD & ~CAR2), stored("car", CAR), stored("car", CAR2)]
    },
    "street/2.jpg": {"masks": [stored("sky", SKY), stored("car", RING)]},
    "street/3.jpg": {"masks": []},
}


def doc(path: str, value: dict[str, Any], width: int = W, height: int = H) -> dict[str, Any]:
    return {
        "id": f"id-{path}",
        "projectId": "p",
        "path": path,
        "kind": "image",
        "state": "labeled",
        "rank": 0.5,
        "media": {"format": "jpeg", "bytes": 10, "width": width, "height": height},
        "final": value,
        "createdAt": "2026-11-01T09:00:00.000000Z",
        "updatedAt": "2026-11-01T09:00:00.000000Z",
    }


def records(scale: int = 1) -> list[Record]:
    return [record(doc(p, v, W * scale, H * scale), Options()) for p, v in VALUES.items()]


def write(fmt: ExportFormat, task: str, recs: list[Record]) -> bytes:
    target = bundle.Target(fmt, task, CLASSES, Options(), lambda p: f"https://acct/data/{p}")
    out = io.BytesIO()
    bundle.write(target, lambda: iter(recs), out, io.BytesIO)
    return out.getvalue()


def load_coco(data: bytes, tmp_path: Any) -> COCO:
    path = tmp_path / "masks.json"
    path.write_bytes(data)
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(path))


@pytest.mark.parametrize("task", ["image_semantic_segmentation", "image_instance_segmentation"])
def test_coco_rle_decodes_to_the_painted_pixels_and_scores_1_against_itself(
    task: str, tmp_path: Any
) -> None:
    data = write(ExportFormat.COCO, task, records())
    gt = load_coco(data, tmp_path)
    by_path = {image["file_name"]: image["id"] for image in gt.dataset["images"]}
    first = gt.loadAnns(gt.getAnnIds(imgIds=[by_path["street/1.jpg"]]))
    assert [gt.cats[a["category_id"]]["name"] for a in first] == ["road", "car", "car"]
    assert all(isinstance(a["segmentation"]["counts"], str) for a in first)
    assert (gt.annToMask(first[1]) == CAR).all() and (gt.annToMask(first[2]) == CAR2).all()
    assert first[1]["area"] == int(CAR.sum()) and first[1]["bbox"] == [10, 20, 15, 10]
    hole = gt.loadAnns(gt.getAnnIds(imgIds=[by_path["street/2.jpg"]]))[1]
    assert (coco_mask.decode(gt.annToRLE(hole)) == RING).all()
    assert gt.getAnnIds(imgIds=[by_path["street/3.jpg"]]) == []
    results = [a | {"score": 1.0} for a in gt.dataset["annotations"]]
    with contextlib.redirect_stdout(io.StringIO()):
        scored = COCOeval(gt, gt.loadRes(results), iouType="segm")
        scored.evaluate()
        scored.accumulate()
        scored.summarize()
    assert scored.stats[0] == pytest.approx(1.0)  # AP at IoU .50:.95


def test_coco_scales_masks_to_a_larger_source_image(tmp_path: Any) -> None:
    """A mask painted on the display rendition is exported at the image's own size."""
    gt = load_coco(write(ExportFormat.COCO, "image_instance_segmentation", records(2)), tmp_path)
    car = gt.loadAnns(gt.getAnnIds())[1]
    assert car["segmentation"]["size"] == [2 * H, 2 * W]
    assert (gt.annToMask(car) == np.kron(CAR, np.ones((2, 2), dtype=bool))).all()
    assert car["area"] == 4 * int(CAR.sum())


def test_voc_segmentation_class_pngs_with_palette_and_class_table() -> None:
    data = write(ExportFormat.VOC, "image_semantic_segmentation", records())
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        png = {n: archive.read(n) for n in names if n.endswith(".png")}
        table = list(csv.DictReader(io.StringIO(archive.read("class_table.csv").decode())))
        xml = archive.read("Annotations/street_1.xml").decode()
        seg_list = archive.read("ImageSets/Segmentation/train.txt")
    assert sorted(png) == [f"SegmentationClass/street_{i}.png" for i in (1, 2, 3)]
    assert not any(n.startswith("SegmentationObject/") for n in names)
    assert seg_list == b"street_1\nstreet_2\nstreet_3\n"
    assert [(r["index"], r["class"]) for r in table] == [
        ("0", "background"),
        ("1", "road"),
        ("2", "car"),
        ("3", "sky"),
    ]
    with Image.open(io.BytesIO(png["SegmentationClass/street_1.png"])) as image:
        assert image.mode == "P" and image.size == (W, H)
        indices = np.array(image)
        colours = image.getpalette()
    assert colours is not None
    expected = np.zeros((H, W), dtype=np.uint8)
    expected[ROAD & ~CAR2], expected[CAR | CAR2] = 1, 2
    assert (indices == expected).all()
    for row in table:  # the table's colours are the PNG's palette
        index = int(row["index"])
        assert colours[3 * index : 3 * index + 3] == [int(row[c]) for c in ("red", "green", "blue")]
    assert table[1]["red"] == "128"  # VOC's colour map: class 1 is dark red
    with Image.open(io.BytesIO(png["SegmentationClass/street_3.png"])) as image:
        assert not np.array(image).any()  # nothing painted: all background
    assert "<segmented>1</segmented>" in xml and "<name>car</name>" in xml
    assert "<xmin>11</xmin><ymin>21</ymin><xmax>25</xmax><ymax>30</ymax>" in xml.replace("\n", "")


def test_voc_instance_pngs_number_each_object() -> None:
    data = write(ExportFormat.VOC, "image_instance_segmentation", records())
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        png = archive.read("SegmentationObject/street_1.png")
    with Image.open(io.BytesIO(png)) as image:
        objects = np.array(image)
    assert (objects[CAR] == 2).all() and (objects[CAR2] == 3).all()
    assert set(np.unique(objects)) == {0, 1, 2, 3}


def test_azureml_instance_segmentation_polygons_fill_back_to_the_mask() -> None:
    data = write(ExportFormat.AZUREML_JSONL, "image_instance_segmentation", records())
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        lines = [json.loads(line) for line in archive.read("data.jsonl").splitlines()]
    first = lines[0]["label"]
    assert [part["label"] for part in first] == ["road", "car", "car"]
    assert all(set(part) == {"label", "polygon", "isCrowd"} for part in first)
    for part, expected in zip(first[1:], (CAR, CAR2), strict=True):
        (flat,) = part["polygon"]
        assert all(0 <= c <= 1 for c in flat)
        ring = [(flat[i] * W, flat[i + 1] * H) for i in range(0, len(flat), 2)]
        assert (fill_rings([ring], H, W) == expected).all()
    holed = lines[1]["label"][1]  # Azure ML has no holes: the outer outline only
    assert len(holed["polygon"]) == 1
    assert lines[2]["label"] == []


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 9), st.integers(1, 9), st.data())
def test_a_masks_outlines_fill_back_to_exactly_its_pixels(
    height: int, width: int, data: st.DataObject
) -> None:
    bits = data.draw(st.lists(st.booleans(), min_size=height * width, max_size=height * width))
    pixels = np.array(bits, dtype=bool).reshape(height, width)
    assert (fill_rings(outlines(pixels), height, width) == pixels).all()
    assert (to_grid(stored("car", pixels)) == pixels).all()


def test_a_polygon_becomes_the_pixels_whose_centres_it_encloses() -> None:
    square = [(0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75)]
    pixels = polygon_to_grid(square, 8, 8)
    assert (pixels == np.pad(np.ones((4, 4), dtype=bool), 2)).all()
    triangle = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)]
    assert int(polygon_to_grid(triangle, 100, 100).sum()) == pytest.approx(5000, abs=100)


def test_a_mask_project_exported_in_tiny_parts_is_the_one_part_file(deps: Deps) -> None:
    project = running_project(
        deps, name="Streets", task_type="image_instance_segmentation", classes=CLASSES
    )
    for i, value in enumerate([*VALUES.values()] * 3):
        add_items(
            deps,
            project,
            1,
            prefix=f"img/{i:03d}-",
            media=MediaFacts(format="jpeg", bytes=1000, width=W, height=H),
            state=ItemState.LABELED,
            final=value,
            annotations=[{"user": "olive", "at": deps.clock.now(), "value": value}],
        )
    files = {}
    for fmt in (ExportFormat.VOC, ExportFormat.COCO):
        deps.export_part_items = 5000
        whole, _ = export_job(deps, project.id, fmt, times=1, items=9, options=ExportOptions())
        deps.export_part_items = 2
        parted, _ = export_job(deps, project.id, fmt, times=2, items=9, options=ExportOptions())
        assert parted == whole if fmt is ExportFormat.COCO else _members(parted) == _members(whole)
        files[fmt] = parted
    names = [name for name, _ in _members(files[ExportFormat.VOC])]
    assert sum(n.startswith("SegmentationClass/") for n in names) == 9
    assert sum(n.startswith("SegmentationObject/") for n in names) == 9
    assert names[-3:] == [
        "ImageSets/Segmentation/train.txt",
        "ImageSets/Segmentation/trainval.txt",
        "class_table.csv",
    ]


def _members(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def imported_finals(task: str, coco: bytes, scale: int = 2) -> dict[str, Any]:
    """Import a COCO file into a fresh mask project whose items show at W x H (the display
    rendition) of pictures `scale` times larger; each item's final value by path."""
    deps = memory_deps()
    project = running_project(deps, task_type=task, classes=CLASSES)
    for path in VALUES:
        add_items(
            deps,
            project,
            1,
            prefix=path.removesuffix(".jpg").removesuffix("000000"),
            media=MediaFacts(format="jpeg", bytes=1000, width=W * scale, height=H * scale),
            derivatives=Derivatives(display="r/d.png", thumbnail="r/t.jpg", width=W, height=H),
        )
    renamed = coco
    for path in VALUES:  # add_items names items <prefix>000000.jpg
        stem = path.removesuffix(".jpg")
        renamed = renamed.replace(f'"{path}"'.encode(), f'"{stem}000000.jpg"'.encode())
    import_labels(
        deps,
        project_id=project.id,
        actor="olive",
        data=io.BytesIO(renamed),
        format=ImportFormat.COCO,
        mode=ImportMode.FINAL,
    )
    found = scan(deps.documents.container(ITEMS), project.id, Query())
    return {d.body["path"].replace("000000", ""): d.body.get("final") for d in found}


def test_coco_rle_exported_from_larger_pictures_imports_back_exactly() -> None:
    task = "image_instance_segmentation"
    finals = imported_finals(task, write(ExportFormat.COCO, task, records(2)))
    assert finals == {path: value for path, value in VALUES.items() if value["masks"]} | {
        "street/3.jpg": {"masks": []}
    }


def test_a_semantic_import_joins_a_classs_regions_into_one_mask() -> None:
    task = "image_semantic_segmentation"
    coco = write(ExportFormat.COCO, "image_instance_segmentation", records(1))
    finals = imported_finals(task, coco, scale=1)
    road, car = finals["street/1.jpg"]["masks"]
    assert (road["label"], car["label"]) == ("road", "car")
    assert (to_grid(car) == (CAR | CAR2)).all()


def test_coco_polygons_import_as_the_pixels_they_enclose_and_bad_rles_are_named() -> None:
    square = [10, 10, 30, 10, 30, 20, 10, 20]  # pixels 10–29 across, 10–19 down
    found = list(read_coco(io.BytesIO(coco_with(square)), task_type="image_instance_segmentation"))
    (one,) = [r for r in found if isinstance(r, Imported)]
    assert one.value is not None
    (mask,) = one.value["masks"]
    assert (to_grid(mask) == grid((10, 20, 10, 30))).all()
    wrong = {"size": [H + 1, W], "counts": counts_of_grid(np.ones((H + 1, W), dtype=bool))}
    (problem,) = [
        r
        for r in read_coco(io.BytesIO(coco_with(wrong)), task_type="image_instance_segmentation")
        if isinstance(r, Problem)
    ]
    assert problem.rule == '"segmentation.size" must be [48, 64], the image\'s'


def coco_with(segmentation: object) -> bytes:
    polygons = isinstance(segmentation, list)
    return json.dumps(
        {
            "images": [{"id": 1, "file_name": "a.jpg", "width": W, "height": H}],
            "annotations": [
                {
                    "id": 1,
                    "image_id": 1,
                    "category_id": 2,
                    "segmentation": [segmentation] if polygons else segmentation,
                }
            ],
            "categories": [{"id": i, "name": n} for i, n in enumerate(CLASSES, start=1)],
        }
    ).encode()
