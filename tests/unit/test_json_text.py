"""Documents and import plans are written as compact JSON that every reader takes back."""

from __future__ import annotations

import json
import math

import pytest

from core.domain.json_text import compact_json


def test_compact_text_keeps_characters_and_reads_back_the_same() -> None:
    value = {"label": "chat noir ü", "x": 0.25, "n": [1, None, True]}
    text = compact_json(value)
    assert text == '{"label":"chat noir ü","x":0.25,"n":[1,null,true]}'
    assert json.loads(text) == value


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_what_json_cannot_hold_is_refused(number: float) -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        compact_json({"boxes": [{"x": number}]})
