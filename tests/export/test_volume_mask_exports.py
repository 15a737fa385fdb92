"""Masks and keypoints of a volume in the image formats: each slice with masks or keypoint
instances is an image of its own (`path#n` for a multi-frame file's frame), carrying only its
own, read back with pycocotools (COCO RLE and COCO keypoints) and as VOC's class-index PNGs;
whole-item ones stay on the item's own image."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import numpy as np
from PIL import Image
from pycocotools import mask as coco_mask  # type: ignore[import-untyped]

from core.domain.exports import ExportFormat
from core.export import bundle
from core.export.mask_pixels import counts_of_grid
from core.export.records import Options, Record
from core.export.slices import records_of
from tests.export.test_formats import doc
from tests.export.test_keypoint_formats import TEMPLATES, hand

ROWS, COLUMNS = 6, 8


def grid(top: int, left: int) -> np.ndarray:
    made = np.zeros((ROWS, COLUMNS), dtype=bool)
    made[top : top + 2, left : left + 3] = True
    return made


def painted(label: str, top: int, left: int, slice: int | None = None) -> dict[str, Any]:
    made = {"label": label, "size": [ROWS, COLUMNS], "counts": counts_of_grid(grid(top, left))}
    return made | ({"slice": slice} if slice is not None else {})


def volume(value: dict[str, Any]) -> dict[str, Any]:
    media = {"format": "dicom", "bytes": 10, "width": COLUMNS, "height": ROWS, "frames": 4}
    return doc("ct/clip.dcm", value, media=media)


def exported(fmt: ExportFormat, task: str, value: dict[str, Any], classes: list[str]) -> bytes:
    options = Options(slices=True)

    def scan() -> Iterator[Record]:
        return records_of(volume(value), options)

    made = bundle.Target(fmt, task, classes, options, lambda p: p, "v", templates=TEMPLATES)
    out = io.BytesIO()
    bundle.write(made, scan, out, io.BytesIO)
    return out.getvalue()


MASKS = {
    "masks": [
        painted("liver", 0, 0, slice=1),
        painted("lesion", 3, 4, slice=1),
        painted("liver", 2, 2, slice=3),
        painted("liver", 4, 0),
    ]
}


def test_coco_lists_each_painted_slice_with_its_own_masks() -> None:
    data = json.loads(
        exported(ExportFormat.COCO, "image_semantic_segmentation", MASKS, ["liver", "lesion"])
    )
    images = {image["id"]: image["file_name"] for image in data["images"]}
    assert sorted(images.values()) == ["ct/clip.dcm", "ct/clip.dcm#1", "ct/clip.dcm#3"]
    found: dict[str, list[np.ndarray]] = {}
    for annotation in data["annotations"]:
        pixels = coco_mask.decode(annotation["segmentation"]).astype(bool)
        found.setdefault(images[annotation["image_id"]], []).append(pixels)
    assert [p.tolist() for p in found["ct/clip.dcm#1"]] == [
        grid(0, 0).tolist(),
        grid(3, 4).tolist(),
    ]
    assert [p.tolist() for p in found["ct/clip.dcm#3"]] == [grid(2, 2).tolist()]
    assert [p.tolist() for p in found["ct/clip.dcm"]] == [grid(4, 0).tolist()]


def test_voc_paints_each_slices_class_png_with_that_slice_only() -> None:
    data = exported(ExportFormat.VOC, "image_semantic_segmentation", MASKS, ["liver", "lesion"])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        pngs = {
            n: archive.read(n) for n in archive.namelist() if n.startswith("SegmentationClass/")
        }
    assert len(pngs) == 3
    slice_one = "SegmentationClass/ct_clip~2.png"  # after the item's own image, in order
    with Image.open(io.BytesIO(pngs[slice_one])) as opened:
        classes = np.array(opened)
    want = np.zeros((ROWS, COLUMNS), dtype=np.uint8)
    want[grid(0, 0)], want[grid(3, 4)] = 1, 2
    assert classes.tolist() == want.tolist()


def test_coco_keypoints_are_listed_on_their_slices_image() -> None:
    value = {"keypoints": [hand(0.2, 0.3) | {"slice": 2}, hand(0.5, 0.5)]}
    data = json.loads(exported(ExportFormat.COCO, "image_keypoints", value, list(TEMPLATES)))
    images = {image["id"]: image["file_name"] for image in data["images"]}
    on = {images[a["image_id"]]: a["keypoints"] for a in data["annotations"]}
    assert set(on) == {"ct/clip.dcm", "ct/clip.dcm#2"}
    assert on["ct/clip.dcm#2"][:2] == [0.2 * COLUMNS, 0.3 * ROWS]


def test_yolo_pose_writes_a_label_file_per_slice_with_its_instances() -> None:
    value = {"keypoints": [hand(0.2, 0.3) | {"slice": 2}, hand(0.5, 0.5), hand(0.6, 0.6)]}
    data = exported(ExportFormat.YOLO, "image_keypoints", value, list(TEMPLATES))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        labels = {
            n: archive.read(n).decode().splitlines()
            for n in archive.namelist()
            if n.startswith("labels/")
        }
    lines = sorted(len(found) for found in labels.values())
    assert lines == [1, 2]  # slice 2's instance alone; the item's own image the other two
    # Labels alone (no images shipped): the slice's file apart from the item's all the same.
    [on_slice] = [found for name, found in labels.items() if name.endswith("clip.dcm#2.txt")]
    assert on_slice[0].split()[5:7] == ["0.200000", "0.300000"]
