"""CSV: one row per item: path (and a text item's text), label(s), labeler(s), time, state,
split, the value as JSON, then one `attribute:<name>` column per attribute the classes declare:
a classification answer's value of it, or, for shapes, each shape's value in the order of the
value's shapes, `;` between them (blank for a shape without it)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

from core.domain.annotation_json import stored_labels
from core.export.records import Imported, Record

COLUMNS = ["path", "labels", "labelers", "labeled_at", "state", "split", "value"]
TEXT_COLUMNS = ["path", "text", *COLUMNS[1:]]


def write_csv(
    records: Iterable[Record],
    out: IO[bytes],
    *,
    texts: bool = False,
    attributes: Sequence[str] = (),
) -> int:
    """`texts`: a text project's rows carry the text itself (a path such as `reviews.csv#20`
    names a row of a file the reader may not have)."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text)
    columns = [f"attribute:{name}" for name in attributes]
    writer.writerow([*(TEXT_COLUMNS if texts else COLUMNS), *columns])
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
                *(_cell(rec.value, name) for name in attributes),
            ]
        )
        count += 1
    text.detach()
    return count


def _cell(value: dict[str, Any] | None, name: str) -> str:
    if value is None:
        return ""
    shapes = next((value[key] for key in ("boxes", "polygons", "spans") if key in value), None)
    if shapes is None:
        return _text(value, name)
    return ";".join(_text(shape, name) for shape in shapes)


def _text(part: dict[str, Any], name: str) -> str:
    found = (part.get("attributes") or {}).get(name)
    if found is None:
        return ""
    return json.dumps(found) if isinstance(found, bool) else str(found)


def read_csv(data: IO[bytes]) -> Iterator[Imported]:
    for row in csv.DictReader(io.TextIOWrapper(data, encoding="utf-8", newline="")):
        if row["value"]:
            yield Imported(row["path"], json.loads(row["value"]))
