"""JSON text as documents are stored and import plans keep values: compact, written and read
by pydantic-core (Rust, loaded for the models already), five and two times as fast as the
standard library, which was a fifth of a label import's time and part of every write's.

The writer refuses NaN and infinities, as the standard compact encoder did (no JSON reader
takes them back: a value holding one is a bug to surface where it is written, not a document
nothing can read). Where pydantic-core writes such a number as a bare word, or cannot write a
value, or cannot read a text (an escaped lone surrogate), the standard library does it, or
raises as it always has."""

from __future__ import annotations

import json
from typing import Any

from pydantic_core import PydanticSerializationError, from_json, to_json

_strict = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
_words = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def compact_json(value: object) -> str:
    """The text of `value`; ValueError for NaN or an infinity, TypeError for what JSON has no
    form for (Python's own types with a standard JSON form, as a datetime's ISO text, take
    it)."""
    text = _fast(value)
    # A non-finite number is written as a bare word; a string may hold the same letters, which
    # the strict encoder then writes the same.
    if text is None or "NaN" in text or "Infinity" in text:
        return _strict(value)  # the standard library's own error (or, rarely, its text)
    return text


def worded_json(value: object) -> str:
    """`compact_json`, but a non-finite number written as the word JavaScript uses (`NaN`,
    `Infinity`): a file's raw value kept as it came, for the rules that check it to refuse."""
    text = _fast(value)
    return _words(value) if text is None else text


def _fast(value: object) -> str | None:
    """pydantic-core's text of `value` (non-finite numbers as words); None where it cannot
    write it (a lone surrogate, an object with no JSON form)."""
    try:
        return to_json(value, inf_nan_mode="constants").decode()
    except PydanticSerializationError:
        return None


def read_json(text: str) -> Any:
    """The value of a JSON text this module wrote (a stored document); ValueError if it is
    not JSON."""
    try:
        return from_json(text)
    except ValueError:
        return json.loads(text)
