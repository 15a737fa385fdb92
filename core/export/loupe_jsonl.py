"""Loupe JSONL: each item's whole stored document (annotations, consensus, final value,
prediction, review, history), one per line; predictions only when asked for; with a split, the
item's `split` (train or validation) beside them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import IO

from core.domain.items import DERIVED_FIELDS
from core.export.jsonl import Line, kind
from core.export.records import Imported, Problem, Record

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def write_loupe_jsonl(
    records: Iterable[Record], out: IO[bytes], *, predictions: bool, split: bool = False
) -> int:
    count = 0
    for rec in records:
        # Derived fields are recomputed on every write: leave them out, as the model does.
        drop = DERIVED_FIELDS if predictions else DERIVED_FIELDS | {"prediction"}
        doc = {k: v for k, v in rec.document.items() if k not in drop}
        if split:
            doc["split"] = rec.split
        out.write(_dumps(doc).encode() + b"\n")
        count += 1
    return count


def read_loupe_jsonl(lines: Iterable[Line | Problem]) -> Iterator[Imported | Problem]:
    """Final values, or predictions of items that have none (with their confidence); a line
    with neither lists its item without a label."""
    for line in lines:
        if isinstance(line, Problem):
            yield line
            continue
        doc, where = line.doc, line.where
        path = doc.get("path")
        if not isinstance(path, str) or not path:
            yield Problem(where, f'"path" must be the item\'s path (a string), not {kind(path)}')
            continue
        final, prediction = doc.get("final"), doc.get("prediction")
        if final is not None:
            if not isinstance(final, dict):
                yield Problem(
                    where, f'"final" must be a label value (an object), not {kind(final)}'
                )
                continue
            yield Imported(path, final, where=where)
        elif prediction is not None:
            yield _prediction(path, prediction, where)
        else:
            yield Imported(path, None, where=where)


def _prediction(path: str, prediction: object, where: str) -> Imported | Problem:
    if not isinstance(prediction, dict) or not isinstance(prediction.get("value"), dict):
        return Problem(where, '"prediction" must be an object with "value" (an object)')
    confidence = prediction.get("confidence")
    if confidence is not None and (
        isinstance(confidence, bool)
        or not isinstance(confidence, int | float)
        or not 0 <= confidence <= 1
    ):
        return Problem(where, '"prediction.confidence" must be a number from 0 to 1')
    score = None if confidence is None else float(confidence)
    return Imported(path, prediction["value"], score, where=where)
