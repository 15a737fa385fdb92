"""What an export written in parts must know of every item before its first part: the split's
validation set (`core.export.split` chooses it from every item's labels) and VOC's ids (made
unique over every item, in the order the file lists them). The plan is made in slices, so no
call reads every item: each slice keeps, of each of its items in the file's order, a few bytes
(`slice_of`: its split key, its path's VOC id hashed, which labels it has), and the last one
puts the slices together (`combine`), exactly as the whole file's writer decides in one pass.
Each part reads the plan, so it writes its items as the whole file would.

Compact: the validation set as its items' split keys (8 bytes each, sorted, looked up by
bisection), and of VOC's ids only those that are not the item path's own (`voc.flat_id`: the
second, third… item of a path's id, which gets `~2`, `~3`…), usually none."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from core.domain.annotation_json import stored_labels
from core.domain.exports import ExportFormat
from core.export import voc
from core.export.records import TRAIN, VALIDATION, Options, Record
from core.export.split import shares, split_key

_ITEM = np.dtype([("key", "<u8"), ("name", "<u8"), ("labels", "<u4")])
"""What a slice keeps of an item: its split key, its VOC id hashed, its label set's number."""


@dataclass(frozen=True)
class Plan:
    validation: npt.NDArray[np.uint64] = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    """The split keys of the items a new split puts in validation, sorted."""
    names: dict[int, int] = field(default_factory=dict)
    """VOC: an item's split key → its rank among the items of its path's id (2, 3, …)."""
    seed: int = 0

    def split(self, rec: Record, options: Options) -> Record:
        """`rec` on its side (a kept split's validation items are in the planned validation
        set, so a part never reads the kept split)."""
        if options.validation <= 0:
            return rec
        key = split_key(options.seed, rec.id)
        at = int(np.searchsorted(self.validation, np.uint64(key)))
        found = at < len(self.validation) and int(self.validation[at]) == key
        side = VALIDATION if found else TRAIN
        return replace(rec, split=side) if side != rec.split else rec

    def voc_id(self, rec: Record) -> str:
        rank = self.names.get(split_key(self.seed, rec.id)) if self.names else None
        return voc.flat_id(rec.path) if rank is None else voc.ranked(voc.flat_id(rec.path), rank)

    def to_bytes(self) -> bytes:
        head = {"seed": self.seed, "names": [[k, v] for k, v in self.names.items()]}
        text = json.dumps(head, separators=(",", ":")).encode()
        keys = self.validation.astype("<u8").tobytes()
        return len(text).to_bytes(8, "big") + text + keys

    @classmethod
    def from_bytes(cls, data: bytes) -> Plan:
        size = int.from_bytes(data[:8], "big")
        head = json.loads(data[8 : 8 + size])
        keys = np.frombuffer(data[8 + size :], dtype="<u8").astype(np.uint64)
        return cls(keys, {k: v for k, v in head["names"]}, head["seed"])


_FLAT_IDS = frozenset({ExportFormat.VOC, ExportFormat.BRAT, ExportFormat.DICOM_SEG})
"""The formats that name an item's files by its path's flat id, made unique (`voc.VocIds`)."""


def needs_plan(format: ExportFormat, options: Options) -> bool:
    return options.validation > 0 or format in _FLAT_IDS


def slice_of(format: ExportFormat, options: Options, records: Iterable[Record]) -> bytes:
    """What the plan needs of `records` (a slice of the items, in the file's order)."""
    split = options.validation > 0
    sets: dict[tuple[str, ...], int] = {}
    rows = []
    for rec in records:
        labels = 0
        if split:
            labels = sets.setdefault(tuple(sorted(stored_labels(rec.value))), len(sets))
        name = _hash(voc.flat_id(rec.path)) if format in _FLAT_IDS else 0
        rows.append((split_key(options.seed, rec.id), name, labels))
    text = json.dumps(list(sets), separators=(",", ":")).encode()
    return len(text).to_bytes(8, "big") + text + np.array(rows, dtype=_ITEM).tobytes()


def combine(format: ExportFormat, options: Options, slices: Iterable[bytes]) -> Plan:
    """The plan from every slice, in order: the validation set `core.export.split` chooses,
    and VOC's ranks (`voc.VocIds`), as one pass over the items would."""
    table: dict[tuple[str, ...], int] = {}
    parts = []
    for data in slices:
        size = int.from_bytes(data[:8], "big")
        local = [table.setdefault(tuple(s), len(table)) for s in json.loads(data[8 : 8 + size])]
        items = np.frombuffer(data[8 + size :], dtype=_ITEM).copy()
        if local:
            items["labels"] = np.array(local, dtype=np.uint32)[items["labels"]]
        parts.append(items)
    items = np.concatenate(parts) if parts else np.zeros(0, dtype=_ITEM)
    validation = np.zeros(0, dtype=np.uint64)
    if options.validation > 0:
        validation = _validation(items, list(table), options)
    names = _ranks(items) if format in _FLAT_IDS else {}
    return Plan(validation, names, options.seed)


def _validation(
    items: npt.NDArray[np.void], sets: list[tuple[str, ...]], options: Options
) -> npt.NDArray[np.uint64]:
    """`split.validation_keys` over the items a new split divides (those a kept split does not
    have): grouped by their rarest label, each group giving its share of smallest keys; and
    the keys of the kept split's validation items, wherever they are now."""
    fraction, kept, seed = options.validation, options.kept, options.seed
    mine = items
    chosen: list[npt.NDArray[np.uint64]] = []
    if kept is not None:
        old = np.array([split_key(seed, i) for i in kept.validation | kept.train], dtype=np.uint64)
        mine = items[~np.isin(items["key"], old)]
        chosen.append(np.array([split_key(seed, i) for i in kept.validation], dtype=np.uint64))
    per_set = np.bincount(mine["labels"], minlength=len(sets))
    frequency: Counter[str] = Counter()
    for labels, count in zip(sets, per_set.tolist(), strict=True):
        frequency.update(dict.fromkeys(labels, count))
    rarest = [min(s, key=lambda n: (frequency[n], n)) if s else "" for s in sets]
    groups = sorted(set(rarest))
    group_of = np.array([groups.index(r) for r in rarest] or [0], dtype=np.int64)
    group = group_of[mine["labels"]]
    sizes = np.bincount(group, minlength=len(groups)).tolist()
    share = shares(dict(zip(groups, sizes, strict=True)), fraction)
    chosen += [np.sort(mine["key"][group == n])[: share[g]] for n, g in enumerate(groups)]
    return np.unique(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.uint64)


def _ranks(items: npt.NDArray[np.void]) -> dict[int, int]:
    """The items whose VOC id an earlier item has: split key → how many have it, it included."""
    order = np.argsort(items["name"], kind="stable")  # the file's order within an id
    names = items["name"][order]
    first = np.ones(len(names), dtype=bool)
    first[1:] = names[1:] != names[:-1]
    at = np.arange(len(names))
    rank = at - np.maximum.accumulate(np.where(first, at, 0)) + 1
    later = rank >= 2
    return dict(zip(items["key"][order][later].tolist(), rank[later].tolist(), strict=True))


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest())
