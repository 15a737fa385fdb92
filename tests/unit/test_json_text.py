"""Documents and import plans are written as compact JSON that every reader takes back."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.json_text import compact_json, read_json

_STANDARD = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits too
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def test_compact_text_keeps_characters_and_reads_back_the_same() -> None:
    value = {"label": "chat noir ü", "x": 0.25, "n": [1, None, True]}
    text = compact_json(value)
    assert text == '{"label":"chat noir ü","x":0.25,"n":[1,null,true]}'
    assert json.loads(text) == value


@given(json_values)
def test_any_json_value_reads_back_the_same_by_either_reader(value: Any) -> None:
    text = compact_json(value)
    assert json.loads(text) == value == read_json(text)
    assert json.loads(text) == json.loads(_STANDARD(value))  # what the standard encoder wrote


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_what_json_cannot_hold_is_refused(number: float) -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        compact_json({"boxes": [{"x": number}]})


def test_words_that_name_non_numbers_are_plain_text() -> None:
    value = {"label": "NaN", "note": "Infinity and beyond", "x": 1e-05}
    assert read_json(compact_json(value)) == value


def test_what_has_no_json_form_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        compact_json({"x": object()})


def test_a_text_the_fast_reader_refuses_is_read_by_the_standard_one() -> None:
    assert read_json('"\\ud800"') == "\ud800"  # an escaped lone surrogate
    with pytest.raises(ValueError, match="Expecting property name"):
        read_json("{not json")
