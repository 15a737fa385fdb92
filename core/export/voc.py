"""Pascal VOC: one XML file per image (pixel boxes, 1-based corners as VOC tools expect)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from core.export.records import Imported, Record


def voc_xml(rec: Record) -> bytes:
    """The annotation file of one image. Polygons are written as their bounding boxes."""
    width, height = rec.width or 1, rec.height or 1
    root = ET.Element("annotation")
    folder, _, name = rec.path.rpartition("/")
    _text(root, "folder", folder)
    _text(root, "filename", name)
    _text(root, "path", rec.path)
    size = ET.SubElement(root, "size")
    for tag, number in (("width", width), ("height", height), ("depth", 3)):
        _text(size, tag, str(number))
    _text(root, "segmented", "0")
    value = rec.value or {}
    shapes: list[tuple[str, float, float, float, float]] = [
        (b["label"], b["x"], b["y"], b["x"] + b["w"], b["y"] + b["h"])
        for b in value.get("boxes", ())
    ]
    for polygon in value.get("polygons", ()):
        xs = [p[0] for p in polygon["points"]]
        ys = [p[1] for p in polygon["points"]]
        shapes.append((polygon["label"], min(xs), min(ys), max(xs), max(ys)))
    for label in [value["label"]] if "label" in value else value.get("labels", []):
        shapes.append((label, 0.0, 0.0, 1.0, 1.0))
    for label, x0, y0, x1, y1 in shapes:
        obj = ET.SubElement(root, "object")
        _text(obj, "name", label)
        for tag in ("pose", "truncated", "difficult"):
            _text(obj, tag, "Unspecified" if tag == "pose" else "0")
        box = ET.SubElement(obj, "bndbox")
        # VOC pixels are 1-based and inclusive: pixel column 0 is xmin 1.
        _text(box, "xmin", f"{x0 * width + 1:.2f}")
        _text(box, "ymin", f"{y0 * height + 1:.2f}")
        _text(box, "xmax", f"{x1 * width:.2f}")
        _text(box, "ymax", f"{y1 * height:.2f}")
    xml: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return xml


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
