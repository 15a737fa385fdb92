"""Per-class safety: each class's pre-labels must meet the target on that class's own
held-out answers, weighted to the items still waiting, and a weak class never rides on the
others' precision."""

from __future__ import annotations

import numpy as np

from core.assist.calibration import pick_threshold
from core.assist.class_thresholds import Scored, decide

NAMES = ["good", "poor"]


def scenario(rng, answers=200, waiting=2000, poor_precision=0.75):
    """Two classes with the same confidences; `good` is always right, `poor` right
    `poor_precision` of the time at every confidence (its confidences mean nothing)."""
    classes = [(int(c),) for c in rng.integers(0, 2, answers)]
    confidence = rng.uniform(0.5, 1.0, answers)
    correct = np.array([c == (0,) or rng.random() < poor_precision for c in classes])
    pool = Scored([(int(c),) for c in rng.integers(0, 2, waiting)], rng.uniform(0.5, 1, waiting))
    return Scored(classes, confidence), correct, pool


def test_a_poor_class_gets_no_pre_labels_while_a_single_threshold_would_give_it_some():
    rng = np.random.default_rng(3)
    held, correct, pool = scenario(rng, answers=400, poor_precision=0.85)
    # The old rule: one threshold over all answers clears 95 % only by averaging the classes.
    single = pick_threshold(held.confidence, correct, 0.90)
    assert single is not None and single.confidence < 0.9

    decision = decide(held, correct, pool, NAMES, 0.95)
    good, poor = decision.classes
    assert good.threshold is not None and good.lower_bound >= 0.95
    assert poor.threshold is None and "no threshold reaches 95%" in poor.reason, poor
    emitted = decision.emitted(pool)
    assert emitted.any()
    assert all(classes == (0,) for classes, on in zip(pool.classes, emitted, strict=True) if on)


def test_a_class_without_answers_gets_none_and_holds_no_one_back():
    rng = np.random.default_rng(4)
    held, correct, pool = scenario(rng)
    names = [*NAMES, "unseen"]
    pool = Scored([*pool.classes, (2,), (2,)], np.append(pool.confidence, [0.99, 0.99]))
    decision = decide(held, correct, pool, names, 0.95)
    assert decision.classes[0].threshold is not None
    assert decision.classes[2].threshold is None
    assert "0 held-out answer(s) of it" in decision.classes[2].reason
    assert not decision.emits((2,), 0.999)


def test_a_class_no_waiting_item_is_guessed_as_gets_none_and_the_cycle_goes_on():
    # Late in a project a class can have answers but no waiting item left guessed as it.
    rng = np.random.default_rng(9)
    held, correct, _ = scenario(rng)
    pool = Scored([(0,)] * 50, rng.uniform(0.5, 1.0, 50))
    good, poor = decide(held, correct, pool, NAMES, 0.95).classes
    assert good.threshold is not None and good.waiting > 0
    assert poor.threshold is None and poor.reason == "no waiting item is guessed as it"


def test_each_class_is_cut_where_its_own_curve_meets_the_target():
    """Two classes whose chance of being right grows with confidence alike, one shifted two
    logits down: the shifted one is cut higher, and both cuts hold the target on the waiting
    items (their true precision, from the model that made the data)."""
    rng = np.random.default_rng(6)

    def right(classes, confidence):
        x = np.log(confidence / (1 - confidence))
        shift = np.array([0.0 if c == (0,) else -2.0 for c in classes])
        return 1 / (1 + np.exp(-(0.5 + 1.2 * x + shift)))

    classes = [(int(c),) for c in rng.integers(0, 2, 1500)]
    confidence = rng.uniform(0.3, 0.999, 1500)
    correct = rng.random(1500) < right(classes, confidence)
    pool_classes = [(int(c),) for c in rng.integers(0, 2, 4000)]
    pool = Scored(pool_classes, rng.uniform(0.3, 0.999, 4000))
    decision = decide(Scored(classes, confidence), correct, pool, NAMES, 0.95)
    good, poor = decision.classes
    assert good.threshold is not None and poor.threshold is not None
    assert poor.threshold > good.threshold
    truth = right(pool.classes, pool.confidence)
    for k, found in enumerate(decision.classes):
        mine = np.array([c == (k,) for c in pool.classes]) & (pool.confidence >= found.threshold)
        assert mine.sum() == found.waiting and truth[mine].mean() >= 0.95


def test_a_surer_bound_pre_labels_fewer_items_each_above_its_bound():
    rng = np.random.default_rng(5)
    held, correct, pool = scenario(rng, answers=600, poor_precision=0.985)
    loose = decide(held, correct, pool, NAMES, 0.95, z_class=1.0)
    strict = decide(held, correct, pool, NAMES, 0.95, z_class=4.0)
    assert loose.emitted(pool).sum() > strict.emitted(pool).sum()
    for decision in (loose, strict):
        assert all(c.lower_bound >= 0.95 for c in decision.classes if c.threshold is not None)
        assert decision.pooled_lower_bound >= 0.95


def test_multi_label_sets_need_every_class_to_have_a_threshold():
    held = Scored([(0,), (0, 1)] * 60, np.full(120, 0.99))
    correct = np.array([True, False] * 60)
    pool = Scored([(0,), (0, 1)] * 50, np.full(100, 0.99))
    decision = decide(held, correct, pool, NAMES, 0.95)
    assert decision.emits((0,), 0.99) is False  # class 0's answers are half wrong (its sets)
    assert decision.classes[1].threshold is None


def test_answers_to_earlier_pre_labels_do_not_vouch_for_items_no_cycle_picked():
    """An earlier model picked its pre-labels by what it knew: those answers are right more
    often than others at the same new confidence. Waiting items it did not pick are judged by
    the other answers."""
    rng = np.random.default_rng(8)
    fresh = rng.random(200) < 0.92  # 92 % right where no cycle pre-labeled
    confidence = rng.uniform(0.95, 1.0, 600)
    correct = np.concatenate([fresh, np.ones(400, bool)])
    earlier = np.concatenate([np.zeros(200, bool), np.ones(400, bool)])
    pool = Scored([(0,)] * 1000, rng.uniform(0.95, 1.0, 1000), np.zeros(1000, bool))
    blind = decide(Scored([(0,)] * 600, confidence), correct, pool, ["only"], 0.95)
    assert blind.classes[0].threshold is not None and blind.emitted(pool).sum() > 500

    aware = decide(Scored([(0,)] * 600, confidence, earlier), correct, pool, ["only"], 0.95)
    assert aware.emitted(pool).sum() < 100
    vouched = Scored([(0,)] * 1000, pool.confidence, np.ones(1000, bool))
    again = decide(Scored([(0,)] * 600, confidence, earlier), correct, vouched, ["only"], 0.95)
    assert again.emitted(vouched).sum() > 500  # what an earlier cycle picked stays vouched for
