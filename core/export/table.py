"""CSV: one row per item: path (and a text item's text), label(s), labeler(s), time, state,
split, and the value as JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import IO

from core.domain.annotation_json import stored_labels
from core.export.records import Imported, Record

COLUMNS = ["path", "labels", "labelers", "labeled_at", "state", "split", "value"]
TEXT_COLUMNS = ["path", "text", *COLUMNS[1:]]


def write_csv(records: Iterable[Record], out: IO[bytes], *, texts: bool = False) -> int:
    """`texts`: a text project's rows carry the text itself (a path such as `reviews.csv#20`
    names a row of a file the reader may not have)."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow(TEXT_COLUMNS if texts else COLUMNS)
    count = 0
    for rec in records:
        value = json.dumps(rec.value, separators=(",", ":")) if rec.value is not None else ""
        writer.writerow(
            [
                rec.path,
                *([rec.text or ""] if texts else []),
                ";".join(stored_labels(rec.value)),
                ";".join(rec.labelers),
                rec.at or "",
                rec.state,
                rec.split,
                value,
            ]
        )
        count += 1
    text.detach()
    return count


def read_csv(data: IO[bytes]) -> Iterator[Imported]:
    for row in csv.DictReader(io.TextIOWrapper(data, encoding="utf-8", newline="")):
        if row["value"]:
            yield Imported(row["path"], json.loads(row["value"]))
