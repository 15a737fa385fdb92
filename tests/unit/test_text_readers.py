"""Text files read as streams of chunks: rows, columns, fields, and encodings."""

from __future__ import annotations

import time
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


def test_utf16_with_its_byte_order_mark_is_read() -> None:
    assert text_facts(chunked("Grüße\n".encode("utf-16"))) == (6, "Grüße\n")
    assert read("text\nGrüße\n".encode("utf-16"), ".csv") == [Record(1, text="Grüße")]


def test_latin1_is_refused_with_how_to_convert_it() -> None:
    with pytest.raises(MediaError, match=r"Latin-1 or Windows-1252.*iconv -f cp1252"):
        text_facts(chunked("café".encode("latin-1")))


def test_nul_means_binary_a_file_refused_a_row_marked() -> None:
    with pytest.raises(MediaError, match="NUL character near line 2"):
        text_facts(chunked(b"one\ntw\x00o\n"))
    assert read(b"text\na\x00b\nfine\n", ".csv") == [
        Record(1, error="the text holds a NUL character: binary data, not text"),
        Record(2, text="fine"),
    ]


def test_a_huge_line_is_refused_quickly_not_read_quadratically() -> None:
    started = time.monotonic()
    with pytest.raises(MediaError, match="not a file of rows"):
        list(
            records(
                chunked(b'{"text": "' + b"x" * (20 << 20), 1 << 20),
                ".jsonl",
                column=None,
                field="text",
            )
        )
    assert time.monotonic() - started < 5


def test_rows_longer_than_an_item_holds_are_errors_of_their_own() -> None:
    long = "x" * (INLINE_CHARS + 1)
    found = read(f"text\n{long}\nshort\n".encode(), ".csv")
    assert found[0].error is not None and "put long texts in .txt files" in found[0].error
    assert found[1] == Record(2, text="short")


def test_a_field_over_the_csv_modules_default_limit_spoils_only_its_row() -> None:
    found = read(f"text\n{'x' * 200_000}\nshort\n".encode(), ".csv")
    assert found[0].error is not None and found[1] == Record(2, text="short")
