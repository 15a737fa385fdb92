"""Classification heads on item features, with out-of-fold confidences for calibration.

Two candidates per cycle, and the one whose calibrated coverage is larger wins:
- logistic regression on the labeled items' features;
- label spreading over a k-nearest-neighbour graph of *all* items (the unlabeled pool shapes
  the classes: it beat logistic regression at equal safety in DESIGN §8's simulation).
Both are judged the same way: k-fold over the human labels, each fold predicted by a model
that never saw it, so every confidence is an honest held-out sample; thresholds are set per
class from those samples, weighted to the items still waiting (`class_thresholds`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.semi_supervised import LabelSpreading

from core.assist.class_thresholds import Decision, Scored, decide

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

SPREADING_MAX_POOL = 20_000
"""Label spreading builds a k-NN graph of the whole pool: beyond this, logistic regression only."""
_C = 10.0  # weak regularisation: features are few (PCA) and unit-norm


@dataclass(frozen=True)
class Prediction:
    labels: list[tuple[str, ...]]
    """The predicted label(s) of each row: one for multi-class, one or more for multi-label."""
    confidence: Floats


@dataclass(frozen=True)
class HeadResult:
    method: str
    held_out: Prediction
    """Out-of-fold predictions of the labeled rows, in their order."""
    correct: npt.NDArray[np.bool_]
    pool: Prediction
    """Predictions of every row of the pool: the mean of the fold models' probabilities."""
    decision: Decision
    """Per-class thresholds, weighted to the waiting rows."""
    emitted: npt.NDArray[np.bool_]
    """Which waiting rows (in the order given) get a pre-label."""

    @property
    def accuracy(self) -> float:
        return float(self.correct.mean()) if self.correct.size else 0.0

    @property
    def coverage(self) -> float:
        return float(self.emitted.mean()) if self.emitted.size else 0.0


def fit_heads(
    features: Floats,
    labeled: Ints,
    targets: Sequence[tuple[str, ...]],
    classes: Sequence[str],
    *,
    multi_label: bool,
    target_precision: float,
    waiting: Sequence[int],
    calibration: Sequence[int] | None = None,
    vouched: Sequence[bool] | None = None,
    folds: int = 5,
) -> list[HeadResult]:
    """Every candidate head, scored; the best (`best_head`) is what a cycle uses.

    The pool is predicted by the very fold models whose held-out answers set the thresholds
    (their mean), not by one more model trained on all labels: that one would be more
    confident than the models calibrated, and its pre-labels less precise than measured.

    Every label trains; the held-out answers at positions `calibration` (of `labeled`; None:
    all) set the thresholds, for the rows `waiting` (the items a cycle may pre-label);
    `vouched` marks the rows of the pool an earlier cycle pre-labeled (see `Scored`)."""
    matrix = _indicator(targets, classes)
    candidates: list[_Fit] = [_one_vs_rest] if multi_label else [_logistic]
    if not multi_label and len(features) <= SPREADING_MAX_POOL:
        candidates.append(_spreading)
    predict = _multi_label_prediction if multi_label else _single_label_prediction
    index = {name: i for i, name in enumerate(classes)}
    rows = np.asarray(waiting, dtype=np.int64)
    fair = np.arange(len(labeled)) if calibration is None else np.asarray(calibration, dtype=int)
    earlier = np.zeros(len(features), bool) if vouched is None else np.asarray(vouched, bool)
    results = []
    for fit in candidates:
        held_probability, pool_probability = _cross_fit(fit, features, labeled, matrix, folds)
        held_out = predict(held_probability, classes)
        correct = np.array(
            [set(p) == set(t) for p, t in zip(held_out.labels, targets, strict=True)], dtype=bool
        )
        pool = predict(pool_probability, classes)
        pending = Scored(
            [tuple(index[n] for n in pool.labels[r]) for r in rows],
            pool.confidence[rows],
            earlier[rows],
        )
        decision = decide(
            Scored(
                [tuple(index[n] for n in held_out.labels[i]) for i in fair],
                held_out.confidence[fair],
                earlier[labeled[fair]],
            ),
            correct[fair],
            pending,
            classes,
            target_precision,
        )
        results.append(
            HeadResult(
                fit.__name__.strip("_"),
                held_out,
                correct,
                pool,
                decision,
                decision.emitted(pending),
            )
        )
    return results


