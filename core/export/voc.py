"""Pascal VOC in its standard layout: `Annotations/<id>.xml`, `JPEGImages/<id>.jpg` and
`ImageSets/Main/{train,val,trainval}.txt` listing the ids, as VOC tools (torchvision's
VOCDetection among them) read it. Ids are flat (the item path without its suffix, `/` made
`_`), so the layout has no subfolders; the second, third… item whose path gives an id taken
(`a/b.jpg`, then `a_b.png`) gets `a_b~2`, `a_b~3`… in the order the file lists them.

Boxes are whole pixels, 1-based and inclusive as in the VOC devkit: a box over the pixel
columns 0 to 9 (0-based) of the image is xmin 1, xmax 10. A box's edges, stored as fractions
of the image, are rounded to the nearest pixel edge, so a round trip moves an edge by at most
half a pixel. Polygons and masks are written as their bounding boxes; a class label of a
classification project as an object covering the whole image. `<path>` keeps the item's path.

Mask projects also get VOC's segmentation layout (written by `core.export.bundle`):
`SegmentationClass/<id>.png`, a palette PNG of class indices (0 background, then the project's
classes in order, VOC's colours), `SegmentationObject/<id>.png` for instance masks (1, 2, … per
object), `ImageSets/Segmentation/` lists, and `class_table.csv` naming each index.

Attributes: boolean attributes named `truncated`, `difficult` or `occluded` fill VOC's own
elements of that name (1 when true; `truncated` and `difficult` are always written, 0 unless
set, as before); every other attribute goes into an `<attributes>` element of `<attribute>`s
with `<name>` and `<value>`, the form CVAT writes, which VOC readers that do not know it skip."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from typing import Any

from core.export.mask_pixels import bounding_box, palette, to_grid
from core.export.records import Imported, Record

_UNSAFE = re.compile(r"[^\w.-]+")


def flat_id(path: str) -> str:
    """An item path's id before it is made unique: without its suffix, `/` and other unsafe
    characters made `_`."""
    base = path.rsplit(".", 1)[0] if "." in path.rsplit("/", 1)[-1] else path
    return _UNSAFE.sub("_", base).strip("_") or "image"


def ranked(flat: str, rank: int) -> str:
    """The id of the `rank`-th item (2, 3, …) whose path's id is `flat` (`~` is never in one)."""
    return f"{flat}~{rank}"


class VocIds:
    """Flat, unique ids for item paths, in the order they are asked for: a path's `flat_id`,
    or, taken already by earlier items, that id `ranked` by how many have it."""

    def __init__(self) -> None:
        self._seen: Counter[str] = Counter()

    def id(self, path: str) -> str:
        flat = flat_id(path)
        self._seen[flat] += 1
        rank = self._seen[flat]
        return flat if rank == 1 else ranked(flat, rank)


def pixel_box(x0: float, y0: float, x1: float, y1: float, width: int, height: int) -> list[int]:
    """VOC's [xmin, ymin, xmax, ymax] of fractions of a `width` x `height` image."""

    def edge(value: float, size: int) -> int:
        return min(max(round(value * size), 0), size)

    left, top = min(edge(x0, width), width - 1), min(edge(y0, height), height - 1)
    right, bottom = max(edge(x1, width), left + 1), max(edge(y1, height), top + 1)
    return [left + 1, top + 1, min(right, width), min(bottom, height)]


