"""The evidence a cycle gathers without suggestions (the random sample, the audit band just
below each class's threshold), the live answers per class, and which pre-labels survive a
cycle whose new model cannot vouch for their class."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from core.assist.bands import (
    AUDIT_BAND,
    BAND_WIDTH,
    RANDOM_SHARE,
    Live,
    audit_band,
    kept,
    live_by_class,
    random_rank,
    random_sample,
)
from core.domain.assist import is_audit
from core.domain.items import Item, ItemState, Prediction

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def item(n: int, *, label: str | None = None, said: str | None = None, run: str = "c1-infer"):
    prediction = Prediction(value={"label": said}, confidence=0.99, run=run) if said else None
    return Item(
        id=f"{n:032x}",
        project_id="p",
        path=f"{n}.png",
        kind="image",
        rank=0.5,
        state=ItemState.LABELED if label else ItemState.UNLABELED,
        final={"label": label} if label else None,
        prediction=prediction,
        created_at=NOW,
        updated_at=NOW,
    )


def test_the_audit_band_is_drawn_just_below_each_threshold_or_from_the_top_of_a_class():
    guesses = [("a",)] * 40 + [("b",)] * 40
    confidence = np.array([*np.linspace(0.99, 0.60, 40), *np.linspace(0.80, 0.41, 40)])
    order = np.random.default_rng(1).permutation(80)
    band = audit_band(range(80), guesses, confidence, {"a": 0.955, "b": None}, order.__getitem__)
    width = AUDIT_BAND * BAND_WIDTH
    below_a = [s for s in range(40) if confidence[s] < 0.955][:width]
    assert band == {*sorted(below_a, key=order.__getitem__)[:AUDIT_BAND],
                    *sorted(range(40, 40 + width), key=order.__getitem__)[:AUDIT_BAND]}  # fmt: skip
    assert len(band) == 2 * AUDIT_BAND
    assert all(confidence[s] < 0.955 for s in band if guesses[s] == ("a",))


def test_the_random_sample_takes_a_few_reservoir_items_in_registration_order():
    waiting = [item(n) for n in range(0, 4000, 7)]
    drawn = random_sample(waiting, train_every=100)
    assert len(drawn) == 100 // RANDOM_SHARE
    assert all(is_audit(i) for i in drawn)
    reservoir = sorted((i for i in waiting if is_audit(i.id)), key=random_rank)
    assert drawn == {i.id for i in reservoir[: len(drawn)]}


def test_live_answers_per_class_count_only_the_last_cycles_pre_labels():
    labeled = [
        item(1, label="a", said="a"),
        item(2, label="b", said="a"),
        item(3, label="b", said="b"),
        item(4, label="b", said="b", run="c0-infer"),  # an older cycle's
        item(5, label="a"),  # answered without a suggestion
    ]
    live = live_by_class(labeled, "c1-infer")
    assert (live["a"].answered, live["a"].confirmed) == (2, 1)
    assert (live["b"].answered, live["b"].confirmed) == (1, 1)
    assert live_by_class(labeled, None) == {}


def test_a_drop_is_measured_only_when_even_the_upper_bound_is_below_the_target():
    assert not Live(answered=10, confirmed=9).dropped(0.95)  # could still be 95 %
    assert Live(answered=60, confirmed=48).dropped(0.95)
    assert not Live().dropped(0.95)


def test_pre_labels_are_kept_past_a_doubting_fit_only_while_labelers_confirm_the_target():
    assert Live(answered=10, confirmed=9).below(0.95)  # not a sure drop, but below so far
    assert not Live(answered=20, confirmed=19).below(0.95)
    assert not Live().below(0.95)  # nothing heard: the last cycle's word stands


def test_pre_labels_are_kept_only_for_vouched_classes_where_the_new_model_agrees():
    waiting = [item(1, said="a"), item(2, said="a"), item(3, said="b"), item(4, said="a", run="x")]
    guesses = [("a",), ("b",), ("b",), ("a",)]
    found = kept(range(4), lambda s: waiting[s], guesses, "c1-infer", {"a"})
    assert found == {0}  # 1: the new model disagrees; 2: b not vouched; 3: another run's
    assert kept(range(4), lambda s: waiting[s], guesses, None, {"a"}) == set()
