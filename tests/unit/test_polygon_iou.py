from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.geometry import box_iou, polygon_area, polygon_intersection_area, polygon_iou
from tests.unit.test_geometry import Rect


def rect(x: float, y: float, w: float, h: float) -> list[tuple[float, float]]:
    return [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]


L_SHAPE = [(0.0, 0.0), (0.6, 0.0), (0.6, 0.2), (0.2, 0.2), (0.2, 0.6), (0.0, 0.6)]


def test_known_overlaps() -> None:
    assert polygon_intersection_area(rect(0, 0, 0.5, 0.5), rect(0.25, 0.25, 0.5, 0.5)) == (
        pytest.approx(0.0625)
    )
    triangle = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)]
    assert polygon_intersection_area(triangle, rect(0, 0, 1, 1)) == pytest.approx(0.5)
    # A non-convex ring: the square covers the L's corner arm partly.
    assert polygon_intersection_area(L_SHAPE, rect(0.1, 0.1, 0.4, 0.4)) == pytest.approx(
        0.4 * 0.1 + 0.1 * 0.3
    )


def test_identity_containment_touching_and_disjoint() -> None:
    assert polygon_iou(L_SHAPE, L_SHAPE) == pytest.approx(1.0)
    assert polygon_iou(L_SHAPE, list(reversed(L_SHAPE))) == pytest.approx(1.0)
    inner = rect(0.25, 0.25, 0.5, 0.5)
    assert polygon_iou(rect(0, 0, 1, 1), inner) == pytest.approx(0.25)
    assert polygon_iou(rect(0, 0, 0.5, 0.5), rect(0.5, 0, 0.5, 0.5)) == 0.0  # shared edge only
    assert polygon_iou(rect(0, 0, 0.1, 0.1), rect(0.5, 0.5, 0.1, 0.1)) == 0.0
    # Sharing a whole edge and running the same way there: overlap counted once.
    assert polygon_intersection_area(rect(0, 0, 0.5, 0.5), rect(0, 0, 0.5, 0.25)) == (
        pytest.approx(0.125)
    )


unit = st.floats(min_value=0.0, max_value=0.5, allow_nan=False)
size = st.floats(min_value=0.01, max_value=0.5, allow_nan=False)


@given(unit, unit, size, size, unit, unit, size, size)
def test_rectangles_agree_with_box_iou(
    ax: float, ay: float, aw: float, ah: float, bx: float, by: float, bw: float, bh: float
) -> None:
    expected = box_iou(Rect(ax, ay, aw, ah), Rect(bx, by, bw, bh))
    assert polygon_iou(rect(ax, ay, aw, ah), rect(bx, by, bw, bh)) == pytest.approx(
        expected, abs=1e-9
    )


@given(st.lists(st.tuples(unit, unit), min_size=3, max_size=3), unit, unit)
def test_triangle_overlap_is_symmetric_and_bounded(
    triangle: list[tuple[float, float]], x: float, y: float
) -> None:
    square = rect(x, y, 0.3, 0.3)
    forward = polygon_intersection_area(triangle, square)
    assert forward == pytest.approx(polygon_intersection_area(square, triangle), abs=1e-9)
    assert -1e-12 <= forward <= min(polygon_area(triangle), polygon_area(square)) + 1e-9
