"""Azure ML data for AutoML: JSONL + MLTable for the four image task types, as AutoML for Images
reads them (`image_url`, `image_details`, `label` as a class, a list of classes, a list of boxes
or a list of polygons, all fractions of the image; a mask as the polygons of its outlines, holes
left out, as AutoML's instance segmentation takes them), and CSV + MLTable for text classification,
as AutoML NLP reads it (`text,labels`)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import IO, Any

from core.domain.annotation_json import stored_labels
from core.export.jsonl import Line, kind
from core.export.mask_pixels import mask_polygons
from core.export.records import ImageUrl, Imported, Problem, Record, classification_value

_BATCH = 500
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

IMAGE_MLTABLE = """\
paths:
  - file: ./{file}
transformations:
  - read_json_lines:
      encoding: utf8
      invalid_lines: error
      include_path_column: false
  - convert_column_types:
      - columns: image_url
        column_type: stream_info
"""

# A text may hold newlines, commas and quotes (the CSV quotes it): without support_multi_line
# mltable splits it into rows with shifted labels. Types are not inferred: "007" stays text.
TEXT_MLTABLE = """\
paths:
  - file: ./{file}
transformations:
  - read_delimited:
      delimiter: ','
      encoding: utf8
      header: all_files_same_headers
      support_multi_line: true
      empty_as_string: true
      infer_column_types: false
"""


def image_line(rec: Record, task_type: str, image_url: ImageUrl) -> dict[str, Any]:
    """One JSONL line of AutoML for Images."""
    value = rec.value or {}
    line: dict[str, Any] = {"image_url": image_url(rec.path)}
    details: dict[str, Any] = {"format": (rec.format or rec.path.rsplit(".", 1)[-1]).lower()}
    if rec.width and rec.height:
        details |= {"width": f"{rec.width}px", "height": f"{rec.height}px"}
    line["image_details"] = details
    if task_type == "image_multiclass":
        line["label"] = value.get("label")
    elif task_type == "image_multilabel":
        line["label"] = list(value.get("labels", []))
    elif task_type == "image_bounding_box":
        line["label"] = [
            {
                "label": b["label"],
                "topX": b["x"],
                "topY": b["y"],
                "bottomX": b["x"] + b["w"],
                "bottomY": b["y"] + b["h"],
                "isCrowd": 0,
            }
            for b in value.get("boxes", ())
        ]
    elif "masks" in value:  # AutoML's instance segmentation: a mask's outlines as polygons
        line["label"] = [
            {
                "label": m["label"],
                "polygon": [[c for pt in ring for c in pt] for ring in mask_polygons(m)],
                "isCrowd": 0,
            }
            for m in value["masks"]
        ]
    else:
        line["label"] = [
            {"label": p["label"], "polygon": [[c for pt in p["points"] for c in pt]], "isCrowd": 0}
            for p in value.get("polygons", ())
        ]
    return line


def write_image_jsonl(
    records: Iterable[Record], out: IO[bytes], *, task_type: str, image_url: ImageUrl
) -> int:
    count = 0
    lines: list[str] = []
    for rec in records:
        lines.append(_dumps(image_line(rec, task_type, image_url)))
        count += 1
        if len(lines) == _BATCH:  # fewer, larger writes: each one costs a zlib call in a zip
            out.write(("\n".join(lines) + "\n").encode())
            lines = []
    if lines:
        out.write(("\n".join(lines) + "\n").encode())
    return count


def write_text_csv(records: Iterable[Record], out: IO[bytes], *, task_type: str) -> int:
    """`text,labels`: one class, or for multi-label a Python-style list AutoML NLP parses."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow(["text", "labels"])
    count = 0
    for rec in records:
        labels = list(stored_labels(rec.value))
        cell = repr(labels) if task_type.endswith("multilabel") else (labels or [""])[0]
        writer.writerow([rec.text or "", cell])
        count += 1
    text.detach()
    return count


