"""Per-actor progress counters, kept so the dashboard reads a few small documents instead of
scanning items. Each actor's document sums the changes their own actions caused (a labeler's
submissions, the label-distribution and agreement changes a consensus decision made), so one
actor's requests never race another's over a shared counter. Labels and agreement are pure
functions of the items' current state (a change adds what it added and takes back what it
removed); submissions and skips count events (throughput)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import Field

from core.domain.items import Item
from core.domain.model import DomainModel, Stamp


class Agreement(DomainModel):
    agreed: int = 0
    compared: int = 0


class ActorStats(DomainModel):
    id: str = Field(description="The actor's user name")
    project_id: str
    submitted: int = 0
    skipped: int = 0
    corrected: int = 0
    reviewed: int = 0
    suggested: int = Field(default=0, description="Submissions on items with an ML pre-label")
    confirmed: int = Field(default=0, description="…of which agreed with the pre-label")
    labels: dict[str, int] = Field(default_factory=dict)
    agreement: dict[str, Agreement] = Field(default_factory=dict)
    daily: dict[str, int] = Field(default_factory=dict, description="Submissions per UTC day")
    last_item: str | None = Field(default=None, description="Their last submission (undo)")
    last_at: Stamp | None = None


@dataclass
class Delta:
    submitted: int = 0
    skipped: int = 0
    corrected: int = 0
    reviewed: int = 0
    suggested: int = 0
    confirmed: int = 0
    labels: Counter[str] = field(default_factory=Counter)
    agreed: Counter[str] = field(default_factory=Counter)
    compared: Counter[str] = field(default_factory=Counter)
    last_item: str | None = None

    def __iadd__(self, other: Delta) -> Delta:
        self.submitted += other.submitted
        self.skipped += other.skipped
        self.corrected += other.corrected
        self.reviewed += other.reviewed
        self.suggested += other.suggested
        self.confirmed += other.confirmed
        self.labels.update(other.labels)
        self.agreed.update(other.agreed)
        self.compared.update(other.compared)
        self.last_item = other.last_item or self.last_item
        return self


def item_change(before: Item | None, after: Item | None) -> Delta:
    """What changing `before` into `after` adds to the label distribution and agreement."""
    delta = Delta()
    for item, sign in ((before, -1), (after, 1)):
        if item is None:
            continue
        for label in item.labels:
            delta.labels[label] += sign
        for annotation in item.annotations:
            if annotation.agreed is not None:
                delta.compared[annotation.user] += sign
                delta.agreed[annotation.user] += sign * annotation.agreed
    return delta


def add(stats: ActorStats, delta: Delta, *, now: datetime) -> ActorStats:
    labels = Counter(stats.labels)
    labels.update(delta.labels)
    agreement = dict(stats.agreement)
    for user in set(delta.compared) | set(delta.agreed):
        old = agreement.get(user, Agreement())
        agreement[user] = Agreement(
            agreed=old.agreed + delta.agreed[user], compared=old.compared + delta.compared[user]
        )
    daily = dict(stats.daily)
    if delta.submitted:
        day = now.strftime("%Y-%m-%d")
        daily[day] = daily.get(day, 0) + delta.submitted
    return stats.model_copy(
        update={
            "submitted": stats.submitted + delta.submitted,
            "skipped": stats.skipped + delta.skipped,
            "corrected": stats.corrected + delta.corrected,
            "reviewed": stats.reviewed + delta.reviewed,
            "suggested": stats.suggested + delta.suggested,
            "confirmed": stats.confirmed + delta.confirmed,
            "labels": {k: v for k, v in labels.items() if v},
            "agreement": {k: v for k, v in agreement.items() if v.compared or v.agreed},
            "daily": daily,
            "last_item": delta.last_item or stats.last_item,
            "last_at": now if delta.submitted or delta.skipped else stats.last_at,
        }
    )
