"""The quick reading of a well-formed box accepts only what the full check accepts, and
stores the same value: any box it passes on gets the full check and its clear messages."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from core.domain.annotations import Box, _checked_box, _Checker, _plain_box

LABELS = frozenset(("cat", "dog"))
_NUMBER = st.one_of(
    st.floats(min_value=-0.5, max_value=1.5),  # in and around the image, both edges
    st.floats(min_value=0, max_value=1e-6),
    st.floats(min_value=1 - 1e-6, max_value=1 + 1e-5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, 2, -1, 10**400, -0.0, 0.0, 1.0, True, False]),
    st.sampled_from(["0.5", None, [0.5], {"v": 0.5}]),
)
_LABEL = st.sampled_from(["cat", "dog", "Cat", "", "bird", 3, None, ["cat"]])
_BOX = st.fixed_dictionaries(
    {"label": _LABEL, "x": _NUMBER, "y": _NUMBER, "w": _NUMBER, "h": _NUMBER}
)
_EXTRA = st.dictionaries(
    st.sampled_from(["attributes", "slice", "score", "label", "x"]),
    st.sampled_from([None, 0, {"pose": "side"}, "x"]),
    max_size=2,
)


def _checked(raw: object) -> tuple[Box | None, list[Any]]:
    check = _Checker(LABELS, "image_bounding_box annotations", {}, frames=1)
    return _checked_box(check, raw, "boxes[0]"), check.violations


def _stored(box: Box) -> str:
    return json.dumps(box.to_json())  # the text written: -0.0 and 0.0 differ here


@given(box=_BOX, extra=st.one_of(st.just({}), _EXTRA), drop=st.sampled_from(["", "w", "label"]))
@example(box={"label": "cat", "x": 0.25, "y": 0.5, "w": 0.5, "h": 0.25}, extra={}, drop="")
@example(box={"label": "cat", "x": 0, "y": 0, "w": 1, "h": 1}, extra={}, drop="")
@example(box={"label": "cat", "x": 0.5, "y": 0.5, "w": 0.5, "h": 0.5}, extra={}, drop="")
@example(box={"label": "cat", "x": -0.0, "y": 0.0, "w": 1.0, "h": 0.5}, extra={}, drop="")
@example(box={"label": "cat", "x": 0.6, "y": 0.5, "w": 0.4000001, "h": 0.5}, extra={}, drop="")
@example(box={"label": "cat", "x": 0.5, "y": 0.5, "w": 10**400, "h": 0.5}, extra={}, drop="")
def test_the_quick_reading_accepts_only_what_the_full_check_accepts_and_stores_the_same(
    box: dict[str, Any], extra: dict[str, Any], drop: str
) -> None:
    raw = {k: v for k, v in (box | extra).items() if k != drop}
    quick = _plain_box(raw, LABELS)
    full, violations = _checked(raw)
    if quick is not None:
        assert not violations
        assert full is not None
        assert full == quick
        assert _stored(full) == _stored(quick)


def test_the_common_boxes_take_the_quick_reading() -> None:
    common = [
        {"label": "cat", "x": 0.25, "y": 0.5, "w": 0.5, "h": 0.25},
        {"label": "dog", "x": 0, "y": 0, "w": 1, "h": 1},
        {"label": "dog", "x": 0.0, "y": 0.9, "w": 0.1, "h": 0.1},
    ]
    for raw in common:
        quick = _plain_box(raw, LABELS)
        assert quick is not None
        assert quick == _checked(raw)[0]


def test_what_the_full_check_would_clamp_or_refuse_is_left_to_it() -> None:
    at_edge = {"label": "cat", "x": 0.5, "y": 0.5, "w": 0.5000000001, "h": 0.5}  # float error
    refused = [
        {"label": "bird", "x": 0.5, "y": 0.5, "w": 0.1, "h": 0.1},
        {"label": "cat", "x": True, "y": 0.5, "w": 0.1, "h": 0.1},
        {"label": "cat", "x": 0.5, "y": 0.5, "w": 0.0, "h": 0.1},
        {"label": "cat", "x": 0.5, "y": 0.5, "w": float("nan"), "h": 0.1},
    ]
    assert _plain_box(at_edge, LABELS) is None
    assert _checked(at_edge)[0] == Box("cat", 0.5, 0.5, 0.5, 0.5)  # pulled onto the border
    on_slice = {"label": "cat", "x": 0.5, "y": 0.5, "w": 0.1, "h": 0.1, "slice": 0}
    assert _plain_box(on_slice, LABELS) is None
    assert _checked(on_slice)[0] == Box("cat", 0.5, 0.5, 0.1, 0.1, slice=0)
    for raw in refused:
        assert _plain_box(raw, LABELS) is None
        assert _checked(raw)[1]
