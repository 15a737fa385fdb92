"""Text files: `.txt` is one item; `.csv`/`.tsv` one item per row (the owner picks the text
column); `.jsonl` one item per line (a text field). Files are read as streams of chunks, so a
large file never sits in memory whole.

Encodings, decided for people who label text with character offsets (NER spans): text must be
UTF-8 (a byte-order mark is fine) or UTF-16/32 *with* its byte-order mark, the encodings that
can be told apart without guessing. Anything else (Latin-1, Windows-1252 from Excel) is refused
with the byte and line and how to convert it, never decoded by a guess that would silently
change the characters labelers see and spans index into. A NUL character means binary data,
not text: a `.txt` holding one is refused, a row holding one is an error of its own. A `.txt`
longer than `MAX_TEXT_CHARS` is refused (nobody labels a 200 MB document as one item), and so
is a row longer than `INLINE_CHARS`, since rows are kept in their item's document."""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass

from core.media.facts import MediaError

ROW_FILES = frozenset({".csv", ".tsv", ".jsonl"})
INLINE_CHARS = 100_000
"""Longer texts stay in their blob; the item keeps a reference (documents stay small)."""
MAX_TEXT_CHARS = 10_000_000
"""The longest `.txt` that becomes an item."""
MAX_LINE_CHARS = 1 << 24
"""A row file's longest physical line: past it, the file is not rows of text."""
NUL_IN_ROW = "the text holds a NUL character: binary data, not text"

# A field over the csv module's 128 KiB default would stop the whole file; up to a line's limit
# it is read, and a row too long for an item becomes an error of its own.
csv.field_size_limit(max(csv.field_size_limit(), MAX_LINE_CHARS))


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
                yield _record(number, row[index])
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
            yield _record(number, found)


def _record(number: int, text: str) -> Record:
    if "\x00" in text:
        return Record(number, error=NUL_IN_ROW)
    if len(text) > INLINE_CHARS:
        return Record(
            number,
            error=f"the text is {len(text):,} characters; a row holds up to {INLINE_CHARS:,} "
            "(put long texts in .txt files of their own)",
        )
    return Record(number, text=text)


def _decoded(chunks: Iterable[bytes]) -> Iterator[str]:
    """The text of a stream of byte chunks, decoded incrementally: UTF-8, or UTF-16/32 when
    the file starts with their byte-order mark. Raises `MediaError` at the first invalid byte,
    saying on which line and how to convert the file."""
    decoder: codecs.IncrementalDecoder | None = None
    line = 1
    for chunk in chunks:
        if not chunk:
            continue
        if decoder is None:
            decoder = codecs.getincrementaldecoder(_encoding(chunk))()
        line = yield from _decode(decoder, chunk, line, final=False)
    if decoder is not None:
        yield from _decode(decoder, b"", line, final=True)


def _encoding(first: bytes) -> str:
    if first.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return "utf-8-sig"


def _decode(
    decoder: codecs.IncrementalDecoder, chunk: bytes, line: int, *, final: bool
) -> Generator[str, None, int]:
    try:
        text = decoder.decode(chunk, final=final)
    except UnicodeDecodeError as error:
        valid = error.object[: error.start]
        if error.encoding.startswith("utf-8"):
            yield valid.decode("utf-8-sig")  # the rows before the bad byte still count
        raise MediaError(_not_utf8(error, line + valid.count(b"\n"))) from None
    if text:
        yield text
    return line + text.count("\n")


def _not_utf8(error: UnicodeDecodeError, line: int) -> str:
    if error.encoding.startswith("utf-16") or error.encoding.startswith("utf-32"):
        return f"not {error.encoding.upper()} text as its byte-order mark says, near line {line}"
    byte = error.object[error.start]
    guess = (
        ": it looks like Latin-1 or Windows-1252 (Excel's plain CSV); save it as UTF-8 (Excel: "
        "'CSV UTF-8'; or `iconv -f cp1252 -t utf-8`) and add it again"
        if byte >= 0x80
        else " (save it as UTF-8)"
    )
    return f"not UTF-8 text: byte 0x{byte:02x} near line {line}{guess}"


class _TextStream(Iterator[str]):
    """Lines decoded from byte chunks; keeps line endings (CSV needs them for quoted
    newlines). A line is split only once its end arrives, in time linear in its length; one
    longer than `MAX_LINE_CHARS` raises `MediaError`."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._texts = _decoded(chunks)
        self._lines: deque[str] = deque()
        self._partial: list[str] = []
        self._partial_chars = 0
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
        text = next(self._texts, None)
        if text is None:
            self._done = True
            if self._partial:
                self._lines.append("".join(self._partial))
            return
        # A line without its end (or with a '\r' whose '\n' may follow) waits for more.
        if "\n" not in text and "\r" not in text[:-1]:
            self._keep(text)
            return
        lines = io.StringIO("".join(self._partial) + text, newline="").readlines()
        self._partial, self._partial_chars = [], 0
        if lines and not lines[-1].endswith("\n"):
            self._keep(lines.pop())
        self._line += len(lines)
        self._lines.extend(lines)

    def _keep(self, text: str) -> None:
        self._partial.append(text)
        self._partial_chars += len(text)
        if self._partial_chars > MAX_LINE_CHARS:
            raise MediaError(
                f"line {self._line} is longer than {MAX_LINE_CHARS:,} characters: not a file "
                "of rows (one record per line)"
            )


def text_facts(chunks: Iterable[bytes]) -> tuple[int, str | None]:
    """A `.txt` file's length in characters, and its text unless longer than `INLINE_CHARS`.
    Decodes as it reads: a large file is checked without being held whole, and reading stops
    once it is over `MAX_TEXT_CHARS`."""
    kept: list[str] = []
    chars = 0
    line = 1
    for text in _decoded(chunks):
        if "\x00" in text:
            line += text[: text.index("\x00")].count("\n")
            raise MediaError(
                f"binary data, not text: a NUL character near line {line} (a UTF-16 file "
                "needs its byte-order mark)"
            )
        line += text.count("\n")
        chars += len(text)
        if chars > MAX_TEXT_CHARS:
            raise MediaError(
                f"too long to label as one item: over {MAX_TEXT_CHARS:,} characters; split it "
                "into smaller .txt files, or one text per line in a .jsonl"
            )
        if chars <= INLINE_CHARS:
            kept.append(text)
    return chars, "".join(kept) if chars <= INLINE_CHARS else None
