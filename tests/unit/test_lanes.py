"""Where a waiting item sits in the labeling queue: ML assist's pre-labels outside the checked
share wait behind every other public lane."""

from __future__ import annotations

from datetime import UTC, datetime

from core.domain.assist import is_audit
from core.domain.items import Item, Prediction, item_id, rank
from core.domain.lanes import (
    CLUSTERED,
    CONFIRM_LATER,
    PARTIAL,
    PRELABELED,
    PUBLIC_TO,
    QUEUE,
    checked,
)

NOW = datetime(2026, 12, 1, tzinfo=UTC)
IDS = [item_id("p", f"{n}.jpg") for n in range(20_000)]


def waiting(ident: str, *, run: str | None, audit: bool = False) -> Item:
    return Item(
        id=ident,
        project_id="p",
        path="x.jpg",
        kind="image",
        rank=rank(ident),
        prediction=Prediction(value={"label": "cat"}, confidence=0.99, run=run),
        cluster="k",
        audit=audit,
        created_at=NOW,
        updated_at=NOW,
    )


def test_the_public_lanes_are_served_in_this_order() -> None:
    assert PARTIAL < PRELABELED < CLUSTERED < QUEUE < CONFIRM_LATER < PUBLIC_TO


def test_only_ml_assist_pre_labels_outside_the_checked_share_wait() -> None:
    now = next(i for i in IDS if checked(i))
    later = next(i for i in IDS if not checked(i))
    assert waiting(now, run="c1-infer").lane == PRELABELED
    assert waiting(later, run="c1-infer").lane == CONFIRM_LATER
    assert waiting(later, run=None).lane == PRELABELED  # imported: the owner's to confirm
    assert waiting(later, run=None, audit=True).lane == PRELABELED


def test_the_checked_share_is_a_tenth_whatever_the_queue_order_and_the_random_sample() -> None:
    def share(ids: list[str]) -> float:
        return sum(map(checked, ids)) / len(ids)

    assert 0.09 < share(IDS) < 0.11
    assert 0.08 < share([i for i in IDS if rank(i) < 0.1]) < 0.12  # the first in the queue
    assert 0.07 < share([i for i in IDS if is_audit(i)]) < 0.13  # the random sample's reservoir
