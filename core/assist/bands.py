"""Evidence that grows with use: what a cycle serves *without* a suggestion so that the next
one can measure precision, how the last cycle's pre-labels fared per class, and which of them
stay when the new model cannot vouch for a class on its own.

- The random sample: a few items of the id-hashed reservoir (`is_audit`) per cycle, about one
  label in `RANDOM_SHARE` of those expected before the next cycle, so it never crowds out
  active learning's order (serving the whole reservoir first delayed it by hundreds of labels).
- The audit band: per class, the `AUDIT_BAND` waiting items just below its threshold (its
  most confident ones when it has none). Their answers are held-out evidence exactly where the
  threshold would move, so it can come down as they accumulate, and a class without
  pre-labels gathers evidence where it would first get some.
- Pre-labels (the checked tenth, `core.domain.lanes.checked`; the rest wait until the items
  without one are labeled) and both samples are served in the pre-label lane in random order
  (each item's registration rank), never by confidence: a band's answers are then a fair
  sample of it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from core.assist.calibration import wilson_upper_bound
from core.domain.annotations import labels_of
from core.domain.assist import is_audit
from core.domain.items import Item, rank

RANDOM_SHARE = 10
AUDIT_BAND = 3
BAND_WIDTH = 4
"""The audit band is drawn at random from the `AUDIT_BAND * BAND_WIDTH` items just below."""


def random_rank(item: Item) -> float:
    """The item's place in the shuffled queue it was registered with."""
    return rank(item.id)


def random_sample(waiting: Sequence[Item], train_every: int) -> set[str]:
    """Ids of this cycle's random sample: the reservoir's items first in registration order.
    What is left of the reservoir is a uniform sample of what is left of the pool (serving
    never looks at reservoir membership), so any of its items is a fair draw."""
    reservoir = sorted((i for i in waiting if is_audit(i.id)), key=random_rank)
    return {i.id for i in reservoir[: max(1, train_every // RANDOM_SHARE)]}


def audit_band(
    candidates: Sequence[int],
    guesses: Sequence[tuple[str, ...]],
    confidence: npt.NDArray[np.float64],
    thresholds: dict[str, float | None],
    order: Callable[[int], float],
) -> set[int]:
    """Per class, `AUDIT_BAND` slots of `candidates` drawn at random (by `order`, the slots'
    registration ranks) from the `AUDIT_BAND * BAND_WIDTH` guessed as it with the highest
    confidence below its threshold (any confidence when it has none)."""
    chosen: set[int] = set()
    for name, threshold in thresholds.items():
        below = [
            s
            for s in candidates
            if guesses[s] == (name,) and (threshold is None or confidence[s] < threshold)
        ]
        below.sort(key=lambda s: -confidence[s])
        band = sorted(below[: AUDIT_BAND * BAND_WIDTH], key=order)
        chosen.update(band[:AUDIT_BAND])
    return chosen


@dataclass
class Live:
    """Answers to one class's pre-labels of the last cycle."""

    answered: int = 0
    confirmed: int = 0

    def dropped(self, target: float) -> bool:
        """Surely below the target: even the upper bound of the live precision falls short
        (a point estimate would overreact to a few corrections)."""
        return self.answered > 0 and wilson_upper_bound(self.confirmed, self.answered) < target

    def below(self, target: float) -> bool:
        """Labelers confirmed fewer than the target so far: reason enough not to keep the last
        cycle's pre-labels past a new fit that doubts them (though not to raise a threshold)."""
        return self.confirmed < target * self.answered


def live_by_class(labeled: Sequence[Item], infer_run: str | None) -> dict[str, Live]:
    """How labelers answered the pre-labels `infer_run` wrote, per pre-labeled class (an item
    keeps its pre-label once labeled). Multi-label pre-labels count for each class they hold."""
    found: dict[str, Live] = {}
    if infer_run is None:
        return found
    for item in labeled:
        if item.prediction is None or item.prediction.run != infer_run:
            continue
        said = set(labels_of(item.prediction.value))
        right = said == set(labels_of(item.final))
        for name in said:
            live = found.setdefault(name, Live())
            live.answered += 1
            live.confirmed += right
    return found


def kept(
    slots: Sequence[int],
    items: Callable[[int], Item],
    guesses: Sequence[tuple[str, ...]],
    infer_run: str | None,
    classes: set[str],
) -> set[int]:
    """The slots whose pre-label from `infer_run` is of `classes` only and that the new model
    still guesses the same: kept while nothing measured says those classes got worse."""
    if infer_run is None or not classes:
        return set()
    found = set()
    for slot in slots:
        prediction = items(slot).prediction
        if prediction is None or prediction.run != infer_run:
            continue
        said = set(labels_of(prediction.value))
        if said == set(guesses[slot]) and said <= classes:
            found.add(slot)
    return found
