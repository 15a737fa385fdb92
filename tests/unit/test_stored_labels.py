"""The labels of a stored value, read from its JSON without building it, are the labels of
the typed value it reads as (`labels_of`), for every kind; a value too broken to read still
names the classes it can."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from core.domain.annotation_json import read_value, stored_labels
from core.domain.annotations import labels_of

_LABEL = st.sampled_from(["cat", "dog", "Animal/Dog", "", "ü"])
_ODD = st.sampled_from([None, 3, True, ["cat"], {"label": "cat"}])
_UNIT = st.floats(min_value=0, max_value=1)


def _part(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    """One shape of `kind` as a document holds it: well formed, or a field gone or odd."""
    label = st.one_of(_LABEL, _LABEL, _LABEL, _ODD)
    fields = {
        "boxes": {"x": _UNIT, "y": _UNIT, "w": _UNIT, "h": _UNIT},
        "polygons": {"points": st.lists(st.tuples(_UNIT, _UNIT), min_size=3, max_size=4)},
        "spans": {"start": st.integers(0, 9), "end": st.integers(10, 20)},
        "keypoints": {
            "points": st.lists(
                st.fixed_dictionaries({"x": _UNIT, "y": _UNIT, "v": st.sampled_from([0, 1, 2])}),
                min_size=1,
                max_size=2,
            )
        },
        "masks": {"size": st.just([2, 2]), "counts": st.just("4")},
    }[kind]
    whole = st.fixed_dictionaries({"label": label, **fields})
    broken = whole.map(lambda part: {k: v for k, v in part.items() if k != "x"})
    return st.one_of(whole, whole, whole, broken)


_VALUES = st.one_of(
    st.fixed_dictionaries({"label": st.one_of(_LABEL, _ODD)}),
    st.fixed_dictionaries(
        {"labels": st.one_of(st.lists(st.one_of(_LABEL, _LABEL, _ODD), max_size=8), _ODD)}
    ),
    *(
        st.fixed_dictionaries({kind: st.one_of(st.lists(_part(kind), max_size=8), _ODD)})
        for kind in ("boxes", "polygons", "spans", "keypoints", "masks")
    ),
    st.just({"shapes": []}),
    _ODD,
)


@settings(max_examples=500)  # cheap, and kinds x well formed or not x labels are many cases
@given(raw=_VALUES)
@example(raw={"labels": ["dog", "cat", "ü", "dog"]})
@example(
    raw={"boxes": [{"label": n, "x": 0, "y": 0, "w": 1, "h": 1} for n in ("b", "a", "c", "a")]}
)
@example(raw={"masks": [{"label": n, "size": [1, 1], "counts": "1"} for n in ("b", "a", "c")]})
def test_labels_read_from_the_json_are_those_of_the_value_it_reads_as(raw: object) -> None:
    try:
        value = read_value(raw)
    except ValidationError:  # too broken to read: its labels are still its string labels
        assert all(isinstance(label, str) for label in stored_labels(raw))
        return
    assert stored_labels(raw) == tuple(dict.fromkeys(labels_of(value)))
    assert stored_labels(value) == labels_of(value)  # a typed value: its own labels


def test_a_value_names_each_label_once_in_order_of_first_use() -> None:
    boxes = {"boxes": [{"label": "dog"}, {"label": "cat"}, {"label": "dog"}, {"label": 3}]}
    assert stored_labels(boxes) == ("dog", "cat")
    assert stored_labels({"label": "cat"}) == ("cat",)
    assert stored_labels(None) == stored_labels({"shapes": []}) == stored_labels("cat") == ()
