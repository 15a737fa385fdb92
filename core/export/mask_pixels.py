"""Masks as pixel arrays (NumPy) for the formats that need pixels, and the conversions between
masks and polygons: a polygon becomes the pixels whose centres it encloses, a mask the outlines
of its pixels' edges (exact: filling the outlines again gives the same pixels). Pure NumPy, so
the service needs no OpenCV (which only ML assist's worker installs).

The stored form and its run-length helpers are `core.domain.masks`."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from PIL import Image

from core.domain.masks import decode_counts, encode_counts

Grid = npt.NDArray[np.bool_]
Cell = TypeVar("Cell", bound=np.generic)
Ring = list[tuple[float, float]]
"""A closed outline (the last point joins the first), in pixels or fractions of the image."""


def to_grid(mask: dict[str, Any]) -> Grid:
    """A stored mask (`size`, `counts`) as a height x width array."""
    height, width = mask["size"]
    counts = decode_counts(mask["counts"])
    values = np.arange(len(counts)) % 2 == 1
    flat = np.repeat(values, counts)
    return flat.reshape((height, width), order="F")


def counts_of_grid(grid: Grid) -> str:
    """COCO's compressed counts of an array (column-major runs, background first)."""
    flat = np.asarray(grid, dtype=bool).ravel(order="F")
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    edges = np.concatenate(([0], changes, [flat.size]))
    runs = np.diff(edges).tolist()
    if flat.size and flat[0]:
        runs = [0, *runs]
    return encode_counts(runs)


def resized(grid: npt.NDArray[Cell], height: int, width: int) -> npt.NDArray[Cell]:
    """Nearest-neighbour to another size (a mask painted on the display rendition, exported at
    the source image's size): each target pixel takes the mask pixel under its centre (a class
    index map's too)."""
    if grid.shape == (height, width):
        return grid
    rows = ((np.arange(height) + 0.5) * grid.shape[0] / height).astype(int)
    cols = ((np.arange(width) + 0.5) * grid.shape[1] / width).astype(int)
    return grid[np.ix_(rows, cols)]


def fill_rings(rings: Iterable[Sequence[tuple[float, float]]], height: int, width: int) -> Grid:
    """The pixels whose centres lie inside the rings (even-odd, so a hole's ring cuts it out);
    coordinates in pixels, (0, 0) the image's top-left corner."""
    edges = []
    for ring in rings:
        points = np.asarray(ring, dtype=float)
        edges.append(np.concatenate([points, np.roll(points, -1, axis=0)], axis=1))
    grid = np.zeros((height, width), dtype=bool)
    if not edges:
        return grid
    x0, y0, x1, y1 = np.concatenate(edges).T
    for row in range(height):
        y = row + 0.5
        crossing = (y0 <= y) != (y1 <= y)  # half-open: a vertex on the line counts once
        if not crossing.any():
            continue
        t = (y - y0[crossing]) / (y1[crossing] - y0[crossing])
        xs = np.sort(x0[crossing] + t * (x1[crossing] - x0[crossing]))
        for left, right in zip(xs[::2], xs[1::2], strict=True):
            start, end = int(np.ceil(left - 0.5)), int(np.ceil(right - 0.5))
            grid[row, max(start, 0) : min(end, width)] ^= True
    return grid


def polygon_to_grid(points: Sequence[Sequence[float]], height: int, width: int) -> Grid:
    """A stored polygon (fractions of the image) as the pixels it covers."""
    return fill_rings([[(x * width, y * height) for x, y in points]], height, width)


_STEP = {(1, 0): 0, (0, 1): 1, (-1, 0): 2, (0, -1): 3}
"""Directions right, down, left, up (y grows downwards), numbered clockwise."""


