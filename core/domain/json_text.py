"""Compact JSON text, as documents are stored and import plans keep values: one encoder,
built once (building one per call costs more than encoding a small value), that refuses NaN
and infinities (no JSON reader takes them back: a value holding one is a bug to surface where
it is written, not a document nothing can read)."""

from __future__ import annotations

import json

compact_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
"""`compact_json(value)`: the text; ValueError for NaN or an infinity, TypeError for what JSON
has no form for."""
