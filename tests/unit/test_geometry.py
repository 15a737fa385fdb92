from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.geometry import (
    box_area,
    box_iou,
    clamp_unit,
    drop_repeats,
    polygon_area,
    signed_area,
)


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float


def test_identical_boxes_have_iou_one() -> None:
    box = Rect(0.1, 0.2, 0.3, 0.4)
    assert box_iou(box, box) == 1.0


def test_disjoint_boxes_have_iou_zero() -> None:
    assert box_iou(Rect(0, 0, 0.2, 0.2), Rect(0.5, 0.5, 0.2, 0.2)) == 0.0


def test_boxes_that_only_touch_have_iou_zero() -> None:
    assert box_iou(Rect(0, 0, 0.5, 0.5), Rect(0.5, 0, 0.5, 0.5)) == 0.0


def test_box_covering_half_of_another_has_iou_one_half() -> None:
    assert box_iou(Rect(0, 0, 0.4, 0.4), Rect(0, 0, 0.2, 0.4)) == pytest.approx(0.5)


def test_boxes_shifted_by_half_their_width_have_iou_one_third() -> None:
    # Intersection 0.2 x 0.4 = 0.08; union 0.16 + 0.16 - 0.08 = 0.24.
    a, b = Rect(0, 0, 0.4, 0.4), Rect(0.2, 0, 0.4, 0.4)
    assert box_iou(a, b) == pytest.approx(1 / 3)
    assert box_iou(b, a) == pytest.approx(1 / 3)


def test_degenerate_boxes_have_iou_zero_not_a_division_error() -> None:
    flat = Rect(0.1, 0.1, 0.0, 0.5)
    assert box_iou(flat, flat) == 0.0
    assert box_area(flat) == 0.0


def test_unit_square_has_area_one_in_either_direction() -> None:
    square = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
    assert polygon_area(square) == 1.0
    assert polygon_area(square[::-1]) == 1.0


def test_signed_area_is_positive_clockwise_on_screen() -> None:
    clockwise_on_screen = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
    assert signed_area(clockwise_on_screen) == 1.0
    assert signed_area(clockwise_on_screen[::-1]) == -1.0


def test_triangle_area() -> None:
    assert polygon_area([(0.0, 0.0), (0.5, 0.0), (0.0, 0.5)]) == pytest.approx(0.125)


def test_repeating_the_first_point_does_not_change_the_area() -> None:
    triangle = [(0.0, 0.0), (0.5, 0.0), (0.0, 0.5)]
    assert polygon_area([*triangle, triangle[0]]) == polygon_area(triangle)


def test_degenerate_polygons_have_zero_area() -> None:
    assert polygon_area([(0.0, 0.0), (0.5, 0.5), (1.0, 1.0)]) == 0.0
    assert polygon_area([(0.0, 0.0), (1.0, 1.0)]) == 0.0
    assert polygon_area([]) == 0.0


def test_drop_repeats_removes_consecutive_copies_and_the_closing_point() -> None:
    ring = [(0.0, 0.0), (0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (1.0, 1.0), (0.0, 0.0)]
    assert drop_repeats(ring) == [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]
    assert drop_repeats([(0.5, 0.5), (0.5, 0.5)]) == [(0.5, 0.5)]


def test_clamp_unit() -> None:
    assert clamp_unit(-1e-7) == 0.0
    assert clamp_unit(1 + 1e-7) == 1.0
    assert clamp_unit(0.25) == 0.25


unit = st.floats(min_value=0, max_value=1)
rects = st.builds(Rect, unit, unit, unit, unit)


@given(rects, rects)
def test_iou_is_symmetric_and_between_zero_and_one(a: Rect, b: Rect) -> None:
    iou = box_iou(a, b)
    assert 0.0 <= iou <= 1.0
    assert math.isclose(iou, box_iou(b, a), abs_tol=1e-12)


# Sizes below 1e-6 of the image are far below a pixel, and float addition can swallow them.
sizes = st.floats(min_value=1e-6, max_value=1)


@given(st.builds(Rect, unit, unit, sizes, sizes))
def test_any_box_with_area_matches_itself_fully(box: Rect) -> None:
    assert box_iou(box, box) == pytest.approx(1.0)
