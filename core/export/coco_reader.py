"""Reading a COCO file for import. A file of up to `WHOLE_UP_TO` is parsed at once; a larger one
is streamed: three passes over the (seekable) file, one per list, so memory holds the
categories, one entry per image and each shape as compact JSON, never the parsed document. What
cannot be imported is a `Problem` naming the image or annotation id."""

from __future__ import annotations

import json
import math
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import ijson  # type: ignore[import-untyped]  # no stubs shipped
import pydantic_core

from core.domain.json_text import read_json, worded_json
from core.domain.task_types import MASK_TASKS
from core.export import mask_pixels
from core.export.jsonl import kind
from core.export.records import Imported, Problem, classification_value

_BOM = b"\xef\xbb\xbf"
PRECISE_UP_TO = 64 << 20
"""A syntax error in a file up to this size is located to its line and column (by parsing it
again with Python's own parser); in a larger one, to the 64 KiB block it is in."""
WHOLE_UP_TO = 8 << 20
"""A file up to this size (about 25k images with boxes) is parsed whole, in a fifth of the
streamed passes' time. The reader's peak memory is then about seven times the file's size (55
MB at this size), against three to five times streamed (the entries it keeps per image)."""
MAX_DEPTH = 32
"""COCO nests 5 deep (a polygon in a segmentation in an annotation in a list in the file)."""
_OPEN, _CLOSE = frozenset({"start_map", "start_array"}), frozenset({"end_map", "end_array"})
_GEOMETRY = {"image_bounding_box": "boxes", "image_polygon": "polygons"}
MAX_MASK_PIXELS = 64 << 20
"""The largest image whose masks import: its pixels are decoded once, a byte each."""


class _Bad(Exception):
    def __init__(self, where: str, rule: str) -> None:
        super().__init__(rule)
        self.where, self.rule = where, rule


@dataclass
class _Image:
    where: str
    path: str
    width: float
    height: float
    parts: list[tuple[str, str]] = field(default_factory=list)
    """(where, the shape as JSON, or a class name) of each annotation."""
    score: float | None = None
    unlabeled: bool = False
    """Listed by Loupe as not labeled (`"unlabeled": true`): no label, rather than none."""


def read_coco(
    data: IO[bytes], *, task_type: str, normalized: bool = False
) -> Iterator[Imported | Problem]:
    """Every image of a seekable COCO file with its labels (classes by category name; geometry
    divided by the image size unless `normalized`), then nothing more if the file is not JSON."""
    source = _Source(data)
    if problem := source.opening():
        yield problem
        return
    try:
        if problem := source.too_deep():
            yield problem
            return
        names = yield from _categories(source)
        images = yield from _images(source, task_type, normalized)
        yield from _annotations(source, task_type, names, images)
    except ijson.JSONError as error:
        yield Problem("file", _syntax(source, error))
        return
    for image_id, image in images.items():
        yield from _record(task_type, image_id, image)


def _categories(source: _Source) -> Generator[Problem, None, dict[Any, str]]:
    names: dict[Any, str] = {}
    for index, category in source.items("categories"):
        where = f"categories[{index}]"
        try:
            cat = _object(category, where, ("id", "name"))
            key = _id(cat["id"], where, "id")
            if not isinstance(cat["name"], str) or not cat["name"]:
                raise _Bad(where, f'"name" must be a class name, not {kind(cat["name"])}')
            if key in names:
                raise _Bad(where, f"id {key!r} is also the id of category {names[key]!r}")
        except _Bad as bad:
            yield Problem(bad.where, bad.rule)
            continue
        names[key] = cat["name"]
    return names


def _images(
    source: _Source, task_type: str, normalized: bool
) -> Generator[Problem, None, dict[Any, _Image]]:
    images: dict[Any, _Image] = {}
    by_path: dict[str, Any] = {}
    sized = (task_type in _GEOMETRY or task_type in MASK_TASKS) and not normalized
    for index, image in source.items("images"):
        try:
            found = _object(image, f"images[{index}]", ("id", "file_name"))
            key = _id(found["id"], f"images[{index}]", "id")
            where = f"image id {key!r}"
            path = found["file_name"]
            if not isinstance(path, str) or not path:
                raise _Bad(where, f'"file_name" must be the item\'s path, not {kind(path)}')
            if key in images:
                raise _Bad(where, f"is listed twice (images[{index}] again)")
            if path in by_path:
                raise _Bad(where, f"{path!r} is also the file of image id {by_path[path]!r}")
            width, height = (_size(found, k, where) if sized else 1.0 for k in ("width", "height"))
        except _Bad as bad:
            yield Problem(bad.where, bad.rule)
            continue
        images[key] = _Image(where, path, width, height, unlabeled=found.get("unlabeled") is True)
        by_path[path] = key
    return images


