"""Masks: painted regions stored as COCO run-length encodings, and the pure-Python RLE helpers
every part of Loupe (validation, consensus, exports, DICOM-SEG) shares.

A mask covers the image's display rendition pixel for pixel (`size` = [height, width], at most
2048 a side, see `core.media.images.DISPLAY_MAX`): exactly the pixels the labeler painted on,
so nothing is resampled between the brush and the stored value, and one answer stays small.
Exports scale it to the source image's size where that is larger (nearest neighbour).

Runs are COCO's: column-major (down the first column, then the next), alternating background
and foreground, starting with background (a mask whose first pixel is painted starts with a
zero-length run). `counts` is stored in COCO's compressed string form (`rleToString` in
pycocotools: deltas packed 5 bits a character), which `pycocotools.mask.decode` reads as it is;
an uncompressed list of run lengths is accepted on input and compressed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from core.domain.attributes import AttributeValues

Run = tuple[int, int]
"""A foreground stretch [start, end) of pixel indices, column-major."""

MAX_MASK_SIDE = 4096
"""A mask's height or width: renditions are at most 2048; twice that leaves room for a larger
display without letting a submission claim an absurd grid."""
MAX_MASK_CHARS = 120_000
"""Compressed counts in one answer, all masks together: an item holds up to ten labelers'
answers, the consensus and a suggestion, and must stay well under Cosmos DB's 2 MB document
limit. A 2048 x 2048 image with dozens of objects takes a few tens of kilobytes."""


@dataclass(frozen=True)
class Mask:
    """One painted region: a class and its pixels. `size` is [height, width] of the grid."""

    label: str
    size: tuple[int, int]
    counts: str
    attributes: AttributeValues | None = None
    slice: int | None = None
    """The slice of a volume it is painted on (from 0); None: the item's own image."""

    def to_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "label": self.label,
            "size": list(self.size),
            "counts": self.counts,
        }
        if self.attributes:
            shown["attributes"] = dict(self.attributes)
        return shown | ({"slice": self.slice} if self.slice is not None else {})

    @property
    def runs(self) -> list[Run]:
        return foreground(decode_counts(self.counts))

    @property
    def area(self) -> int:
        return sum(end - start for start, end in self.runs)


@dataclass(frozen=True)
class MaskSet:
    """image_semantic_segmentation (one mask per class) and image_instance_segmentation (one
    mask per object); no two masks of one slice share a pixel (a volume's slices are images of
    their own). No masks: the labeler saw nothing to paint."""

    masks: tuple[Mask, ...]

    def to_json(self) -> dict[str, Any]:
        return {"masks": [mask.to_json() for mask in self.masks]}


class BadCounts(ValueError):
    """A counts string that is no COCO compressed RLE."""


def encode_counts(counts: Sequence[int]) -> str:
    """COCO's compressed string of run lengths (pycocotools' `rleToString`)."""
    out: list[str] = []
    for index, count in enumerate(counts):
        x = count - counts[index - 2] if index > 2 else count
        more = True
        while more:
            c = x & 0x1F
            x >>= 5  # arithmetic shift, as C's on a signed long
            more = x != -1 if c & 0x10 else x != 0
            out.append(chr((c | 0x20 if more else c) + 48))
    return "".join(out)


def decode_counts(text: str) -> list[int]:
    """Run lengths from COCO's compressed string (pycocotools' `rleFrString`)."""
    counts: list[int] = []
    x = shift = 0
    for char in text:
        c = ord(char) - 48
        if not 0 <= c < 64:
            raise BadCounts(f"{char!r} is not a character of COCO's compressed RLE")
        x |= (c & 0x1F) << shift
        shift += 5
        if c & 0x20:
            continue
        if c & 0x10:
            x |= -1 << shift
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
        x = shift = 0
    if shift:
        raise BadCounts("ends in the middle of a run length")
    return counts


def foreground(counts: Iterable[int]) -> list[Run]:
    """The painted stretches of run lengths (odd runs; empty ones skipped)."""
    runs: list[Run] = []
    at = 0
    for index, count in enumerate(counts):
        if index % 2 and count:
            runs.append((at, at + count))
        at += count
    return runs


def counts_of(runs: Iterable[Run], pixels: int) -> list[int]:
    """Run lengths of sorted, disjoint foreground stretches over a grid of `pixels`."""
    counts: list[int] = []
    at = 0
    for start, end in runs:
        if counts and start == at:  # touches the previous stretch: extend it
            counts[-1] += end - start
        else:
            counts += [start - at, end - start]
        at = end
    return [*counts, pixels - at] if at < pixels or not counts else counts


def intersection(a: Sequence[Run], b: Sequence[Run]) -> int:
    """Pixels two sorted run lists share."""
    shared = i = j = 0
    while i < len(a) and j < len(b):
        low, high = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        shared += max(0, high - low)
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return shared


def mask_iou(a: Mask, b: Mask) -> float:
    """Intersection over union of two masks' pixels (0 for masks of different grids)."""
    if a.size != b.size:
        return 0.0
    ra, rb = a.runs, b.runs
    shared = intersection(ra, rb)
    union = sum(e - s for s, e in ra) + sum(e - s for s, e in rb) - shared
    return shared / union if union else 0.0


def first_overlap(masks: Sequence[Sequence[Run]]) -> tuple[int, int] | None:
    """The indices of the first two masks found sharing a pixel; None when none do."""
    stretches = sorted((run, index) for index, runs in enumerate(masks) for run in runs)
    reach: tuple[int, int] | None = None  # (end, index) of the stretch reaching furthest
    for (start, end), index in stretches:
        if reach is not None and start < reach[0] and reach[1] != index:
            return (min(reach[1], index), max(reach[1], index))
        if reach is None or end > reach[0]:
            reach = (end, index)
    return None


def without(runs: Sequence[Run], taken: Sequence[Run]) -> list[Run]:
    """`runs` less the pixels of `taken` (both sorted and disjoint)."""
    left: list[Run] = []
    j = 0
    for start, end in runs:
        while j < len(taken) and taken[j][1] <= start:
            j += 1
        k = j
        while k < len(taken) and taken[k][0] < end:
            if taken[k][0] > start:
                left.append((start, taken[k][0]))
            start = max(start, taken[k][1])
            k += 1
        if start < end:
            left.append((start, end))
    return left


def merged(a: Sequence[Run], b: Sequence[Run]) -> list[Run]:
    """The union of two sorted run lists, as sorted, disjoint runs."""
    out: list[Run] = []
    for start, end in sorted([*a, *b]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def disjoint(masks: Iterable[Mask]) -> MaskSet:
    """Masks kept from different answers, each less the pixels an earlier one of its slice has
    (dropped when nothing is left): a stored answer never has two masks on one pixel."""
    kept: list[Mask] = []
    taken: dict[int | None, list[Run]] = {}
    for mask in masks:
        height, width = mask.size
        runs = without(mask.runs, taken.get(mask.slice, []))
        if runs:
            kept.append(replace(mask, counts=encode_counts(counts_of(runs, height * width))))
            taken[mask.slice] = merged(taken.get(mask.slice, []), runs)
    return MaskSet(tuple(kept))
