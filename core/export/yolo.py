"""YOLO as Ultralytics reads it: `data.yaml` naming 0-based classes, the images under
`images/<split>/<path>`, and one `labels/<split>/<path stem>.txt` per image (Ultralytics finds a
label by replacing the last `/images/` of the image's path with `/labels/` and its suffix with
`.txt`) with `class cx cy w h` (boxes), `class x1 y1 x2 y2 …` (segments) or, for keypoints (YOLO
pose), `class cx cy w h px py pv …` with the box around the instance's labeled points and every
point's visibility (COCO's 0/1/2), all fractions of the image. Pose needs one point count for
all classes (`kpt_shape: [N, 3]` in `data.yaml`): a class with fewer points than the largest
template is padded with absent points (`0 0 0`).

`data.yaml` has no `path:` key: Ultralytics then takes the folder the yaml is in as the dataset
root (a relative `path:` is read against the current directory), so the export trains from
wherever it is unpacked."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from core.export.records import Record

IMAGE_FORMATS = frozenset({"jpeg", "png", "bmp", "tiff"})
"""Formats Loupe ingests that Ultralytics reads (others, DICOM, ship their display rendition)."""
_SUFFIXES = {"jpeg": ("jpg", "jpeg"), "png": ("png",), "bmp": ("bmp",), "tiff": ("tif", "tiff")}
"""Each format's suffixes that Ultralytics recognises (not .jpe or .jfif, say)."""


def data_yaml(categories: Sequence[str], *, validation: bool, keypoints: int = 0) -> str:
    """`keypoints`: the most points a class's template has (0: no pose)."""
    # JSON strings are valid YAML scalars, so names with ':' or quotes stay intact.
    names = "\n".join(f"  {i}: {json.dumps(name)}" for i, name in enumerate(categories))
    val = "images/validation" if validation else "images/train"
    pose = f"kpt_shape: [{keypoints}, 3]\n" if keypoints else ""
    return (
        "# The dataset root is this file's folder (no path: key), wherever it is unpacked.\n"
        f"train: images/train\nval: {val}\n{pose}nc: {len(categories)}\nnames:\n{names}\n"
    )


def image_name(rec: Record, format: str | None) -> str:
    """Where the record's image goes: its own path, with a suffix Ultralytics recognises
    added when the shipped file is not what the path's suffix says (a DICOM's rendition). A
    volume's slice is named so even when no image is shipped: `clip.dcm#2` and `clip.dcm`
    would share one label file (Ultralytics cuts a name at its last dot)."""
    if format is None and rec.slice is not None:
        format = "jpeg"  # what a slice's rendition is shipped as
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


def label_lines(rec: Record, class_id: dict[str, int], keypoints: int = 0) -> str:
    value = rec.value or {}
    lines = [_pose(i, class_id, keypoints) for i in value.get("keypoints", ())]
    for b in value.get("boxes", ()):
        cx, cy = b["x"] + b["w"] / 2, b["y"] + b["h"] / 2
        lines.append(f"{class_id[b['label']]} {cx:.6f} {cy:.6f} {b['w']:.6f} {b['h']:.6f}")
    for p in value.get("polygons", ()):
        coords = " ".join(f"{c:.6f}" for point in p["points"] for c in point)
        lines.append(f"{class_id[p['label']]} {coords}")
    return "".join(line + "\n" for line in lines)


def _pose(instance: dict[str, Any], class_id: dict[str, int], keypoints: int) -> str:
    points = instance["points"]
    placed = [(p["x"], p["y"]) for p in points if p["v"] != 0]
    xs, ys = [x for x, _ in placed], [y for _, y in placed]
    w, h = max(xs) - min(xs), max(ys) - min(ys)
    box = f"{min(xs) + w / 2:.6f} {min(ys) + h / 2:.6f} {w:.6f} {h:.6f}"
    coords = [f"{p['x']:.6f} {p['y']:.6f} {p['v']}" for p in points]
    coords += ["0 0 0"] * (keypoints - len(points))
    return f"{class_id[instance['label']]} {box} {' '.join(coords)}"


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