def _annotations(
    source: _Source, task_type: str, names: dict[Any, str], images: dict[Any, _Image]
) -> Iterator[Problem]:
    image_of, name_of = images.get, names.get  # looked up once, not per annotation
    shapes_of = _SHAPES.get(task_type, _masks_of if task_type in MASK_TASKS else _class_of)
    for index, annotation in source.items("annotations"):
        where = f"annotations[{index}]"
        try:
            ann = _object(annotation, where, ("image_id", "category_id"))
            ann_id = ann.get("id")
            if type(ann_id) is int or type(ann_id) is str:  # bool is no id: refused by _id
                where = f"annotation id {ann_id!r}"
            image = image_of(_id(ann["image_id"], where, "image_id"))
            if image is None:
                raise _Bad(where, f"image_id {ann['image_id']!r} is not an image of this file")
            name = name_of(_id(ann["category_id"], where, "category_id"))
            if name is None:
                raise _Bad(where, f"category_id {ann['category_id']!r} is not in the categories")
            shapes = shapes_of(ann, name, image, where)
            score = _score(ann, where) if "score" in ann else None
        except _Bad as bad:
            yield Problem(bad.where, bad.rule)
            continue
        for shape in shapes:
            image.parts.append((where, shape))
        if score is not None:
            image.score = score if image.score is None else min(image.score, score)


def _box_of(ann: dict[str, Any], name: str, image: _Image, where: str) -> list[str]:
    """An annotation's box as JSON in Loupe's form, in fractions of its image's size."""
    bbox = ann.get("bbox")
    if type(bbox) is not list or len(bbox) != 4:
        raise _Bad(where, '"bbox" must be [x, y, width, height] for a box project')
    x, y, bw, bh = _numbers(bbox, where, "bbox")
    w, h = image.width, image.height
    box = {"label": name, "x": x / w, "y": y / h, "w": bw / w, "h": bh / h}
    return [worded_json(box | _attributes(ann))]


def _polygons_of(ann: dict[str, Any], name: str, image: _Image, where: str) -> list[str]:
    """An annotation's polygons as JSON in Loupe's form, in fractions of its image's size."""
    w, h = image.width, image.height
    rings = ann.get("segmentation")
    if isinstance(rings, dict):
        raise _Bad(where, "is an RLE mask (iscrowd); only polygon segmentations import")
    if not isinstance(rings, list) or not rings:
        raise _Bad(where, '"segmentation" must be a list of [x1, y1, x2, y2, ...] polygons')
    shapes = []
    for j, flat in enumerate(rings):
        if not isinstance(flat, list) or len(flat) % 2:
            raise _Bad(where, f'"segmentation[{j}]" must be an even list of coordinates')
        numbers = _numbers(flat, where, f"segmentation[{j}]")
        points = [[numbers[k] / w, numbers[k + 1] / h] for k in range(0, len(numbers), 2)]
        shapes.append(worded_json({"label": name, "points": points} | _attributes(ann)))
    return shapes


def _masks_of(ann: dict[str, Any], name: str, image: _Image, where: str) -> list[str]:
    """An annotation's mask, kept as compressed RLE while the file is read (small), joined per
    image at the end."""
    h, w = image.height, image.width
    height, width = int(h), int(w)
    if (height, width) != (h, w):
        raise _Bad(where, "a mask needs its image's width and height in whole pixels")
    if height * width > MAX_MASK_PIXELS:
        raise _Bad(where, f"masks import for images up to {MAX_MASK_PIXELS:,} pixels")
    try:
        grid = mask_pixels.segmentation_grid(ann.get("segmentation"), height, width)
    except ValueError as error:
        raise _Bad(where, str(error)) from None
    return [worded_json(mask_pixels.mask_json(name, grid))]


