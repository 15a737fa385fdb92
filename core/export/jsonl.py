"""JSON Lines as imports read them: a plain file, or every `.jsonl` inside a zip (an Azure ML
MLTable folder), one object per line with where it came from. What cannot be read becomes a
`Problem` naming the line (and the column), never an exception: an import lists them all."""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from core.export.records import Problem

MAX_LINE = 16 << 20
"""A record is one item's labels: far below this even with thousands of polygon points."""
MAX_UNZIPPED = 8 << 30
"""What the .jsonl files of a zip may hold together once inflated (a zip bomb is refused)."""
# NotImplementedError (an unknown compression) and RuntimeError (encryption) come from opening
# a member; the others from inflating a damaged one.
_UNREADABLE = (
    zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError, RuntimeError
)  # fmt: skip


@dataclass(frozen=True)
class Line:
    where: str
    doc: dict[str, Any]


def json_lines(data: IO[bytes]) -> Iterator[Line | Problem]:
    """The records of a seekable JSONL file or zip of them."""
    head = data.read(4)
    data.seek(0)
    if head[:2] == b"PK":  # a zip's local header, or an empty zip's end record
        yield from _zipped(data)
    else:
        yield from _lines(data, "")


def _zipped(data: IO[bytes]) -> Iterator[Line | Problem]:
    try:
        archive = zipfile.ZipFile(data)
        members = sorted(
            (info for info in archive.infolist() if _is_jsonl(info.filename)),
            key=lambda info: info.filename,
        )
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        yield Problem("file", f"starts like a zip (PK) but cannot be opened as one: {error}")
        return
    with archive:
        if not members:
            yield Problem(
                "file",
                "the zip holds no .jsonl file; an Azure ML MLTable folder keeps its "
                "data.jsonl beside the MLTable file",
            )
            return
        if sum(info.file_size for info in members) > MAX_UNZIPPED:
            yield Problem(
                "file", f"the zip's .jsonl files inflate to more than {_gib(MAX_UNZIPPED)}"
            )
            return
        for info in members:
            try:
                with archive.open(info) as part:
                    yield from _lines(part, f"{info.filename} ")
            except _UNREADABLE as error:
                yield Problem(info.filename, f"cannot be read from the zip: {error}")


def _is_jsonl(name: str) -> bool:
    return name.endswith(".jsonl") and not name.startswith("__MACOSX/")


def _lines(source: IO[bytes], prefix: str) -> Iterator[Line | Problem]:
    number = 0
    while True:
        raw = source.readline(MAX_LINE + 1)
        if not raw:
            return
        number += 1
        where = f"{prefix}line {number}"
        if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
            while (rest := source.readline(MAX_LINE)) and not rest.endswith(b"\n"):
                pass  # skip the rest of the over-long line
            yield Problem(where, f"is longer than {MAX_LINE >> 20} MiB; one line is one record")
            continue
        if not raw.strip():
            continue
        yield _parsed(raw, where)


def _parsed(raw: bytes, where: str) -> Line | Problem:
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as error:
        return Problem(where, f"is not valid JSON: {error.msg} (column {error.colno})")
    except UnicodeDecodeError:
        return Problem(where, "is not UTF-8 text (is this a binary file?)")
    except RecursionError:
        return Problem(where, "nests lists or objects too deeply to read")
    except ValueError as error:  # e.g. an integer of more than 4,300 digits
        return Problem(where, f"cannot be read: {error}")
    if not isinstance(doc, dict):
        return Problem(where, f"must be a JSON object (one record per line), not {kind(doc)}")
    return Line(where, doc)


def kind(value: object) -> str:
    """What a JSON value is, in words, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _gib(size: int) -> str:
    return f"{size / (1 << 30):g} GiB"
