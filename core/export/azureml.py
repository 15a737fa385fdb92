"""Azure ML data for AutoML: JSONL + MLTable for the four image task types, as AutoML for Images
reads them (`image_url`, `image_details`, `label` as a class, a list of classes, a list of boxes
or a list of polygons, all fractions of the image), and CSV + MLTable for text classification,
as AutoML NLP reads it (`text,labels`)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import IO, Any

from core.domain.annotation_json import value_labels
from core.export.records import (
    ImageUrl,
    Imported,
    Record,
    classification_value,
    empty_value,
)

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

TEXT_MLTABLE = """\
paths:
  - file: ./{file}
transformations:
  - read_delimited:
      delimiter: ','
      encoding: utf8
      header: all_files_same_headers
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
        labels = value_labels(rec.value)
        cell = repr(labels) if task_type.endswith("multilabel") else (labels or [""])[0]
        writer.writerow([rec.text or "", cell])
        count += 1
    text.detach()
    return count


def read_image_jsonl(lines: Iterable[bytes], *, task_type: str) -> Iterator[Imported]:
    """Lines of AutoML for Images JSONL; `path` is the image_url as written (the caller maps it
    back to an item path)."""
    for raw in lines:
        if not raw.strip():
            continue
        line = json.loads(raw)
        label = line.get("label")
        value: dict[str, Any] | None
        if task_type == "image_bounding_box":
            value = {
                "boxes": [
                    {
                        "label": b["label"],
                        "x": b["topX"],
                        "y": b["topY"],
                        "w": b["bottomX"] - b["topX"],
                        "h": b["bottomY"] - b["topY"],
                    }
                    for b in label or []
                ]
            }
        elif task_type == "image_polygon":
            value = {"polygons": [_polygon(p) for p in label or [] for _ in p["polygon"][:1]]}
        else:
            labels = label if isinstance(label, list) else [label] if label else []
            value = classification_value(task_type, labels)
        if value is None:
            value = empty_value(task_type)
        if value is not None:
            yield Imported(line["image_url"], value)


def _polygon(part: dict[str, Any]) -> dict[str, Any]:
    flat = part["polygon"][0]
    return {
        "label": part["label"],
        "points": [[flat[i], flat[i + 1]] for i in range(0, len(flat) - 1, 2)],
    }