def _class_of(ann: dict[str, Any], name: str, image: _Image, where: str) -> list[str]:
    """A classification annotation: its class name."""
    return [name]


_SHAPES = {"image_bounding_box": _box_of, "image_polygon": _polygons_of}
"""How each geometry task reads an annotation's shapes as JSON in Loupe's form."""


def _masks(task_type: str, image: _Image) -> dict[str, Any]:
    """An image's masks as an answer holds them (`mask_pixels.merged_masks`), at its size."""
    parts = []
    for _, shape in image.parts:
        part = read_json(shape)
        parts.append((part["label"], mask_pixels.to_grid(part)))
    semantic = task_type == "image_semantic_segmentation"
    return {"masks": mask_pixels.merged_masks(parts, one_per_class=semantic)}


def _attributes(ann: dict[str, Any]) -> dict[str, Any]:
    """A shape's attributes as Loupe and CVAT write them (checked against the project's classes
    when imported); classification answers import without theirs."""
    attributes = ann.get("attributes")
    return {"attributes": attributes} if isinstance(attributes, dict) and attributes else {}


def _record(task_type: str, image_id: Any, image: _Image) -> Iterator[Imported | Problem]:
    wheres = tuple(where for where, _ in image.parts)
    if image.unlabeled and not image.parts:
        yield Imported(image.path, None, where=image.where)
        return
    if task_type in MASK_TASKS:
        yield Imported(image.path, _masks(task_type, image), image.score, image.where, wheres)
        return
    key = _GEOMETRY.get(task_type)
    if key is not None:
        shapes = read_json("[" + ",".join(shape for _, shape in image.parts) + "]")
        yield Imported(image.path, {key: shapes}, image.score, image.where, wheres)
        return
    first: dict[str, str] = {}
    for where, label in image.parts:
        first.setdefault(label, where)
    if len(first) > 1 and not task_type.endswith("multilabel"):
        shown = ", ".join(repr(label) for label in first)
        yield Problem(image.where, f"has {len(first)} classes ({shown}): the project takes one")
        return
    value = classification_value(task_type, list(first))
    order = tuple(first[label] for label in (value or {}).get("labels", first))
    yield Imported(image.path, value, image.score, image.where, order)