def read_image_jsonl(
    lines: Iterable[Line | Problem], *, task_type: str
) -> Iterator[Imported | Problem]:
    """Lines of AutoML for Images JSONL; `path` is the image_url as written (the caller maps it
    back to an item path). A line whose label has the wrong shape is a problem at that line."""
    for line in lines:
        if isinstance(line, Problem):
            yield line
            continue
        url = line.doc.get("image_url")
        if not isinstance(url, str) or not url:
            yield Problem(line.where, f'"image_url" must be a string, not {kind(url)}')
            continue
        try:
            value, parts = _value(task_type, line.doc.get("label"))
        except _Shape as error:
            yield Problem(line.where, str(error))
            continue
        yield Imported(url, value, where=line.where, parts=parts)


class _Shape(ValueError):
    """A label of the wrong shape for the project's task type."""


def _value(task_type: str, label: object) -> tuple[dict[str, Any] | None, tuple[str, ...]]:
    if task_type == "image_bounding_box":
        boxes = [_box(part, f"label[{i}]") for i, part in enumerate(_list(label))]
        return {"boxes": boxes}, tuple(f"label[{i}]" for i in range(len(boxes)))
    if task_type == "image_polygon":
        polygons, parts = [], []
        for i, part in enumerate(_list(label)):
            for j, ring in enumerate(_rings(part, f"label[{i}]")):
                polygons.append(ring)
                parts.append(f"label[{i}].polygon[{j}]")
        return {"polygons": polygons}, tuple(parts)
    if task_type.endswith("multilabel"):
        labels = _list(label)
        for i, name in enumerate(labels):
            if not isinstance(name, str):
                raise _Shape(f'"label[{i}]" must be a class name (a string), not {kind(name)}')
        return classification_value(task_type, labels), ()
    if label is None or label == "":
        return None, ()
    if not isinstance(label, str):
        raise _Shape(f'"label" must be a class name (a string), not {kind(label)}')
    return classification_value(task_type, [label]), ()


def _list(label: object) -> list[Any]:
    if label is None:
        return []
    if not isinstance(label, list):
        raise _Shape(f'"label" must be a list for this task type, not {kind(label)}')
    return label


def _fields(part: object, where: str, names: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(part, dict):
        raise _Shape(f'"{where}" must be an object with {", ".join(names)}, not {kind(part)}')
    missing = [name for name in names if name not in part]
    if missing:
        raise _Shape(f'"{where}" lacks {", ".join(missing)}')
    if not isinstance(part["label"], str):
        raise _Shape(f'"{where}.label" must be a class name (a string)')
    return part


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Shape(f'"{where}" must be a number, not {kind(value)}')
    return float(value)


def _box(part: object, where: str) -> dict[str, Any]:
    box = _fields(part, where, ("label", "topX", "topY", "bottomX", "bottomY"))
    x, y, right, bottom = (
        _number(box[k], f"{where}.{k}") for k in ("topX", "topY", "bottomX", "bottomY")
    )
    return {"label": box["label"], "x": x, "y": y, "w": right - x, "h": bottom - y}


def _rings(part: object, where: str) -> list[dict[str, Any]]:
    polygon = _fields(part, where, ("label", "polygon"))
    rings = polygon["polygon"]
    if not isinstance(rings, list) or not all(isinstance(ring, list) for ring in rings):
        raise _Shape(f'"{where}.polygon" must be a list of [x1, y1, x2, y2, ...] lists')
    found = []
    for j, flat in enumerate(rings):
        numbers = [_number(c, f"{where}.polygon[{j}][{k}]") for k, c in enumerate(flat)]
        if len(numbers) % 2:
            raise _Shape(f'"{where}.polygon[{j}]" has an odd count of coordinates')
        points = [[numbers[k], numbers[k + 1]] for k in range(0, len(numbers), 2)]
        found.append({"label": polygon["label"], "points": points})
    return found
