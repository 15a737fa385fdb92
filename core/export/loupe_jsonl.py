"""Loupe JSONL: each item's whole stored document (annotations, consensus, final value,
prediction, review, history), one per line; predictions only when asked for."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import IO

from core.domain.items import DERIVED_FIELDS
from core.export.records import Imported, Record

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def write_loupe_jsonl(records: Iterable[Record], out: IO[bytes], *, predictions: bool) -> int:
    count = 0
    for rec in records:
        # Derived fields are recomputed on every write: leave them out, as the model does.
        drop = DERIVED_FIELDS if predictions else DERIVED_FIELDS | {"prediction"}
        doc = {k: v for k, v in rec.document.items() if k not in drop}
        out.write(_dumps(doc).encode() + b"\n")
        count += 1
    return count


def read_loupe_jsonl(lines: Iterable[bytes]) -> Iterator[Imported]:
    """Final values, or predictions of items that have none (with their confidence)."""
    for raw in lines:
        if not raw.strip():
            continue
        doc = json.loads(raw)
        if doc.get("final") is not None:
            yield Imported(doc["path"], doc["final"])
        elif doc.get("prediction"):
            yield Imported(doc["path"], doc["prediction"]["value"], doc["prediction"]["confidence"])
