"""Text files read as streams of chunks: rows, columns, fields, and encodings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.media.facts import MediaError
from core.media.text import INLINE_CHARS, Record, records, text_facts


def chunked(data: bytes, size: int = 7) -> Iterator[bytes]:
    """Small chunks, so that lines and multi-byte characters straddle chunk boundaries."""
    return (data[i : i + size] for i in range(0, len(data), size))


def read(data: bytes, ext: str, column: str | None = None, field: str = "text") -> list[Record]:
    return list(records(chunked(data), ext, column=column, field=field))


def test_txt_keeps_text_and_counts_characters() -> None:
    assert text_facts(chunked("\ufeffGrüße\r\nzweite Zeile".encode())) == (
        19,
        "Grüße\r\nzweite Zeile",
    )
    chars, text = text_facts(chunked(b"x" * (INLINE_CHARS + 1), 4096))
    assert (chars, text) == (INLINE_CHARS + 1, None)  # too long: a reference instead


def test_non_utf8_text_is_refused_with_where() -> None:
    with pytest.raises(MediaError, match=r"not UTF-8 text: byte 0xe9 near line 2"):
        text_facts(chunked(b"one\n" + "café".encode("latin-1")))


def test_csv_rows_with_the_owners_column_and_quoted_newlines() -> None:
    data = b'id,review,stars\n1,"Great, really\nsuper",5\n2,Bad,1\n\n3,Fine,3\n'
    assert read(data, ".csv", column="review") == [
        Record(1, text="Great, really\nsuper"),
        Record(2, text="Bad"),
        Record(3, text="Fine"),
    ]


def test_csv_defaults_to_a_text_column_or_the_only_one() -> None:
    assert read(b"Text,label\nhello,x\n", ".csv") == [Record(1, text="hello")]
    assert read(b"sentence\nhello\n", ".csv") == [Record(1, text="hello")]
    with pytest.raises(MediaError, match=r"no column 'body'; the columns are 'a', 'b'"):
        read(b"a,b\n1,2\n", ".csv", column="body")


def test_short_rows_are_errors_of_their_own() -> None:
    assert read(b"a,text\n1\n2,ok\n", ".csv") == [
        Record(1, error="row has 1 fields, the header 2"),
        Record(2, text="ok"),
    ]


def test_tsv_uses_tabs() -> None:
    assert read(b"text\tlabel\na, b\tx\n", ".tsv") == [Record(1, text="a, b")]


def test_jsonl_lines_with_bad_ones_marked() -> None:
    data = b'{"text": "one"}\n\nnot json\n{"other": 1}\n{"body": "two"}\n'
    assert read(data, ".jsonl") == [
        Record(1, text="one"),
        Record(3, error="not JSON: Expecting value at column 1"),
        Record(4, error="no text field 'text' (set ingest.textField)"),
        Record(5, error="no text field 'text' (set ingest.textField)"),
    ]
    assert read(data, ".jsonl", field="body")[-1] == Record(5, text="two")


def test_a_bad_byte_in_a_row_file_stops_it_after_the_good_rows() -> None:
    data = b"text\nfine\n" + "caf\xe9".encode("latin-1") + b"\n"
    found = records(chunked(data), ".csv", column=None, field="text")
    assert next(found) == Record(1, text="fine")
    with pytest.raises(MediaError, match="not UTF-8"):
        next(found)
