"""Keypoint templates and how alike two point sets are.

A label class of an image_keypoints project carries a template: its points' names in order
(a value's instance has one entry per name, in that order), the skeleton's edges as pairs of
0-based point indices (drawn, and exported as COCO's 1-based `skeleton`), and optionally each
point's sigma, COCO's per-point spread of human placement (an eye is placed more precisely
than a hip). Without sigmas every point gets `DEFAULT_SIGMA`.

Visibility follows COCO: 0 absent (not in the image, or not labelable: no coordinates), 1
occluded (hidden, but its place is known), 2 visible.

Object keypoint similarity (OKS) is COCO's: per labeled point exp(-d² / (2 s² k²)) with
k = 2 sigma and s² the object's area, averaged over the points. Here it compares two labelers'
instances, so it is symmetric: it is averaged over the points either one labeled (a point
only one of them labeled scores 0), and s² is the mean of the two instances' areas, each the
bounding box of its labeled points (never below `MIN_AREA`, so that one or two points in a
line still have a scale). Distances are in normalized image coordinates (fractions of the
width and height), as is everything stored.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from pydantic import Field, field_validator, model_validator

from core.domain.model import DomainModel, JsonFloat, JsonInt
from core.domain.text_patterns import CONTROL_CHARACTER

MAX_TEMPLATE_POINTS = 100
MAX_POINT_NAME = 64
DEFAULT_SIGMA = 0.05
"""Between COCO's body sigmas (0.025 for the eyes to 0.107 for the hips)."""
MIN_AREA = 0.05**2
"""The smallest object scale s² (a 5 % × 5 % box): a single point has an area of 0."""
ABSENT, OCCLUDED, VISIBLE = 0, 1, 2


class KeypointTemplate(DomainModel):
    """The points one instance of a class has, and the skeleton drawn between them."""

    points: list[str] = Field(
        min_length=1,
        max_length=MAX_TEMPLATE_POINTS,
        description="The points' names in the order a value lists them (e.g. nose, left_eye)",
    )
    edges: list[tuple[JsonInt, JsonInt]] = Field(
        default_factory=list,
        description="The skeleton: pairs of 0-based indices into `points`, each pair once",
    )
    sigmas: list[JsonFloat] | None = Field(
        default=None,
        description="Each point's sigma for object keypoint similarity (COCO's per-point "
        f"spread, > 0 and ≤ 1); None: {DEFAULT_SIGMA} for every point",
    )

    @field_validator("points")
    @classmethod
    def _clean_names(cls, points: list[str]) -> list[str]:
        seen: dict[str, int] = {}
        for index, name in enumerate(points):
            where = f"point {index} ({name[:20]!r})"
            if not name.strip() or name != name.strip():
                raise ValueError(f"{where} is blank or starts or ends with spaces")
            if len(name) > MAX_POINT_NAME or CONTROL_CHARACTER.search(name):
                raise ValueError(
                    f"{where} is longer than {MAX_POINT_NAME} or has control characters"
                )
            if name.casefold() in seen:
                raise ValueError(f"{where} repeats point {seen[name.casefold()]} (ignoring case)")
            seen[name.casefold()] = index
        return points

    @model_validator(mode="after")
    def _edges_and_sigmas_fit(self) -> KeypointTemplate:
        count = len(self.points)
        joined: set[frozenset[int]] = set()
        for a, b in self.edges:
            if not (0 <= a < count and 0 <= b < count):
                raise ValueError(
                    f"edge {a}-{b} names a point that does not exist: indices are 0 to "
                    f"{count - 1} ({count} points)"
                )
            if a == b:
                raise ValueError(f"edge {a}-{b} joins a point to itself")
            if frozenset((a, b)) in joined:
                raise ValueError(f"edge {a}-{b} is listed twice")
            joined.add(frozenset((a, b)))
        if self.sigmas is not None:
            if len(self.sigmas) != count:
                raise ValueError(f"has {len(self.sigmas)} sigmas for {count} points: give one each")
            if not all(0 < s <= 1 for s in self.sigmas):
                raise ValueError("sigmas must be > 0 and ≤ 1 (fractions of the object's scale)")
        return self

    def sigma_list(self) -> tuple[float, ...]:
        return (
            tuple(self.sigmas) if self.sigmas is not None else (DEFAULT_SIGMA,) * len(self.points)
        )


class PlacedPoint(Protocol):
    """A point of an instance: where (fractions of the image) and its visibility."""

    @property
    def x(self) -> float: ...
    @property
    def y(self) -> float: ...
    @property
    def v(self) -> int: ...


def labeled_area(points: Iterable[PlacedPoint]) -> float:
    """The area of the bounding box of the points not absent (0 when there are none)."""
    xs, ys = [], []
    for p in points:
        if p.v != ABSENT:
            xs.append(p.x)
            ys.append(p.y)
    return (max(xs) - min(xs)) * (max(ys) - min(ys)) if xs else 0.0


def oks(a: Sequence[PlacedPoint], b: Sequence[PlacedPoint], sigmas: Sequence[float]) -> float:
    """Object keypoint similarity of two instances of one template, in [0, 1] (see the module
    text); 0 when their point counts differ or neither labeled any point."""
    if len(a) != len(b) or len(a) != len(sigmas):
        return 0.0
    area = max((labeled_area(a) + labeled_area(b)) / 2, MIN_AREA)
    total, counted = 0.0, 0
    for p, q, sigma in zip(a, b, sigmas, strict=True):
        if p.v == ABSENT and q.v == ABSENT:
            continue
        counted += 1
        if p.v == ABSENT or q.v == ABSENT:
            continue
        distance2 = (p.x - q.x) ** 2 + (p.y - q.y) ** 2
        total += math.exp(-distance2 / (2 * area * (2 * sigma) ** 2))
    return total / counted if counted else 0.0


def sigmas_of(templates: Mapping[str, KeypointTemplate]) -> dict[str, tuple[float, ...]]:
    return {name: template.sigma_list() for name, template in templates.items()}
