"""A confidence threshold per class, each vouched for by that class's own held-out answers.

One threshold for all classes meets the overall target by averaging near-perfect classes with
poor ones (DESIGN §8). Counting each class's answers above a candidate threshold is the direct
fix, but it needs 70-odd right answers *per class* above it before a 97.5 % bound clears 95 %:
nothing is pre-labeled for hundreds of labels. So the answers are used twice over:

- **across confidence**: how often the model is right grows with its confidence the same way
  everywhere — P(right) = sigmoid(a + a_class + b * logit(confidence)) (Platt scaling with a shift
  per class) — so a class's answers at every confidence tell where its curve lies, not only
  those above a candidate threshold;
- **across classes**: the slope b and the common intercept a come from every answer; a class's
  own shift a_class starts from none with a prior spread that the answers themselves choose
  (empirical Bayes: the spread in `SPREADS` under which they are likeliest), and moves as its
  answers show it is better or worse than the others. Classes that look alike lend each other
  evidence; a class unlike the others is judged on its own answers. A class needs
  `MIN_ANSWERS` of its own before it gets a threshold at all.

A class's threshold is the lowest at which the mean, over the *waiting* items it would
pre-label, of each item's lower bound sigmoid(eta - z * se(eta)) reaches the target (a bound
per item on the linear scale stays honest where the answers are all right and the fit runs off
to certainty; a bound on the mean by the delta method would not). Only fair answers go in
(see `assist_cycle._fair`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from core.assist.calibration import wilson_lower_bound, wilson_upper_bound

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

SPREADS = (2.0, 4.0)
"""Candidate prior standard deviations of a class's shift, in logits (1: a class may plausibly
be right 92 % of the time where the others are right 97 %). None below 2, so classes borrow less
from each other: a small spread pulls a worse class's shift toward the others' and lets their
answers vouch for it. On bench/assist.py (2,000 digits, 10 queue orders, 300 labels, AL off),
against (0.5, 1, 2, 4): hard 16.2 % +- 4.9 % coverage, 4/10 runs unsafe, lowest class 92.2 %
(15.7 % +- 6.0 %, 6/10, 90.0 %); MNIST 62.4 % +- 10.8 %, 2/10, 91.8 % (58.7 % +- 19.7 %,
3/10, 87.8 %)."""
Z_CLASS = 1.645
"""A class's bound is one-sided at 95 % for each item it pre-labels, the mean of those bounds
must reach the target; measured over many queue orders by bench/assist.py."""
MIN_ANSWERS = 8
"""A class needs at least this many held-out answers of its own before it gets a threshold:
the prior alone never vouches for a class."""
MIN_ABOVE = 5
"""The curve vouches for items no earlier cycle picked only where at least this many of the
class's other answers lie at or above the cut: on degraded digits the curve, leaning on the
other classes, put a class of ones at 98.8 % above a cut with one or two answers of its own
there, where 90.6 % were right."""
_WEAK = 1e-2  # a nearly flat prior on the common intercept and slope, for a finite fit
_EDGE = 1e-4


@dataclass(frozen=True)
class Scored:
    """Predictions of some items: the classes each one is given (one, or several for
    multi-label) and the confidence of that whole answer."""

    classes: Sequence[tuple[int, ...]]
    confidence: Floats
    vouched: Bools | None = None
    """Which of them an earlier cycle pre-labeled (None: none). An earlier model's confidence
    says more than the new one's alone: answers to its pre-labels are right more often than
    other answers at the same new confidence, and must not vouch for items it did not pick."""

    def earlier(self) -> Bools:
        if self.vouched is None:
            return np.zeros(len(self.classes), dtype=bool)
        return np.asarray(self.vouched, dtype=bool)


@dataclass(frozen=True)
class ClassThreshold:
    name: str
    threshold: float | None
    """Pre-label an item with this class when its confidence is at least this; None: never."""
    precision: float
    """The fitted precision of the waiting items it pre-labels (at the best cut when None)."""
    lower_bound: float
    support: float
    """Held-out answers the model gave this class (at any confidence)."""
    answers: int
    """Of them, at or above the threshold."""
    right: int
    """Of those, how many were right."""
    waiting: int
    """Waiting items predicted as this class at or above the threshold."""
    reason: str | None = None
    """Why no threshold (None when there is one)."""


@dataclass(frozen=True)
class Decision:
    classes: list[ClassThreshold]
    pooled_precision: float
    pooled_lower_bound: float
    pooled_support: float

    def emits(self, classes: tuple[int, ...], confidence: float) -> bool:
        """Whether a prediction of `classes` at `confidence` becomes a pre-label: every one of
        its classes must have a threshold, and the confidence reach the highest of them."""
        limits = [self.classes[c].threshold for c in classes]
        return bool(limits) and all(t is not None and confidence >= t for t in limits)

    def emitted(self, scored: Scored) -> Bools:
        pairs = zip(scored.classes, scored.confidence, strict=True)
        return np.array([self.emits(c, float(p)) for c, p in pairs], dtype=bool)


@dataclass(frozen=True)
class _Fit:
    theta: Floats
    """[common intercept, slope, earlier pre-label, shift of each class]."""
    covariance: Floats

    def bounds(self, c: int, x: Floats, earlier: Bools, z: float) -> tuple[Floats, Floats]:
        """(fitted probability, its lower bound) of being right, for class c at logits x."""
        rows = np.zeros((x.size, self.theta.size))
        rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3 + c] = 1.0, x, earlier, 1.0
        eta = rows @ self.theta
        se = np.sqrt(np.einsum("ij,jk,ik->i", rows, self.covariance, rows))
        return _sigmoid(eta), _sigmoid(eta - z * se)


@dataclass(frozen=True)
class _Class:
    """One class's cuts, highest threshold first: the waiting items it would pre-label at each
    distinct confidence, their fitted and lower-bound precision."""

    thresholds: Floats
    waiting: npt.NDArray[np.int64]
    precision: Floats
    lower: Floats
    answers: npt.NDArray[np.int64]
    right: npt.NDArray[np.int64]


def decide(
    held: Scored,
    correct: Bools,
    waiting: Scored,
    names: Sequence[str],
    target: float,
    *,
    z_class: float | None = None,
) -> Decision:
    """Per-class thresholds from the held-out answers `held` (right or not: `correct`), for
    the waiting items `waiting`."""
    z = Z_CLASS if z_class is None else z_class
    rows = [(c, n) for n, classes in enumerate(held.classes) for c in classes]
    index = [n for _, n in rows]
    earlier = held.earlier()
    fit = _fit(
        np.array([c for c, _ in rows], dtype=np.int64),
        _logit(held.confidence[index]),
        earlier[index],
        correct[index].astype(np.float64),
        len(names),
    )
    of = [np.array([n for c, n in rows if c == k], dtype=np.int64) for k in range(len(names))]
    answers = _Answers(
        [held.confidence[n] for n in of], [correct[n] for n in of], [earlier[n] for n in of]
    )
    answered = answers.confidence
    cuts = [_cuts(fit, waiting, k, z, answers) for k in range(len(names))]
    chosen = [
        _lowest(cut, target) if answered[k].size >= MIN_ANSWERS else None
        for k, cut in enumerate(cuts)
    ]
    decided = [
        _decided(names[k], cuts[k], chosen[k], answered[k], target) for k in range(len(names))
    ]
    emitted = [(cut, at) for cut, at in zip(cuts, chosen, strict=True) if at is not None]
    items = sum(float(cut.waiting[at]) for cut, at in emitted)
    fitted = sum(float(cut.precision[at] * cut.waiting[at]) for cut, at in emitted)
    lower = sum(float(cut.lower[at] * cut.waiting[at]) for cut, at in emitted)
    return Decision(
        decided,
        fitted / items if items else 1.0,
        lower / items if items else 1.0,
        float(len(held.classes)),
    )


def _fit(classes: npt.NDArray[np.int64], x: Floats, earlier: Bools, y: Floats, count: int) -> _Fit:
    """The fit under the class spread the answers find likeliest."""
    design = np.zeros((x.size, 3 + count))
    design[:, 0], design[:, 1], design[:, 2] = 1.0, x, earlier
    design[np.arange(x.size), 3 + classes] = 1.0
    fits = [_fit_at(design, y, spread) for spread in SPREADS]
    return max(fits, key=lambda found: found[1])[0]


def _fit_at(design: Floats, y: Floats, spread: float) -> tuple[_Fit, float]:
    """Penalised maximum likelihood (Newton's method) of sigmoid(a + a_class + b * x) with the
    shifts' prior spread `spread`; the covariance is the inverse of the penalised information
    (a Laplace approximation), and the second value the Laplace estimate of the answers' log
    likelihood under that spread (what empirical Bayes maximises)."""
    count = design.shape[1] - 3
    penalty = np.diag([_WEAK, _WEAK, _WEAK, *([1.0 / spread**2] * count)])
    theta = np.zeros(3 + count)
    information = penalty
    for _ in range(50):
        p = _sigmoid(design @ theta)
        gradient = design.T @ (y - p) - penalty @ theta
        information = design.T @ (design * (p * (1 - p))[:, None]) + penalty
        step = np.linalg.solve(information, gradient)
        theta = theta + step
        if np.abs(step).max() < 1e-8:
            break
    p = np.clip(_sigmoid(design @ theta), 1e-12, 1 - 1e-12)
    information = design.T @ (design * (p * (1 - p))[:, None]) + penalty
    covariance = np.asarray(np.linalg.inv(information), dtype=np.float64)
    likelihood = float((y * np.log(p) + (1 - y) * np.log(1 - p)).sum())
    evidence = (
        likelihood
        - 0.5 * float(theta @ penalty @ theta)
        + 0.5 * float(np.linalg.slogdet(penalty)[1])
        - 0.5 * float(np.linalg.slogdet(information)[1])
    )
    return _Fit(theta, covariance), evidence


def _cuts(fit: _Fit, waiting: Scored, k: int, z: float, answers: _Answers) -> _Class:
    """Each cut's bound is the fitted one, or where that is higher the plain count of the
    class's answers at or above it (Wilson bounds, one for the items an earlier cycle
    pre-labeled from the answers to those pre-labels, one for the rest from the other answers,
    weighted by how many waiting items each holds): when every answer is right the curve's fit
    runs off to certainty and its bound says little, while many right answers say a lot.

    The curve is trusted only where `MIN_ABOVE` of the class's other answers lie at or above
    the cut and do not belie it (the upper Wilson bound of their share right reaches the fitted
    precision of the items they speak for): a class the model gets confidently wrong (strokes
    read as ones) bends away from the shared curve at the top, and its answers there show it
    before the curve does."""
    mine = np.array([k in classes for classes in waiting.classes], dtype=bool)
    order = np.argsort(-waiting.confidence[mine], kind="stable")
    confidence = waiting.confidence[mine][order]
    earlier = waiting.earlier()[mine][order]
    fitted, lower = fit.bounds(k, _logit(confidence), earlier, z)
    # Cut only between distinct confidences: a threshold keeps all ties or none.
    last = np.flatnonzero(np.append(confidence[1:] != confidence[:-1], confidence.size > 0))
    counts = last + 1
    cuts = confidence[last]
    picked = np.cumsum(earlier)[last].astype(np.float64)
    rest = counts - picked
    fresh = answers.stratum(k, earlier=False, cuts=cuts, z=z)
    again = answers.stratum(k, earlier=True, cuts=cuts, z=z)
    counted = (rest * fresh[0] + picked * again[0]) / counts
    rest_fitted = np.cumsum(np.where(earlier, 0.0, fitted))[last] / np.maximum(rest, 1)
    trusted = (rest == 0) | ((fresh[2] >= MIN_ABOVE) & (fresh[1] >= rest_fitted))
    precision = np.cumsum(fitted)[last] / counts
    modelled = np.where(trusted, np.cumsum(lower)[last] / counts, 0.0)
    above = answers.above(k, cuts)
    return _Class(cuts, counts, precision, np.maximum(modelled, counted), above[0], above[1])


@dataclass(frozen=True)
class _Answers:
    """The held-out answers by class: confidence, right or not, and whether an earlier cycle
    had pre-labeled the item."""

    confidence: list[Floats]
    right: list[Bools]
    earlier: list[Bools]

    def stratum(
        self, k: int, *, earlier: bool, cuts: Floats, z: float
    ) -> tuple[Floats, Floats, Floats]:
        """Per cut, the Wilson lower and upper bounds of the share right among the class's
        answers of one stratum at or above it (0 and 1 when there are none), and how many."""
        keep = self.earlier[k] == earlier
        confidence, right = self.confidence[k][keep], self.right[k][keep]
        low, high, many = [], [], []
        for cut in cuts:
            above = confidence >= cut
            n, r = int(above.sum()), int(right[above].sum())
            low.append(wilson_lower_bound(r, n, z))
            high.append(wilson_upper_bound(r, n, z))
            many.append(float(n))
        return np.array(low), np.array(high), np.array(many)

    def above(self, k: int, cuts: Floats) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        counts = [self.confidence[k] >= cut for cut in cuts]
        return (
            np.array([int(c.sum()) for c in counts], dtype=np.int64),
            np.array([int(self.right[k][c].sum()) for c in counts], dtype=np.int64),
        )


def _lowest(cut: _Class, target: float) -> int | None:
    """The cut with the most items whose bound reaches the target."""
    passing = np.flatnonzero(cut.lower >= target)
    return int(passing[-1]) if passing.size else None


def _decided(
    name: str, cut: _Class, at: int | None, answered: Floats, target: float
) -> ClassThreshold:
    support = float(answered.size)
    if at is not None:
        return ClassThreshold(
            name,
            float(cut.thresholds[at]),
            float(cut.precision[at]),
            float(cut.lower[at]),
            support,
            int(cut.answers[at]),
            int(cut.right[at]),
            int(cut.waiting[at]),
        )
    if not cut.lower.size:
        reason = "no waiting item is guessed as it"
        return ClassThreshold(name, None, 0.0, 0.0, support, 0, 0, 0, reason)
    best = int(np.argmax(cut.lower))
    if answered.size < MIN_ANSWERS:
        reason = f"{answered.size} held-out answer(s) of it; a threshold needs {MIN_ANSWERS}"
    else:
        reason = (
            f"no threshold reaches {target:.0%}: the best lower bound is "
            f"{cut.lower[best]:.1%} ({answered.size} held-out answers of it)"
        )
    return ClassThreshold(
        name, None, float(cut.precision[best]), float(cut.lower[best]), support, 0, 0, 0, reason
    )


def _logit(p: Floats) -> Floats:
    clipped = np.clip(np.asarray(p, dtype=np.float64), _EDGE, 1 - _EDGE)
    logits: Floats = np.log(clipped / (1 - clipped))
    return logits


def _sigmoid(x: Floats) -> Floats:
    values: Floats = 1.0 / (1.0 + np.exp(-x))
    return values
