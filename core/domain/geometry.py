"""Plane geometry on normalized image coordinates: x grows rightwards, y downwards, both in [0, 1]
of the displayed image. Pure math, shared by annotation validation and consensus."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import pairwise
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


def polygon_iou(a: Sequence[Point], b: Sequence[Point]) -> float:
    """Intersection over union of two simple polygons (rings as `polygon_area` takes them), in
    [0, 1]; 0 when the union is empty."""
    intersection = polygon_intersection_area(a, b)
    union = polygon_area(a) + polygon_area(b) - intersection
    return min(max(intersection / union, 0.0), 1.0) if union > 0 else 0.0


def polygon_intersection_area(a: Sequence[Point], b: Sequence[Point]) -> float:
    """Exact area of the overlap of two simple polygons, convex or not, by Green's theorem:
    the overlap's boundary is the part of each ring inside the other, so summing the shoelace
    terms of those pieces (both rings turned the same way) gives its area. A stretch the two
    rings share counts once, and only where they run the same way (there the two interiors
    lie on the same side of it)."""
    ring_a, ring_b = _oriented(a), _oriented(b)
    if len(ring_a) < 3 or len(ring_b) < 3:
        return 0.0
    twice = _inside_part(ring_a, ring_b, keep_shared=True)
    twice += _inside_part(ring_b, ring_a, keep_shared=False)
    return max(twice / 2, 0.0)


_EPS = 1e-12


def _oriented(points: Sequence[Point]) -> list[Point]:
    ring = drop_repeats(points)
    return ring if signed_area(ring) >= 0 else ring[::-1]


def _edges(ring: Sequence[Point]) -> list[tuple[Point, Point]]:
    return [(ring[i], ring[(i + 1) % len(ring)]) for i in range(len(ring))]


def _cross(o: Point, p: Point, q: Point) -> float:
    return (p[0] - o[0]) * (q[1] - o[1]) - (p[1] - o[1]) * (q[0] - o[0])


def _inside_part(ring: Sequence[Point], other: Sequence[Point], *, keep_shared: bool) -> float:
    """Twice the shoelace sum over the pieces of `ring`'s edges that lie inside `other`."""
    other_edges = _edges(other)
    twice = 0.0
    for start, end in _edges(ring):
        cuts = sorted({0.0, 1.0, *_crossings(start, end, other_edges)})
        for t0, t1 in pairwise(cuts):
            if t1 - t0 <= _EPS:
                continue
            p0, p1 = _at(start, end, t0), _at(start, end, t1)
            if _keeps(p0, p1, other, other_edges, keep_shared=keep_shared):
                twice += p0[0] * p1[1] - p1[0] * p0[1]
    return twice


def _at(start: Point, end: Point, t: float) -> Point:
    return (start[0] + (end[0] - start[0]) * t, start[1] + (end[1] - start[1]) * t)


def _crossings(start: Point, end: Point, edges: Sequence[tuple[Point, Point]]) -> list[float]:
    """Where along start→end (as t in (0, 1)) the segment meets each edge: crossings, touches,
    and the ends of collinear overlaps."""
    dx, dy = end[0] - start[0], end[1] - start[1]
    length2 = dx * dx + dy * dy
    found: list[float] = []
    for q0, q1 in edges:
        ex, ey = q1[0] - q0[0], q1[1] - q0[1]
        denominator = dx * ey - dy * ex
        if abs(denominator) <= _EPS * max(length2, _EPS):
            if abs(_cross(start, end, q0)) <= _EPS and length2 > 0:  # collinear: overlap ends
                for q in (q0, q1):
                    found.append(((q[0] - start[0]) * dx + (q[1] - start[1]) * dy) / length2)
            continue
        t = ((q0[0] - start[0]) * ey - (q0[1] - start[1]) * ex) / denominator
        u = ((q0[0] - start[0]) * dy - (q0[1] - start[1]) * dx) / denominator
        if -_EPS <= u <= 1 + _EPS:
            found.append(t)
    return [t for t in found if 0.0 < t < 1.0]


def _keeps(
    p0: Point,
    p1: Point,
    other: Sequence[Point],
    edges: Sequence[tuple[Point, Point]],
    *,
    keep_shared: bool,
) -> bool:
    middle = ((p0[0] + p1[0]) / 2, (p0[1] + p1[1]) / 2)
    for q0, q1 in edges:
        if _on_segment(middle, q0, q1):
            same_way = (p1[0] - p0[0]) * (q1[0] - q0[0]) + (p1[1] - p0[1]) * (q1[1] - q0[1]) > 0
            return keep_shared and same_way
    return _contains(other, middle)


def _on_segment(p: Point, q0: Point, q1: Point) -> bool:
    if abs(_cross(q0, q1, p)) > _EPS:
        return False
    return (
        min(q0[0], q1[0]) - _EPS <= p[0] <= max(q0[0], q1[0]) + _EPS
        and min(q0[1], q1[1]) - _EPS <= p[1] <= max(q0[1], q1[1]) + _EPS
    )


def _contains(ring: Sequence[Point], p: Point) -> bool:
    """Even-odd ray casting (the point is known not to lie on the boundary)."""
    inside = False
    x, y = p
    for (x0, y0), (x1, y1) in _edges(ring):
        if (y0 > y) != (y1 > y):
            crossing_x = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
            if x < crossing_x:
                inside = not inside
    return inside
