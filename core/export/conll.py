"""CoNLL 2003 for named entities: `token label` per line with IOB2 tags (every entity starts
with B-), a blank line between items.

Tokens are words, numbers and punctuation as CoNLL 2003 has them (`Paris.` is `Paris` and
`.`; `U.S.`, `3.14`, `e-mail` and `O'Brien` stay whole), and a token is cut where a span starts
or ends inside it (`World` labelled in `HelloWorld` is its own token), so every span comes back
exactly as it was labelled. A token never holds whitespace, and neither does a span's edge:
spans are trimmed of it when they are saved (`validate_annotation`), so none changes here."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from typing import IO, Any

from core.export.records import Record

_TOKEN = re.compile(
    r"""\d+(?:[.,:/]\d+)+       # numbers with separators: 3.14, 1,000, 12:30
    |(?:[^\W\d_]\.){2,}        # abbreviations: U.S., e.g.
    |\w+(?:['’-]\w+)*          # words, with inner apostrophes or hyphens
    |\S                        # any other character alone: punctuation, symbols
    """,
    re.VERBOSE,
)


def tokens(text: str, spans: list[dict[str, Any]]) -> Iterator[tuple[str, str, int, int]]:
    """(token, IOB2 tag, start, end) of every token of `text`; `spans` sorted, not overlapping
    (as stored)."""
    spans = sorted(spans, key=lambda span: (span["start"], span["end"]))
    cuts = sorted({edge for span in spans for edge in (span["start"], span["end"])})
    starts = [span["start"] for span in spans]
    previous: dict[str, Any] | None = None
    for match in _TOKEN.finditer(text):
        start, end = match.span()
        first = bisect_right(cuts, start)
        for cut in [*(c for c in cuts[first:] if c < end), end]:
            at = bisect_right(starts, start) - 1
            span = spans[at] if at >= 0 and start < spans[at]["end"] else None
            tag = "O" if span is None else ("I-" if span is previous else "B-") + span["label"]
            previous = span
            yield text[start:cut], tag, start, cut
            start = cut


def write_conll(records: Iterable[Record], out: IO[bytes]) -> int:
    out.write(b"-DOCSTART- O\n\n")
    count = 0
    for rec in records:
        spans = (rec.value or {}).get("spans", [])
        lines = [f"{token} {tag}\n" for token, tag, _, _ in tokens(rec.text or "", spans)]
        out.write(("".join(lines) + "\n").encode())
        count += 1
    return count


def read_conll(text: str) -> list[list[tuple[str, str]]]:
    """The (token, tag) sentences of a CoNLL file, -DOCSTART- left out."""
    sentences: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line.strip():
            if current:
                sentences.append(current)
            current = []
        elif not line.startswith("-DOCSTART-"):
            token, tag = line.rsplit(" ", 1)
            current.append((token, tag))
    if current:
        sentences.append(current)
    return sentences


def spans_of(text: str, tags: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Spans over `text` from its tokens' BIO tags (token offsets found in order)."""
    spans: list[dict[str, Any]] = []
    position = 0
    previous = "O"
    for token, tag in tags:
        start = text.index(token, position)
        position = start + len(token)
        continues = tag.startswith("I-") and previous[2:] == tag[2:] and previous != "O"
        if continues:
            spans[-1]["end"] = position
        elif tag != "O":  # B-, or an I- that follows no entity of its class (IOB1)
            spans.append({"label": tag[2:], "start": start, "end": position})
        previous = tag
    return spans
