"""COCO: pixel coordinates, 1-based category ids, `file_name` the dataset-relative path, every
image listed, `area`/`bbox` computed for polygons and masks, `iscrowd` 0. A mask is an RLE
`segmentation` (`{"size": [height, width], "counts": "..."}`, COCO's compressed counts) at the
image's size, which pycocotools decodes and COCOeval scores with `iouType="segm"`. Keypoint
instances are COCO's person-keypoints form: the category names its points (`keypoints`) and its
skeleton's 1-based edges (`skeleton`); an annotation has `keypoints` as [x, y, v] per template
point (absent points 0, 0, 0), `num_keypoints` (those not absent), `bbox` around them and `area`
that box's (never below `MIN_AREA` of the image, the scale consensus gives a lone point:
COCOeval divides by it). Classification becomes one annotation per class whose box is the whole
image (`[0, 0, width, height]`): the form COCO tools read (pycocotools' `loadRes` and `COCOeval`
take it; an annotation without geometry they do not). An image listed without labels (an
unlabeled item of an export that asked for them) carries `"unlabeled": true`, so that importing
the file leaves it unlabeled rather than "labeled, nothing in it". A shape's or answer's
attributes are the annotation's `attributes` object (the form CVAT writes and reads).

The writer streams: images go straight to `out` while annotations go to `spool` (a temp file the
caller owns), appended after the images; so one pass over the items and flat memory. The reader
is `core.export.coco_reader`."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Mapping, Sequence
from json.encoder import encode_basestring
from typing import IO, Any, NamedTuple

from core.domain.geometry import polygon_area
from core.domain.keypoints import ABSENT, MIN_AREA, KeypointTemplate
from core.export import mask_pixels
from core.export.records import Record

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_string = encode_basestring  # a JSON string literal (C speed)


def write_coco(
    records: Iterable[Record],
    out: IO[bytes],
    *,
    categories: Sequence[str],
    spool: IO[bytes],
    normalized: bool = False,
    description: str = "",
    templates: Mapping[str, KeypointTemplate] | None = None,
) -> int:
    """Write one COCO file; returns how many images it lists."""
    category_id = category_ids(categories)
    out.write(coco_head(categories, description, templates))
    images = annotations = 0
    for rec in records:
        images += 1
        image, found = coco_record(rec, images, annotations, category_id, normalized)
        out.write(image)
        annotations += found.number
        spool.write(found.text)
    out.write(COCO_MIDDLE)
    spool.flush()
    spool.seek(0)
    shutil.copyfileobj(spool, out, 1 << 20)
    out.write(COCO_TAIL)
    return images


COCO_MIDDLE = b'],"annotations":['
COCO_TAIL = b"]}"


def category_ids(categories: Sequence[str]) -> dict[str, int]:
    return {name: index for index, name in enumerate(categories, start=1)}


def coco_head(
    categories: Sequence[str],
    description: str,
    templates: Mapping[str, KeypointTemplate] | None = None,
) -> bytes:
    """The file up to its first image: info, licenses, categories (with their point names and
    skeleton when they have a keypoint template)."""
    head = {
        "info": {"description": description, "version": "1.0"},
        "licenses": [],
        "categories": [
            {"id": i, "name": name, "supercategory": name.rsplit("/", 1)[0] if "/" in name else ""}
            | _skeleton((templates or {}).get(name))
            for name, i in category_ids(categories).items()
        ],
    }
    return _dumps(head)[:-1].encode() + b',"images":['


def _skeleton(template: KeypointTemplate | None) -> dict[str, object]:
    if template is None:
        return {}
    return {"keypoints": template.points, "skeleton": [[a + 1, b + 1] for a, b in template.edges]}


class Annotations(NamedTuple):
    text: bytes
    """The record's annotations, each with its id, a comma before each but the file's first."""
    number: int


def coco_record(
    rec: Record,
    image_id: int,
    annotations_before: int,
    category_id: dict[str, int],
    normalized: bool,
) -> tuple[bytes, Annotations]:
    """One image's entry (a comma before it but the first) and its annotations: what the file
    holds for the record, given how many images and annotations came before it (so a file
    written in parts is the same file)."""
    # Formatted by hand: at 500k images the json encoder's per-call cost is most of the
    # time. Floats print as repr, which is what json writes too.
    size = f',"width":{rec.width},"height":{rec.height}' if rec.width and rec.height else ""
    unlabeled = ',"unlabeled":true' if rec.value is None else ""
    image = f'{{"id":{image_id},"file_name":{_string(rec.path)}{size}{unlabeled}}}'
    found = _annotations(rec, image_id, category_id, normalized)
    lines = [f'{{"id":{annotations_before + n},{ann}}}' for n, ann in enumerate(found, start=1)]
    text = ",".join(lines).encode()
    if text and annotations_before:
        text = b"," + text
    return (("," if image_id > 1 else "") + image).encode(), Annotations(text, len(found))


def _annotations(
    rec: Record, image_id: int, category_id: dict[str, int], normalized: bool
) -> list[str]:
    """Each annotation's JSON members after its id."""
    value = rec.value or {}
    sx = 1.0 if normalized or not rec.width else float(rec.width)
    sy = 1.0 if normalized or not rec.height else float(rec.height)
    found: list[str] = []
    tail = ',"iscrowd":0' + (f',"score":{float(rec.score)!r}' if rec.score is not None else "")
    head = f'"image_id":{image_id},"category_id":'
    for box in value.get("boxes", ()):
        x, y, w, h = box["x"] * sx, box["y"] * sy, box["w"] * sx, box["h"] * sy
        found.append(
            f'{head}{category_id[box["label"]]},"bbox":[{x!r},{y!r},{w!r},{h!r}],'
            f'"area":{w * h!r},"segmentation":[]{tail}{_attributes(box)}'
        )
    for polygon in value.get("polygons", ()):
        ring = [(x * sx, y * sy) for x, y in polygon["points"]]
        xs, ys = [p[0] for p in ring], [p[1] for p in ring]
        bbox = ",".join(repr(c) for c in (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)))
        flat = ",".join(repr(c) for point in ring for c in point)
        found.append(
            f'{head}{category_id[polygon["label"]]},"segmentation":[[{flat}]],'
            f'"area":{polygon_area(ring)!r},"bbox":[{bbox}]{tail}{_attributes(polygon)}'
        )
    for instance in value.get("keypoints", ()):
        members = _keypoints(instance, sx, sy)
        found.append(
            f"{head}{category_id[instance['label']]},{members}{tail}{_attributes(instance)}"
        )
    for mask in value.get("masks", ()):
        found.append(
            f"{head}{category_id[mask['label']]},{_rle(mask, rec)}{tail}{_attributes(mask)}"
        )
    labels = [value["label"]] if "label" in value else value.get("labels", [])
    for label in labels:
        found.append(
            f'{head}{category_id[label]},"bbox":[0,0,{sx!r},{sy!r}],"area":{sx * sy!r}{tail}'
            f"{_attributes(value)}"
        )
    return found


