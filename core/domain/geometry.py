"""Plane geometry on normalized image coordinates: x grows rightwards, y downwards, both in [0, 1]
of the displayed image. Pure math, shared by annotation validation and consensus."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

Point = tuple[float, float]


class BoxLike(Protocol):
    """Anything with a top-left corner and a size (an annotation's `Box` is one)."""

    @property
    def x(self) -> float: ...
    @property
    def y(self) -> float: ...
    @property
    def w(self) -> float: ...
    @property
    def h(self) -> float: ...


def clamp_unit(number: float) -> float:
    return min(max(number, 0.0), 1.0)


def drop_repeats(points: Iterable[Point]) -> list[Point]:
    """The ring without a point equal to the one before it, nor a closing copy of the first."""
    ring: list[Point] = []
    for point in points:
        if not ring or point != ring[-1]:
            ring.append(point)
    if len(ring) > 1 and ring[0] == ring[-1]:
        ring.pop()
    return ring


def box_area(box: BoxLike) -> float:
    return max(box.w, 0.0) * max(box.h, 0.0)


def box_iou(a: BoxLike, b: BoxLike) -> float:
    """Intersection over union in [0, 1]; 0 when the union is empty (two degenerate boxes)."""
    overlap_w = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    overlap_h = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    if overlap_w <= 0 or overlap_h <= 0:
        return 0.0
    intersection = overlap_w * overlap_h
    union = box_area(a) + box_area(b) - intersection
    # min() guards against a ratio a hair above 1 from float rounding on identical boxes.
    return min(intersection / union, 1.0) if union > 0 else 0.0


def signed_area(points: Sequence[Point]) -> float:
    """Shoelace formula: positive when the points run clockwise on screen (y points down)."""
    count = len(points)
    if count < 3:
        return 0.0
    twice = 0.0
    for index in range(count):
        x0, y0 = points[index]
        x1, y1 = points[(index + 1) % count]
        twice += x0 * y1 - x1 * y0
    return twice / 2


def polygon_area(points: Sequence[Point]) -> float:
    """Area enclosed by a simple polygon; the ring closes itself (do not repeat the first point,
    though repeating it changes nothing). A self-crossing ring's lobes partly cancel out."""
    return abs(signed_area(points))