def _object(raw: object, where: str, required: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _Bad(where, f"must be an object, not {kind(raw)}")
    missing = [name for name in required if name not in raw]
    if missing:
        raise _Bad(where, f"lacks {', '.join(repr(name) for name in missing)}")
    return raw


def _id(raw: object, where: str, key: str) -> int | str:
    if not isinstance(raw, int | str) or isinstance(raw, bool):
        raise _Bad(where, f'"{key}" must be an id (a whole number or a string), not {kind(raw)}')
    return raw


def _numbers(raw: list[Any], where: str, key: str) -> list[float]:
    """The list's numbers as floats; the common list of plain finite floats in one pass (NaN
    fails both comparisons)."""
    inf = math.inf
    if all(type(c) is float and -inf < c < inf for c in raw):
        return raw
    return [_number(c, where, key) for c in raw]


def _number(raw: object, where: str, key: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise _Bad(where, f'"{key}" must hold numbers, not {kind(raw)}')
    return float(raw)


def _size(image: dict[str, Any], key: str, where: str) -> float:
    raw = image.get(key)
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not raw > 0:
        raise _Bad(
            where,
            f'"{key}" must be the image\'s size in pixels (a positive number) to turn pixel '
            "geometry into fractions; or import with normalized=true if it is in fractions",
        )
    return float(raw)


def _score(ann: dict[str, Any], where: str) -> float | None:
    raw = ann.get("score")
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 <= raw <= 1:
        raise _Bad(where, '"score" must be a number from 0 to 1')
    return float(raw)


class _Source:
    """The file, rewound for each pass, without a UTF-8 byte-order mark (yajl refuses one); or,
    when it is small enough, the document it holds, parsed once."""

    def __init__(self, data: IO[bytes]) -> None:
        self._data = data
        self._start = 0
        self._parsed: dict[str, Any] | None = None

    def opening(self) -> Problem | None:
        """Why the file is not a COCO document, judged by its start; None if it may be one."""
        self._data.seek(0)
        head = self._data.read(4096)
        if head.startswith(_BOM):
            self._start = len(_BOM)
        text = head[self._start :].lstrip()
        if not text:
            return Problem("file", "is empty; a COCO file is a JSON object with images")
        if text[:1] != b"{":
            what = "a list" if text[:1] == b"[" else "not JSON"
            return Problem("file", f"is {what}; a COCO file is one JSON object with images")
        self._parsed = self._whole_document()
        return None

    def _whole_document(self) -> dict[str, Any] | None:
        """The document, when the file is small and parses as yajl would (NaN, infinities, lone
        surrogates and numbers out of range refused); otherwise None, and the streamed passes
        read it or say what is wrong."""
        text = self.whole(WHOLE_UP_TO)
        if text is None:
            return None
        try:
            found = pydantic_core.from_json(text, allow_inf_nan=False)
        except ValueError:  # not JSON, or nested past the parser's own limit
            return None
        return found if isinstance(found, dict) and _as_yajl_reads(found) else None

    def too_deep(self) -> Problem | None:
        """The nesting bounded before any object is built: a first pass, event by event, which
        also checks the syntax (ijson's prefixes grow with depth: a deep file would exhaust
        memory). A parsed document was checked as it was parsed."""
        if self._parsed is not None:
            return None
        self._data.seek(self._start)
        depth = 0
        for event, _ in ijson.basic_parse(self, use_float=True):
            if event in _OPEN:
                depth += 1
                if depth > MAX_DEPTH:
                    return Problem("file", f"nests lists or objects more than {MAX_DEPTH} deep")
            elif event in _CLOSE:
                depth -= 1
        return None

    def items(self, key: str) -> Iterator[tuple[int, Any]]:
        """The entries of the document's list `key`, numbered. Each list is read once, so a
        parsed one is let go of as it is handed over."""
        if self._parsed is not None:
            found = self._parsed.pop(key, None)
            yield from enumerate(found if isinstance(found, list) else ())
            return
        self._data.seek(self._start)
        yield from enumerate(ijson.items(self, f"{key}.item", use_float=True))

    def read(self, size: int = -1) -> bytes:
        return self._data.read(size)

    def tell(self) -> int:
        return self._data.tell()

    def whole(self, up_to: int = PRECISE_UP_TO) -> bytes | None:
        """The file's bytes after the byte-order mark; None when there are more than `up_to`."""
        self._data.seek(0, 2)
        if self._data.tell() - self._start > up_to:
            return None
        self._data.seek(self._start)
        return self._data.read()


_LOWEST, _HIGHEST = -(2**63) + 1, 2**63 - 1
"""The whole numbers yajl reads (it takes the lowest 64-bit one for an overflow)."""


def _as_yajl_reads(document: dict[str, Any]) -> bool:
    """Whether the document nests at most `MAX_DEPTH` deep and holds only numbers yajl reads
    (64-bit whole numbers, finite floats): else it is streamed, so that a small file and a large
    one are read alike, problems included."""
    inf = math.inf
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        node, depth = pending.pop()
        if depth > MAX_DEPTH:
            return False
        for child in node.values() if type(node) is dict else node:
            kind = type(child)
            if kind is dict or kind is list:
                pending.append((child, depth + 1))
            elif kind is int:
                if not _LOWEST <= child <= _HIGHEST:
                    return False
            elif kind is float and not -inf < child < inf:
                return False
    return True


def _syntax(source: _Source, error: Exception) -> str:
    """Where the JSON breaks: line and column when Python's parser finds it too."""
    near = source.tell()
    whole = source.whole()
    if whole is not None:
        try:
            json.loads(whole)
        except json.JSONDecodeError as found:
            return f"is not valid JSON: {found.msg} (line {found.lineno}, column {found.colno})"
        except (UnicodeDecodeError, RecursionError, ValueError) as found:
            return f"is not valid JSON: {found}"
    first = str(error).splitlines()[0] if str(error) else type(error).__name__
    return f"is not valid JSON: {first.removeprefix('b').strip(chr(39))} (before byte {near})"
