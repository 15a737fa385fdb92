"""BRAT standoff for named entities and the relations between them: per item a `<id>.txt` (the
text, UTF-8, exactly as labelled) and a `<id>.ann` with a `T` line per span (`T1<TAB>PER 0 12
<TAB>Ada Lovelace`) and an `R` line per relation (`R1<TAB>born_in Arg1:T1 Arg2:T3`), and one
`annotation.conf` at the root declaring the entity and relation types (brat looks for it in
the document's folder and the folders above), so the export opens in brat as it is.

Offsets are Unicode characters, as Loupe counts them. A span across a line break is written
as brat writes one, in fragments (`0 5;6 12`) that leave the break out (a tab too: it separates
the `.ann` columns). BRAT type names have
no spaces or slashes: each Loupe name is made safe (`Animal/Big cat` is `Animal-Big_cat`, a
clash numbered), and `annotation.conf` lists what each type was called in Loupe. Item ids are
the item path's, made flat and unique as Pascal VOC's (`core.export.voc`); with a split, the
documents are in `train/` and `validation/`."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from core.domain.relations import RelationClass
from core.export.records import Record

CONF = "annotation.conf"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_BREAK = re.compile(r"[\t\r\n\u2028\u2029\x85\x0b\x0c]+")
"""Left out of a span's fragments: line breaks (brat's own rule) and tabs, the `.ann` file's
column separator, which readers split lines on."""


def type_names(names: Iterable[str]) -> dict[str, str]:
    """Each Loupe name's BRAT type: `/` made `-`, other unsafe runs `_`, a clash numbered."""
    made: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        base = _UNSAFE.sub("_", name.replace("/", "-")).strip("_") or "type"
        safe, n = base, 1
        while safe.casefold() in taken:
            n += 1
            safe = f"{base}_{n}"
        taken.add(safe.casefold())
        made[name] = safe
    return made


def annotation_conf(categories: Sequence[str], relations: Sequence[RelationClass]) -> str:
    """The entity and relation types of the export; a relation class limited to classes the
    export leaves out entirely is left out too."""
    entities = type_names(categories)
    links = type_names(r.name for r in relations)
    lines = ["# Written by Loupe: label classes as entities, relation classes as relations."]
    renamed = {**entities, **links}
    lines += [f"# {safe} = {name}" for name, safe in renamed.items() if safe != name]
    lines += ["[entities]", *entities.values(), "[relations]"]
    for relation in relations:
        heads, tails = _ends(relation.heads, entities), _ends(relation.tails, entities)
        if heads and tails:
            symmetric = "" if relation.directed else ", <REL-TYPE>:symmetric"
            lines.append(f"{links[relation.name]}\tArg1:{heads}, Arg2:{tails}{symmetric}")
    lines += ["[events]", "[attributes]"]
    return "".join(f"{line}\n" for line in lines)


def _ends(allowed: list[str] | None, entities: dict[str, str]) -> str:
    if allowed is None:
        return "<ENTITY>"
    return "|".join(entities[name] for name in allowed if name in entities)


def ann(rec: Record, entities: dict[str, str], links: dict[str, str]) -> str:
    """The standoff annotations of one item."""
    value: dict[str, Any] = rec.value or {}
    text = rec.text or ""
    lines: list[str] = []
    ids: dict[int, str] = {}
    for n, span in enumerate(value.get("spans", ()), start=1):
        pieces = _fragments(text, span["start"], span["end"])
        where = ";".join(f"{start} {end}" for start, end in pieces)
        covered = " ".join(text[start:end] for start, end in pieces)
        ids[span["start"]] = f"T{n}"
        lines.append(f"T{n}\t{entities[span['label']]} {where}\t{covered}")
    kept = [r for r in value.get("relations", ()) if r["from"] in ids and r["to"] in ids]
    for n, relation in enumerate(kept, start=1):
        head, tail = ids[relation["from"]], ids[relation["to"]]
        lines.append(f"R{n}\t{links[relation['label']]} Arg1:{head} Arg2:{tail}")
    return "".join(f"{line}\n" for line in lines)


def _fragments(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """[start, end) without its line breaks and tabs, as brat's discontinuous fragments."""
    pieces = []
    at = start
    for found in _BREAK.finditer(text, start, end):
        if found.start() > at:
            pieces.append((at, found.start()))
        at = found.end()
    if end > at:
        pieces.append((at, end))
    return pieces


def documents(
    records: Iterable[Record],
    categories: Sequence[str],
    relations: Sequence[RelationClass],
    doc_id: Callable[[Record], str],
    *,
    split: bool,
) -> Iterable[tuple[str, str]]:
    """(member name, content) of each record's `.txt` and `.ann`, named by `doc_id`."""
    entities = type_names(categories)
    links = type_names(r.name for r in relations)
    for rec in records:
        name = f"{rec.split}/{doc_id(rec)}" if split else doc_id(rec)
        yield f"{name}.txt", rec.text or ""
        yield f"{name}.ann", ann(rec, entities, links)
