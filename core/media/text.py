"""Text files: `.txt` is one item; `.csv`/`.tsv` one item per row (the owner picks the text
column); `.jsonl` one item per line (a text field). Files are read as streams of chunks, so a
large file never sits in memory whole; text must be UTF-8 (a byte-order mark is fine)."""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from core.media.facts import MediaError

ROW_FILES = frozenset({".csv", ".tsv", ".jsonl"})
INLINE_CHARS = 100_000
"""Longer texts stay in their blob; the item keeps a reference (documents stay small)."""


@dataclass(frozen=True)
class Record:
    """One row's text, or why the row cannot be an item."""

    row: int
    text: str | None = None
    error: str | None = None


def records(
    chunks: Iterable[bytes], extension: str, *, column: str | None, field: str
) -> Iterator[Record]:
    """The records of a row file in order. A file-wide problem (not UTF-8, no such column,
    malformed CSV) raises `MediaError` after the records read before it."""
    text = _TextStream(chunks)
    if extension == ".jsonl":
        yield from _jsonl(text, field)
    else:
        yield from _delimited(text, "\t" if extension == ".tsv" else ",", column)


def _delimited(text: _TextStream, delimiter: str, column: str | None) -> Iterator[Record]:
    reader = csv.reader(text, delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None:
            return
        index = _column(header, column)
        number = 0
        for row in reader:
            if not row:
                continue  # a blank line is not a record
            number += 1
            if index >= len(row):
                yield Record(number, error=f"row has {len(row)} fields, the header {len(header)}")
            else:
                yield Record(number, text=row[index])
    except csv.Error as error:
        kind = "TSV" if delimiter == "\t" else "CSV"
        raise MediaError(f"malformed {kind} at line {reader.line_num}: {error}") from None


def _column(header: list[str], column: str | None) -> int:
    names = [name.strip() for name in header]
    if column is not None and column in names:
        return names.index(column)
    if column is None:
        if len(names) == 1:
            return 0
        folded = [name.casefold() for name in names]
        if "text" in folded:
            return folded.index("text")
    wanted = repr(column) if column else "'text' (or a single column)"
    raise MediaError(
        f"no column {wanted}; the columns are {', '.join(map(repr, names))}: set the "
        "project's ingest.textColumn to one of them"
    )


def _jsonl(text: _TextStream, field: str) -> Iterator[Record]:
    for number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            yield Record(number, error=f"not JSON: {error.msg} at column {error.colno}")
            continue
        found = value.get(field) if isinstance(value, dict) else None
        if not isinstance(found, str):
            yield Record(number, error=f"no text field {field!r} (set ingest.textField)")
        else:
            yield Record(number, text=found)


class _TextStream(Iterator[str]):
    """Lines of UTF-8 text decoded incrementally from byte chunks; keeps line endings (CSV
    needs them for quoted newlines) and raises `MediaError` at the first invalid byte."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self._lines: deque[str] = deque()
        self._partial = ""
        self._line = 1
        self._done = False

    def __iter__(self) -> _TextStream:
        return self

    def __next__(self) -> str:
        while not self._lines:
            if self._done:
                raise StopIteration
            self._fill()
        return self._lines.popleft()

    def _fill(self) -> None:
        chunk = next(self._chunks, None)
        final = chunk is None
        try:
            text = self._decoder.decode(chunk or b"", final=final)
        except UnicodeDecodeError as error:
            line = self._line + self._partial.count("\n")
            raise MediaError(
                f"not UTF-8 text: byte 0x{error.object[error.start]:02x} near line {line} "
                "(save it as UTF-8)"
            ) from None
        lines = io.StringIO(self._partial + text, newline="").readlines()
        # A last line without its end (or with a '\r' whose '\n' may follow) waits for more.
        if lines and not final and not lines[-1].endswith("\n"):
            self._partial = lines.pop()
        else:
            self._partial = ""
        self._line += len(lines)
        self._lines.extend(lines)
        self._done = final


def text_facts(chunks: Iterable[bytes]) -> tuple[int, str | None]:
    """A `.txt` file's length in characters, and its text unless longer than `INLINE_CHARS`.
    Decodes as it reads: a large file is checked for UTF-8 without being held whole."""
    kept: list[str] = []
    chars = 0
    for line in _TextStream(chunks):
        chars += len(line)
        if chars <= INLINE_CHARS:
            kept.append(line)
    return chars, "".join(kept) if chars <= INLINE_CHARS else None