def outlines(grid: Grid) -> list[Ring]:
    """The rings along the edges between painted and unpainted pixels, corners only, in pixels.
    Outer rings run clockwise on screen, holes anticlockwise; pixels touching only at a corner
    are separate (4-connected)."""
    padded = np.pad(np.asarray(grid, dtype=bool), 1)
    inside = padded[1:-1, 1:-1]
    starts: dict[tuple[int, int], list[tuple[int, int]]] = {}

    def add(where: npt.NDArray[np.bool_], dx0: int, dy0: int, dx: int, dy: int) -> None:
        for r, c in zip(*np.nonzero(where), strict=True):
            starts.setdefault((int(c) + dx0, int(r) + dy0), []).append((dx, dy))

    add(inside & ~padded[:-2, 1:-1], 0, 0, 1, 0)  # top edge, walked right
    add(inside & ~padded[1:-1, 2:], 1, 0, 0, 1)  # right edge, walked down
    add(inside & ~padded[2:, 1:-1], 1, 1, -1, 0)  # bottom edge, walked left
    add(inside & ~padded[1:-1, :-2], 0, 1, 0, -1)  # left edge, walked up
    remaining = {(at, heading) for at, headings in starts.items() for heading in headings}
    rings: list[Ring] = []
    while remaining:
        first = min(remaining)
        at, heading = first
        ring: Ring = []
        ring_turned = False
        while True:
            remaining.discard((at, heading))
            if not ring or ring_turned:
                ring.append((float(at[0]), float(at[1])))
            at = (at[0] + heading[0], at[1] + heading[1])
            ahead = _hug(starts[at], heading)
            ring_turned = ahead != heading
            if (at, ahead) == first:
                break
            heading = ahead
        rings.append(_corners(ring))
    return rings


def _hug(choices: list[tuple[int, int]], heading: tuple[int, int]) -> tuple[int, int]:
    """The way on from a corner: where two pixels meet only at it, the turn that stays with the
    pixel being walked around. Each edge has one successor, so every walk comes back round."""
    if len(choices) == 1:
        return choices[0]
    turn = (_STEP[heading] + 1) % 4
    return min(choices, key=lambda d: (_STEP[d] - turn) % 4)


def _corners(ring: Ring) -> Ring:
    """Drop points where the outline goes straight on (the walk's first point may be one)."""
    kept: Ring = []
    count = len(ring)
    for i, (x, y) in enumerate(ring):
        px, py = ring[i - 1]
        nx, ny = ring[(i + 1) % count]
        if (x - px) * (ny - y) - (y - py) * (nx - x) != 0:
            kept.append((x, y))
    return kept


def signed_area(ring: Ring) -> float:
    """Positive for a clockwise ring on screen (an outer outline), negative for a hole."""
    total = 0.0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True):
        total += x0 * y1 - x1 * y0
    return total / 2


def mask_polygons(mask: dict[str, Any]) -> list[Ring]:
    """A stored mask's outer outlines as fractions of the image (holes are left out: the
    formats that take polygons, Azure ML's among them, have no holes)."""
    height, width = mask["size"]
    return [
        [(x / width, y / height) for x, y in ring]
        for ring in outlines(to_grid(mask))
        if signed_area(ring) > 0
    ]


def bounding_box(grid: Grid) -> tuple[int, int, int, int] | None:
    """[x, y, w, h] in pixels of the painted pixels; None for an empty grid."""
    rows, cols = np.flatnonzero(grid.any(axis=1)), np.flatnonzero(grid.any(axis=0))
    if not rows.size:
        return None
    x, y = int(cols[0]), int(rows[0])
    return x, y, int(cols[-1]) + 1 - x, int(rows[-1]) + 1 - y


def class_index(
    value: dict[str, Any] | None, categories: Sequence[str], height: int, width: int
) -> npt.NDArray[np.uint16]:
    """One image's class-index map at `height` x `width`: 0 background, class i (1-based, in
    the project's order) where one of its masks is; a later mask wins a shared pixel."""
    index = {name: i for i, name in enumerate(categories, start=1)}
    out = np.zeros((height, width), dtype=np.uint16)
    for mask in (value or {}).get("masks", ()):
        if mask["label"] in index:
            out[resized(to_grid(mask), height, width)] = index[mask["label"]]
    return out


def object_index(value: dict[str, Any] | None, height: int, width: int) -> npt.NDArray[np.uint16]:
    """One image's object-index map: 0 background, mask i (1-based, in the answer's order)."""
    out = np.zeros((height, width), dtype=np.uint16)
    for number, mask in enumerate((value or {}).get("masks", ()), start=1):
        out[resized(to_grid(mask), height, width)] = number
    return out


def palette(classes: int) -> list[tuple[int, int, int]]:
    """Pascal VOC's colour map: index 0 black, then the colours VOC's tools show by default."""
    colours = []
    for i in range(classes + 1):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        colours.append((r, g, b))
    return colours


