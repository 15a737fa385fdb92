"""CoNLL 2003 for named entities: `token label` per line with BIO tags, a blank line between
items. Tokens are the text's whitespace-separated words; a token takes the entity its first
character falls in."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import IO, Any

from core.export.records import Record

_TOKEN = re.compile(r"\S+")


def tokens(text: str, spans: list[dict[str, Any]]) -> Iterator[tuple[str, str, int, int]]:
    """(token, BIO tag, start, end) of every token of `text`."""
    previous: dict[str, Any] | None = None
    for match in _TOKEN.finditer(text):
        start = match.start()
        span = next((s for s in spans if s["start"] <= start < s["end"]), None)
        tag = "O" if span is None else ("I-" if span is previous else "B-") + span["label"]
        previous = span
        yield match.group(), tag, start, match.end()


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
    for token, tag in tags:
        start = text.index(token, position)
        position = start + len(token)
        if tag.startswith("B-") or (tag.startswith("I-") and not spans):
            spans.append({"label": tag[2:], "start": start, "end": position})
        elif tag.startswith("I-"):
            spans[-1]["end"] = position
    return spans
