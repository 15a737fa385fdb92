"""Writing a cycle's suggestions onto items: the pre-label, the cluster, the queue rank.

Items are written with the etag the cycle read; when a labeler changed one meanwhile, it is
read again and the change applied to what they wrote (or dropped, if it is no longer waiting
for a label). Pre-labels a person imported (no run) are never replaced by the model's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from core.domain.items import Item, ItemState, Prediction
from core.ports import Deps, Document
from core.services.worklog import item_target
from core.store.update import update
from core.store.versioned import Versioned


@dataclass(frozen=True)
class Suggestion:
    prediction: Prediction | None
    """None takes back an earlier cycle's pre-label."""
    cluster: str | None
    rank: float | None = None
    """A new queue rank (active learning); None keeps the item's."""
    audit: bool = False
    """In the random sample that measures precision (`Item.audit`): no pre-label, no cluster."""


def write_suggestions(
    deps: Deps,
    items: Sequence[Item],
    documents: Sequence[Document],
    changes: Mapping[int, Suggestion],
) -> int:
    """Apply `changes` (by row of `items`); returns how many items were written."""
    written = 0
    for row, change in changes.items():
        item = Versioned(items[row], documents[row].etag)
        target = item_target(deps, item.value.project_id, item.value.id, gone_ok=True)
        done = update(target, partial(suggested, change=change), current=item)
        written += bool(done and done.written)
    return written


def suggested(item: Item, change: Suggestion) -> Item | None:
    """`item` with `change`, or None when nothing changes or it no longer waits for a label.
    A labeled item takes only the audit mark (the first cycle marks the labels made before it,
    which came in random queue order, as part of the random sample)."""
    if item.state is not ItemState.UNLABELED or item.annotations:
        if change.audit and not item.audit and item.state is ItemState.LABELED:
            return item.model_copy(update={"audit": True})
        return None
    imported = item.prediction is not None and item.prediction.run is None
    update = {
        "prediction": item.prediction if imported else change.prediction,
        "cluster": change.cluster,
        "rank": item.rank if change.rank is None else change.rank,
        "audit": change.audit,
    }
    if all(getattr(item, key) == value for key, value in update.items()):
        return None
    return item.model_copy(update=update)