def voc_xml(
    rec: Record, voc_id: str, *, width: int | None = None, height: int | None = None
) -> bytes:
    """The annotation file of one image, of the picture shipped with it (`width` x `height`,
    else the record's size)."""
    width, height = width or rec.width or 1, height or rec.height or 1
    root = ET.Element("annotation")
    _text(root, "folder", "JPEGImages")
    _text(root, "filename", f"{voc_id}.jpg")
    _text(root, "path", rec.path)
    size = ET.SubElement(root, "size")
    for tag, number in (("width", width), ("height", height), ("depth", 3)):
        _text(size, tag, str(number))
    value = rec.value or {}
    _text(root, "segmented", "1" if "masks" in value else "0")
    shapes: list[tuple[str, float, float, float, float, dict[str, Any]]] = [
        (b["label"], b["x"], b["y"], b["x"] + b["w"], b["y"] + b["h"], b.get("attributes") or {})
        for b in value.get("boxes", ())
    ]
    for polygon in value.get("polygons", ()):
        xs = [p[0] for p in polygon["points"]]
        ys = [p[1] for p in polygon["points"]]
        attributes = polygon.get("attributes") or {}
        shapes.append((polygon["label"], min(xs), min(ys), max(xs), max(ys), attributes))
    for mask in value.get("masks", ()):
        found = bounding_box(to_grid(mask))
        if found is not None:
            (x, y, w, h), (rows, cols) = found, mask["size"]
            edges = (x / cols, y / rows, (x + w) / cols, (y + h) / rows)
            shapes.append((mask["label"], *edges, mask.get("attributes") or {}))
    for label in [value["label"]] if "label" in value else value.get("labels", []):
        shapes.append((label, 0.0, 0.0, 1.0, 1.0, value.get("attributes") or {}))
    for label, x0, y0, x1, y1, attributes in shapes:
        obj = ET.SubElement(root, "object")
        _text(obj, "name", label)
        _text(obj, "pose", "Unspecified")
        _flags(obj, attributes)
        box = ET.SubElement(obj, "bndbox")
        corners = pixel_box(x0, y0, x1, y1, width, height)
        for tag, number in zip(("xmin", "ymin", "xmax", "ymax"), corners, strict=True):
            _text(box, tag, str(number))
    xml: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return xml


_FLAGS = ("truncated", "difficult", "occluded")
"""VOC's own per-object flags; `occluded` is written only when a shape has it."""


def _flags(obj: ET.Element, attributes: dict[str, Any]) -> None:
    for tag in _FLAGS:
        flag = attributes.get(tag)
        if isinstance(flag, bool) or tag != "occluded":
            _text(obj, tag, "1" if flag is True else "0")
    others = [(k, v) for k, v in attributes.items() if not (k in _FLAGS and isinstance(v, bool))]
    if others:
        listed = ET.SubElement(obj, "attributes")
        for name, value in others:
            one = ET.SubElement(listed, "attribute")
            _text(one, "name", name)
            _text(one, "value", json.dumps(value) if isinstance(value, bool) else str(value))


def _text(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, tag).text = text


def read_voc(data: bytes) -> Imported:
    """A VOC file back as boxes (fractions of the image)."""
    root = ET.fromstring(data)  # noqa: S314  # reads back files Loupe wrote (tests, checks)
    width = float(root.findtext("size/width") or 1)
    height = float(root.findtext("size/height") or 1)
    boxes: list[dict[str, Any]] = []
    for obj in root.iter("object"):
        x0 = (float(obj.findtext("bndbox/xmin") or 1) - 1) / width
        y0 = (float(obj.findtext("bndbox/ymin") or 1) - 1) / height
        x1 = float(obj.findtext("bndbox/xmax") or 0) / width
        y1 = float(obj.findtext("bndbox/ymax") or 0) / height
        boxes.append({"label": obj.findtext("name"), "x": x0, "y": y0, "w": x1 - x0, "h": y1 - y0})
    return Imported(root.findtext("path") or "", {"boxes": boxes})


SEGMENTATION_SETS = "ImageSets/Segmentation/"


def class_table(categories: list[str] | tuple[str, ...]) -> str:
    """`class_table.csv`: each index of the class PNGs, its class and its palette colour."""
    colours = palette(len(categories))
    rows = ["index,class,red,green,blue", "0,background,0,0,0"]
    for index, name in enumerate(categories, start=1):
        quoted = '"' + name.replace('"', '""') + '"' if any(c in name for c in ',"\n') else name
        rows.append(f"{index},{quoted},{','.join(map(str, colours[index]))}")
    return "\n".join(rows) + "\n"