def _keypoints(instance: dict[str, Any], sx: float, sy: float) -> str:
    """An instance's `keypoints`, `num_keypoints`, `bbox` and `area` members."""
    points = instance["points"]
    flat = ",".join(f"{p['x'] * sx!r},{p['y'] * sy!r},{p['v']}" for p in points)
    placed = [(p["x"] * sx, p["y"] * sy) for p in points if p["v"] != ABSENT]
    xs, ys = [x for x, _ in placed] or [0.0], [y for _, y in placed] or [0.0]
    w, h = max(xs) - min(xs), max(ys) - min(ys)
    area = max(w * h, MIN_AREA * sx * sy)
    return (
        f'"keypoints":[{flat}],"num_keypoints":{len(placed)},'
        f'"bbox":[{min(xs)!r},{min(ys)!r},{w!r},{h!r}],"area":{area!r}'
    )


def _rle(mask: dict[str, Any], rec: Record) -> str:
    """A mask's segmentation, area and box, at the image's size (the mask's own without one)."""
    grid = mask_pixels.to_grid(mask)
    if rec.width and rec.height:
        grid = mask_pixels.resized(grid, rec.height, rec.width)
    height, width = grid.shape
    counts = mask_pixels.counts_of_grid(grid)
    x, y, w, h = mask_pixels.bounding_box(grid) or (0, 0, 0, 0)
    return (
        f'"segmentation":{{"size":[{height},{width}],"counts":{_string(counts)}}},'
        f'"area":{int(grid.sum())},"bbox":[{x},{y},{w},{h}]'
    )


def _attributes(part: dict[str, Any]) -> str:
    attributes = part.get("attributes")
    return f',"attributes":{_dumps(attributes)}' if attributes else ""
