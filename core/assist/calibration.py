"""Confidence thresholds from measured precision, never from a guess.

Out-of-fold predictions on human labels give one (confidence, correct) pair per held-out
decision. The threshold is the lowest confidence at which the *lower* Wilson bound of the
precision above it still reaches the target: a point estimate from a few hundred labels cannot
tell 95 % from 92 %, and taking the boundary by construction would land below the target about
half the time (DESIGN §8)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Z_ONE_SIDED = 1.96
"""The lower bound is one-sided at 97.5 %: wrong at most one run in forty. A margin beyond the
usual 95 %, because the items still unlabeled drift from the sample as labeling goes on (the
easy ones are confirmed first), and a pre-label below target costs a labeler's trust."""


def wilson_lower_bound(correct: float, total: float, z: float = Z_ONE_SIDED) -> float:
    """Lower end of the Wilson score interval of `correct / total` (0 when total is 0); the
    counts may be effective ones (weighted answers), hence floats."""
    if total <= 0:
        return 0.0
    p = correct / total
    z2 = z * z
    centre = p + z2 / (2 * total)
    margin = z * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total))
    return (centre - margin) / (1 + z2 / total)


def wilson_upper_bound(correct: float, total: float, z: float = Z_ONE_SIDED) -> float:
    """Upper end of the Wilson score interval (1 when total is 0)."""
    return 1.0 - wilson_lower_bound(total - correct, total, z) if total > 0 else 1.0


@dataclass(frozen=True)
class Threshold:
    confidence: float
    """Emit a suggestion when its confidence is at least this."""
    precision: float
    """Measured precision of held-out decisions at or above it."""
    lower_bound: float
    support: int
    """How many held-out decisions were at or above it."""
    coverage: float
    """Their share of all held-out decisions."""


def pick_threshold(
    confidence: npt.ArrayLike, correct: npt.ArrayLike, target: float
) -> Threshold | None:
    """The lowest threshold whose held-out precision has a lower bound ≥ `target`; None when no
    threshold does (too few labels, or a model too weak for the target)."""
    conf = np.asarray(confidence, dtype=np.float64)
    hits = np.asarray(correct, dtype=bool)
    if conf.shape != hits.shape or conf.ndim != 1:
        raise ValueError("confidence and correct must be 1-d arrays of one length")
    if conf.size == 0:
        return None
    order = np.argsort(-conf, kind="stable")
    sorted_conf = conf[order]
    cumulative = np.cumsum(hits[order])
    best: Threshold | None = None
    for i in range(conf.size):
        # Only cut between distinct confidences: a threshold keeps all ties or none.
        if i + 1 < conf.size and sorted_conf[i + 1] == sorted_conf[i]:
            continue
        total = i + 1
        bound = wilson_lower_bound(int(cumulative[i]), total)
        if bound >= target:
            best = Threshold(
                confidence=float(sorted_conf[i]),
                precision=float(cumulative[i]) / total,
                lower_bound=bound,
                support=total,
                coverage=total / conf.size,
            )
    return best