def index_png(indices: npt.NDArray[np.uint16], classes: int) -> bytes:
    """A palette PNG of a class-index map (one byte a pixel, VOC's colours), or a 16-bit
    greyscale PNG when the classes do not fit in 255 indices."""
    out = io.BytesIO()
    if classes <= 255:
        image = Image.fromarray(indices.astype(np.uint8), mode="P")
        image.putpalette([c for colour in palette(255) for c in colour])
        image.save(out, "PNG", optimize=False)
    else:
        Image.fromarray(indices.astype(np.uint16)).save(out, "PNG")
    return out.getvalue()


def mask_json(label: str, grid: Grid) -> dict[str, Any]:
    """A stored mask of `grid`'s pixels."""
    return {"label": label, "size": list(grid.shape), "counts": counts_of_grid(grid)}


def segmentation_grid(segmentation: object, height: int, width: int) -> Grid:
    """A COCO `segmentation` of a `height` x `width` image as pixels: an RLE (`size` and
    `counts`, compressed or a list) or polygons in pixels. ValueError says what is wrong."""
    if isinstance(segmentation, dict):
        size, counts = segmentation.get("size"), segmentation.get("counts")
        if size != [height, width]:
            raise ValueError(f'"segmentation.size" must be [{height}, {width}], the image\'s')
        if isinstance(counts, list) and all(type(n) is int and n >= 0 for n in counts):
            counts = encode_counts(counts)
        if not isinstance(counts, str):
            raise ValueError('"segmentation.counts" must be COCO\'s compressed string or a list')
        try:
            runs = decode_counts(counts)
        except ValueError as error:
            raise ValueError(f'"segmentation.counts" {error}') from None
        if sum(runs) != height * width or any(n < 0 for n in runs):
            raise ValueError(f'"segmentation.counts" must cover {height * width:,} pixels')
        return to_grid({"size": [height, width], "counts": counts})
    if not isinstance(segmentation, list) or not segmentation:
        raise ValueError('"segmentation" must be an RLE or a list of [x1, y1, x2, y2, ...]')
    rings = []
    for ring in segmentation:
        if not isinstance(ring, list) or len(ring) % 2 or len(ring) < 6:
            raise ValueError('"segmentation" polygons must be even lists of at least 3 points')
        if not all(isinstance(c, int | float) and not isinstance(c, bool) for c in ring):
            raise ValueError('"segmentation" polygons must be numbers')
        rings.append([(float(ring[k]), float(ring[k + 1])) for k in range(0, len(ring), 2)])
    return fill_rings(rings, height, width)


def merged_masks(parts: Sequence[tuple[str, Grid]], *, one_per_class: bool) -> list[dict[str, Any]]:
    """Masks read from a file as an answer holds them: a class's regions joined into one
    (semantic segmentation), an earlier mask keeping a pixel two share, empty ones left out."""
    if one_per_class:
        joined: dict[str, Grid] = {}
        for label, grid in parts:
            joined[label] = joined[label] | grid if label in joined else grid
        parts = list(joined.items())
    kept = claimed([grid for _, grid in parts])
    return [
        mask_json(label, mine) for (label, _), mine in zip(parts, kept, strict=True) if mine.any()
    ]


def claimed(grids: Sequence[Grid]) -> list[Grid]:
    """Each grid less the pixels of the grids before it (one pixel, one mask): the first to
    claim a pixel keeps it. A grid left with nothing stays, empty, so the lists align."""
    taken: Grid | None = None
    out = []
    for grid in grids:
        mine = grid if taken is None else grid & ~taken
        taken = mine if taken is None else taken | mine
        out.append(mine)
    return out


def fitted(value: dict[str, Any], height: int, width: int) -> dict[str, Any]:
    """A mask answer brought to the display rendition's grid (a COCO file's masks are at the
    image's own size), nearest neighbour. Anything else (another kind, masks of another shape
    or broken) stays as it is, for validation to name what is wrong."""
    masks = value.get("masks")
    if not isinstance(masks, list):
        return value
    out = []
    for mask in masks:
        size = mask.get("size") if isinstance(mask, dict) else None
        if size == [height, width]:
            out.append(mask)
            continue
        if not isinstance(mask, dict) or not isinstance(size, list) or len(size) != 2:
            return value
        try:
            rows, cols = size
            if abs(rows * width - cols * height) > 0.01 * height * width:
                return value  # not the same picture's shape: no resizing makes it fit
            out.append(mask_json(mask["label"], resized(to_grid(mask), height, width)))
        except (ValueError, TypeError, KeyError):
            return value
    return {"masks": out}