def best_head(results: Sequence[HeadResult]) -> HeadResult:
    return max(results, key=lambda result: (result.coverage, result.accuracy))


def too_few(targets: Sequence[tuple[str, ...]], *, minimum: int) -> str | None:
    """Why these labels cannot train a head yet, or None. Rare classes are fine: the head
    simply never predicts them confidently."""
    if len(targets) < minimum:
        return f"{len(targets)} human label(s); training needs at least {minimum}"
    seen = {label for labels in targets for label in labels}
    if len(seen) < 2:
        return f"the human labels use {len(seen)} class(es); a head needs at least two"
    return None


def _indicator(targets: Sequence[tuple[str, ...]], classes: Sequence[str]) -> Floats:
    index = {name: i for i, name in enumerate(classes)}
    matrix = np.zeros((len(targets), len(classes)))
    for row, labels in enumerate(targets):
        for label in labels:
            matrix[row, index[label]] = 1.0
    return matrix


def _cross_fit(
    fit: _Fit, features: Floats, labeled: Ints, matrix: Floats, folds: int
) -> tuple[Floats, Floats]:
    """k-fold over the labeled rows: each fold's model predicts its held-out rows and the
    whole pool. Returns (held-out probabilities, mean pool probabilities)."""
    held = np.zeros((len(labeled), matrix.shape[1]))
    pool = np.zeros((len(features), matrix.shape[1]))
    splits = KFold(min(folds, len(labeled)), shuffle=True, random_state=0)
    for train, test in splits.split(labeled):
        probability = fit(features, labeled[train], matrix[train])
        held[test] = probability[labeled[test]]
        pool += probability
    return held, pool / splits.get_n_splits()


class _Fit(Protocol):
    """(features of the whole pool, labeled rows, their indicator rows) → probabilities of
    every class for every row of the pool."""

    __name__: str

    def __call__(self, features: Floats, labeled: Ints, matrix: Floats) -> Floats: ...


def _one_vs_rest(features: Floats, labeled: Ints, matrix: Floats) -> Floats:
    """Several labels per item: one binary logistic regression per class."""
    x = features[labeled]
    return np.column_stack(
        [_binary_probability(x, matrix[:, c], features) for c in range(matrix.shape[1])]
    )


def _logistic(features: Floats, labeled: Ints, matrix: Floats) -> Floats:
    x = features[labeled]
    y = matrix.argmax(axis=1)
    probability = np.zeros((len(features), matrix.shape[1]))
    present = np.unique(y)
    if len(present) == 1:
        probability[:, present[0]] = 1.0
    else:
        model = LogisticRegression(C=_C, max_iter=3000).fit(x, y)
        probability[:, model.classes_] = model.predict_proba(features)
    return probability


def _spreading(features: Floats, labeled: Ints, matrix: Floats) -> Floats:
    seeds = np.full(len(features), -1)
    seeds[labeled] = matrix.argmax(axis=1)
    model = LabelSpreading(kernel="knn", n_neighbors=10, alpha=0.2, max_iter=50)
    model.fit(features, seeds)
    probability = np.zeros((len(features), matrix.shape[1]))
    probability[:, model.classes_] = np.nan_to_num(model.label_distributions_)
    return probability


def _binary_probability(x: Floats, y: Floats, queried: Floats) -> Floats:
    if y.min() == y.max():  # every labeled item has it, or none: no boundary to learn
        return np.full(len(queried), float(y[0]))
    model = LogisticRegression(C=_C, max_iter=3000).fit(x, y)
    return model.predict_proba(queried)[:, 1]  # type: ignore[no-any-return]


def _single_label_prediction(probability: Floats, classes: Sequence[str]) -> Prediction:
    best = probability.argmax(axis=1)
    return Prediction([(classes[int(i)],) for i in best], probability.max(axis=1))


def _multi_label_prediction(probability: Floats, classes: Sequence[str]) -> Prediction:
    """Each class on at p ≥ 0.5 (the likeliest one at least: an item has one or more); the
    confidence of the whole set is that of its least certain decision."""
    on = probability >= 0.5
    on[np.arange(len(on)), probability.argmax(axis=1)] = True
    certainty = np.where(on, probability, 1.0 - probability).min(axis=1)
    labels = [tuple(classes[int(c)] for c in np.flatnonzero(row)) for row in on]
    return Prediction(labels, certainty)
