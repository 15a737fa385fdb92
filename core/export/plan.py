"""What an export written in parts must know of every item before its first part: the split's
validation set (`core.export.split` chooses it from every item's labels) and VOC's ids (made
unique over every item, in the order the file lists them). A first pass over the items makes
the plan; each part reads it, so a part writes its slice as the whole file's writer would.

Compact: the validation set as its items' split keys (8 bytes each, sorted, looked up by
bisection), and of VOC's ids only those that are not the item path's own (`voc.flat_id`: a
name taken by an earlier item), usually none."""

from __future__ import annotations

import json
import sys
from array import array
from bisect import bisect_left
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from core.domain.exports import ExportFormat
from core.export import voc
from core.export.records import TRAIN, VALIDATION, Options, Record
from core.export.split import split_key, validation_keys


@dataclass(frozen=True)
class Plan:
    validation: array[int] = field(default_factory=lambda: array("Q"))
    """The split keys of the items a new split puts in validation, sorted."""
    names: dict[str, str] = field(default_factory=dict)
    """VOC: item id → its id, where that is not the item path's `voc.flat_id`."""

    def split(self, rec: Record, options: Options) -> Record:
        """`rec` on its side: a kept split's, else the planned one."""
        if options.validation <= 0:
            return rec
        side = options.kept.side(rec.id) if options.kept is not None else None
        if side is None:
            key = split_key(options.seed, rec.id)
            at = bisect_left(self.validation, key)
            found = at < len(self.validation) and self.validation[at] == key
            side = VALIDATION if found else TRAIN
        return replace(rec, split=side) if side != rec.split else rec

    def voc_id(self, rec: Record) -> str:
        return self.names.get(rec.id) or voc.flat_id(rec.path)

    def to_bytes(self) -> bytes:
        names = json.dumps(self.names, separators=(",", ":")).encode()
        keys = array("Q", self.validation)
        if sys.byteorder == "big":
            keys.byteswap()
        return len(names).to_bytes(8, "big") + names + keys.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Plan:
        size = int.from_bytes(data[:8], "big")
        keys = array("Q")
        keys.frombytes(data[8 + size :])
        if sys.byteorder == "big":
            keys.byteswap()
        return cls(keys, json.loads(data[8 : 8 + size]))


def needs_plan(format: ExportFormat, options: Options) -> bool:
    return options.validation > 0 or format is ExportFormat.VOC


def make_plan(format: ExportFormat, options: Options, records: Iterable[Record]) -> Plan:
    """The plan of an export of `records` (every item, in the file's order): one pass, which
    keeps an id and its labels per item (a split) or the ids VOC renames (VOC)."""
    ids = voc.VocIds() if format is ExportFormat.VOC else None
    names: dict[str, str] = {}
    kept = options.kept

    def unsplit() -> Iterator[tuple[str, dict[str, Any] | None]]:
        """The items a new split divides (those a kept split does not have), naming each."""
        for rec in records:
            if ids is not None and (name := ids.id(rec.path)) != voc.flat_id(rec.path):
                names[rec.id] = name
            if kept is None or kept.side(rec.id) is None:
                yield rec.id, rec.value

    fraction, seed = options.validation, options.seed
    chosen = validation_keys(unsplit(), fraction=fraction, seed=seed) if fraction > 0 else None
    if chosen is None:
        deque(unsplit(), maxlen=0)  # the names alone
    return Plan(array("Q", sorted(chosen or ())), names)
