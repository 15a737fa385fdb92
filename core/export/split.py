"""The train/validation split: exactly the fraction asked (of all items, and of each label's
items as nearly as whole items allow), reproducible from the seed, and the same whatever the
format, since it is chosen before any file is written.

Each item gets a key from a seeded hash of its id. Items are grouped by their rarest label
(stratification: a class seen on a few items still lands in validation in proportion); each
group's share of the validation count is its fraction of the items, rounded by largest
remainder so the shares add up to exactly round(fraction x items); and each group gives the
items with the smallest keys. Memory: one 64-bit key per item."""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from core.domain.annotation_json import stored_labels


def split_key(seed: int, item_id: str) -> int:
    digest = hashlib.blake2b(f"{seed}:{item_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest)


def validation_keys(
    items: Iterable[tuple[str, dict[str, Any] | None]], *, fraction: float, seed: int
) -> frozenset[int]:
    """The keys (`split_key`) of the items that go to validation, from (id, value) pairs."""
    if fraction <= 0:
        return frozenset()
    labelled: list[tuple[int, tuple[str, ...]]] = []
    frequency: Counter[str] = Counter()
    for item_id, value in items:
        labels = stored_labels(value)
        frequency.update(labels)
        labelled.append((split_key(seed, item_id), labels))
    groups: defaultdict[str, list[int]] = defaultdict(list)
    for key, labels in labelled:
        rarest = min(labels, key=lambda name: (frequency[name], name)) if labels else ""
        groups[rarest].append(key)
    del labelled
    share = shares({name: len(keys) for name, keys in groups.items()}, fraction)
    chosen: set[int] = set()
    for name, keys in groups.items():
        keys.sort()
        chosen.update(keys[: share[name]])
    return frozenset(chosen)


def shares(sizes: dict[str, int], fraction: float) -> dict[str, int]:
    """Each group's validation count: floor(fraction x size), then one more for the groups with
    the largest remainders until the total is round(fraction x all items)."""
    total = math.floor(fraction * sum(sizes.values()) + 0.5)
    exact = {name: fraction * size for name, size in sizes.items()}
    found = {name: math.floor(value) for name, value in exact.items()}
    by_remainder = sorted(exact, key=lambda name: (found[name] - exact[name], name))
    for name in by_remainder[: max(0, total - sum(found.values()))]:
        found[name] += 1
    return found
