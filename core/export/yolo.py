"""YOLO as Ultralytics reads it: `data.yaml` naming 0-based classes, the images under
`images/<split>/<path>`, and one `labels/<split>/<path stem>.txt` per image (Ultralytics finds
a label by replacing the last `/images/` of the image's path with `/labels/` and its suffix
with `.txt`) with `class cx cy w h` (boxes) or `class x1 y1 x2 y2 …` (segments), all fractions
of the image.

`data.yaml` has no `path:` key: Ultralytics then takes the folder the yaml is in as the
dataset root (a relative `path:` is read against the current directory), so the export trains
from wherever it is unpacked."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from core.export.records import Record

IMAGE_FORMATS = frozenset({"jpeg", "png", "bmp", "tiff"})
"""Formats Loupe ingests that Ultralytics reads (others, DICOM, ship their display rendition)."""
_SUFFIXES = {"jpeg": ("jpg", "jpeg"), "png": ("png",), "bmp": ("bmp",), "tiff": ("tif", "tiff")}
"""Each format's suffixes that Ultralytics recognises (not .jpe or .jfif, say)."""


def data_yaml(categories: Sequence[str], *, validation: bool) -> str:
    # JSON strings are valid YAML scalars, so names with ':' or quotes stay intact.
    names = "\n".join(f"  {i}: {json.dumps(name)}" for i, name in enumerate(categories))
    val = "images/validation" if validation else "images/train"
    return (
        "# The dataset root is this file's folder (no path: key), wherever it is unpacked.\n"
        f"train: images/train\nval: {val}\nnc: {len(categories)}\nnames:\n{names}\n"
    )


def image_name(rec: Record, format: str | None) -> str:
    """Where the record's image goes: its own path, with a suffix Ultralytics recognises
    added when the shipped file is not what the path's suffix says (a DICOM's rendition)."""
    name = f"images/{rec.split}/{rec.path}"
    base = rec.path.rsplit("/", 1)[-1]
    own = base.rsplit(".", 1)[-1].lower() if "." in base else ""
    suffixes = _SUFFIXES.get(format or "")
    if suffixes is not None and own not in suffixes:
        name += f".{suffixes[0]}"
    return name


def label_name(image: str) -> str:
    """The label file of an image name (`image_name`), by Ultralytics' rule."""
    head, _, tail = f"/{image}".rpartition("/images/")
    stem = tail.rsplit(".", 1)[0] if "." in tail.rsplit("/", 1)[-1] else tail
    return f"{head}/labels/{stem}.txt".removeprefix("/")


def label_lines(rec: Record, class_id: dict[str, int]) -> str:
    value = rec.value or {}
    lines = []
    for b in value.get("boxes", ()):
        cx, cy = b["x"] + b["w"] / 2, b["y"] + b["h"] / 2
        lines.append(f"{class_id[b['label']]} {cx:.6f} {cy:.6f} {b['w']:.6f} {b['h']:.6f}")
    for p in value.get("polygons", ()):
        coords = " ".join(f"{c:.6f}" for point in p["points"] for c in point)
        lines.append(f"{class_id[p['label']]} {coords}")
    return "".join(line + "\n" for line in lines)


def read_labels(text: str, names: Sequence[str], *, task_type: str) -> dict[str, Any]:
    """A label file back as Loupe's value."""
    shapes: list[dict[str, Any]] = []
    for line in text.splitlines():
        head, *rest = line.split()
        label, numbers = names[int(head)], [float(n) for n in rest]
        if task_type == "image_bounding_box":
            cx, cy, w, h = numbers
            shapes.append({"label": label, "x": cx - w / 2, "y": cy - h / 2, "w": w, "h": h})
        else:
            points = [[numbers[i], numbers[i + 1]] for i in range(0, len(numbers) - 1, 2)]
            shapes.append({"label": label, "points": points})
    return {"boxes" if task_type == "image_bounding_box" else "polygons": shapes}


def read_data_yaml(text: str) -> list[str]:
    """The class names of a data.yaml this module wrote (index order)."""
    names: dict[int, str] = {}
    listing = False
    for line in text.splitlines():
        if line.startswith("names:"):
            listing = True
        elif listing and line.startswith("  "):
            key, _, name = line.strip().partition(": ")
            names[int(key)] = json.loads(name)
    return [names[i] for i in sorted(names)]
