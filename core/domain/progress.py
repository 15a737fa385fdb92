"""Per-actor progress counters, kept so the dashboard reads a few small documents instead of
scanning items. Each actor's document sums the changes their own actions caused (a labeler's
submissions, the label-distribution and agreement changes a consensus decision made), so one
actor's requests never race another's over a shared counter.

Two kinds of figure live there. *Item figures* are pure functions of the items' current state
(labels, agreement, the answers and skips each person holds): a change adds what it added and
takes back what it removed, and the recount sweep (`reconcile`) checks their sums against the
items and corrects what a crash between an item's write and its counter's cut off. *Events*
(submissions, skips, corrections, reviews, per day) count what happened; items keep no record of
them, so a lost one is restored only where the items prove it: an answer that no counter saw is
a submission (or an import) whose count was lost."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field

from core.domain.annotation_json import stored_labels
from core.domain.items import Item
from core.domain.model import DomainModel, Stamp

# Item figures, flattened to "<kind>/<name>" keys (a label name may hold "/"; kinds do not).
LABEL, ANSWERS, SKIPS, AGREED, COMPARED = "label", "answers", "skips", "agreed", "compared"
HELD = (ANSWERS, SKIPS)
"""Per-person figures whose lost increments are lost events too (a submission, a skip)."""


def figure(kind: str, name: str) -> str:
    return f"{kind}/{name}"


def kind_of(key: str) -> tuple[str, str]:
    kind, _, name = key.partition("/")
    return kind, name


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
    answers: dict[str, int] = Field(
        default_factory=dict, description="Answers held on items, per person (item figure)"
    )
    skips: dict[str, int] = Field(
        default_factory=dict, description="Skips held on items, per person (item figure)"
    )
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
    figures: Counter[str] = field(default_factory=Counter)
    """Signed changes of the item figures."""
    last_item: str | None = None

    def __iadd__(self, other: Delta) -> Delta:
        self.submitted += other.submitted
        self.skipped += other.skipped
        self.corrected += other.corrected
        self.reviewed += other.reviewed
        self.suggested += other.suggested
        self.confirmed += other.confirmed
        self.figures.update(other.figures)
        self.last_item = other.last_item or self.last_item
        return self


def item_figures(document: Mapping[str, Any]) -> Counter[str]:
    """What one item, as stored, adds to the item figures. It reads the stored JSON rather than
    the model, so that the sweep's pass over a million items validates only the final values
    (for their labels), not whole items."""
    found: dict[str, int] = {}
    _add_figures(document, found, 1)
    return Counter(found)


def _add_figures(document: Mapping[str, Any], into: dict[str, int], sign: int) -> None:
    """`item_figures(document)` times `sign`, added to `into`: counted in a plain dict (a
    Counter's update goes through Python per key), and an answer that disagreed adds no
    "agreed" key rather than a zero one."""

    def one(kind: str, name: str) -> None:
        key = figure(kind, name)
        into[key] = into.get(key, 0) + sign

    for label in stored_labels(document.get("final")):
        one(LABEL, label)
    for annotation in document.get("annotations") or ():
        user = annotation["user"]
        one(ANSWERS, user)
        agreed = annotation.get("agreed")
        if agreed is not None:
            one(COMPARED, user)
            if agreed:
                one(AGREED, user)
    for skip in document.get("skips") or ():
        one(SKIPS, skip["user"])


def item_change(before: Item | None, after: Item | None) -> Delta:
    """What changing `before` into `after` adds to the item figures."""
    return document_change(
        before.to_doc() if before is not None else None,
        after.to_doc() if after is not None else None,
    )


def document_change(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> Delta:
    """`item_change` of the items as stored (a bulk write has their documents at hand)."""
    return documents_change([(before, after)])


def documents_change(
    changes: Iterable[tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]],
) -> Delta:
    """The sum of `document_change` over many (before, after) documents: one Delta for a bulk
    write, rather than one per item added up."""
    figures: dict[str, int] = {}
    for before, after in changes:
        if after is not None:
            _add_figures(after, figures, 1)
        if before is not None:
            _add_figures(before, figures, -1)
    return Delta(figures=Counter(figures))


def figures_of(stats: ActorStats) -> Counter[str]:
    """The item figures of one counter document, flattened."""
    found: Counter[str] = Counter()
    for kind, values in ((LABEL, stats.labels), (ANSWERS, stats.answers), (SKIPS, stats.skips)):
        for name, n in values.items():
            found[figure(kind, name)] += n
    for user, part in stats.agreement.items():
        found[figure(AGREED, user)] += part.agreed
        found[figure(COMPARED, user)] += part.compared
    return found


def _unflattened(figures: Mapping[str, int]) -> dict[str, Any]:
    """`figures` as the fields of a counter document (zeros dropped)."""
    fields: dict[str, dict[str, int]] = {LABEL: {}, ANSWERS: {}, SKIPS: {}, AGREED: {}}
    agreement: dict[str, dict[str, int]] = {}
    for key, n in figures.items():
        kind, name = kind_of(key)
        if not n:
            continue
        if kind in (AGREED, COMPARED):
            agreement.setdefault(name, {})[kind] = n
        elif kind in fields:
            fields[kind][name] = n
    return {
        "labels": fields[LABEL],
        "answers": fields[ANSWERS],
        "skips": fields[SKIPS],
        "agreement": {user: Agreement(**parts) for user, parts in agreement.items()},
    }


def add(stats: ActorStats, delta: Delta, *, now: datetime) -> ActorStats:
    figures = figures_of(stats)
    figures.update(delta.figures)
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
            **_unflattened(figures),
            "daily": daily,
            "last_item": delta.last_item or stats.last_item,
            "last_at": now if delta.submitted or delta.skipped else stats.last_at,
        }
    )


RECOUNT = "~recount"
"""The id of the sweep's document among a project's counters (no user name starts with "~")."""


class Recount(DomainModel):
    """The recount sweep's document among a project's counters: the corrections it made, which
    readers add to the actors' sums, and what it saw at its last scan."""

    id: str = RECOUNT
    project_id: str
    corrections: dict[str, int] = Field(
        default_factory=dict, description="Item figures added to the actors' sums"
    )
    baseline: dict[str, int] = Field(
        default_factory=dict,
        description="…of which held figures adopted from counters that predate them (no events)",
    )
    legacy: bool = Field(default=False, description="Counters that predate held figures found")
    pending: dict[str, int] = Field(
        default_factory=dict, description="Gaps the last scan found and did not correct"
    )
    seen: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="Each pending figure in each actor's counters then"
    )
    actors: str = Field(default="", description="Fingerprint of the counters the last scan read")
    scanned_at: Stamp | None = None
    scan_s: float = Field(default=0.0, description="How long the last scan took (seconds)")
    items: int = Field(default=0, description="Items the last scan read")
    drift: int = Field(default=0, description="Sum of the gaps the last scan found")
    corrected_at: Stamp | None = None


@dataclass(frozen=True)
class Scan:
    """One pass of the sweep: the actors' counters read first, then the items' truth. Quiet when
    no item changed from a settle time before the pass to its end and no counter moved in it."""

    actors: Sequence[ActorStats]
    truth: Counter[str]
    at: datetime
    quiet: bool


def counted(actors: Iterable[ActorStats], recount: Recount | None) -> Counter[str]:
    """The item figures as the counters have them: the actors' sums plus the corrections."""
    total: Counter[str] = Counter()
    for stats in actors:
        total.update(figures_of(stats))
    if recount is not None:
        total.update(recount.corrections)
    return total


def reconcile(state: Recount, scan: Scan, *, settle: timedelta) -> tuple[Recount, dict[str, int]]:
    """The sweep's decision: `state` after `scan`, and the corrections it makes.

    An item is written before its counter, so a gap between the items and the counters read
    before them is a change either in flight (its counter lands a moment later) or lost to a
    crash. Correcting one in flight would count it twice, so a gap is corrected only when it
    cannot be in flight: at once when the project was quiet (no item changed for `settle`
    before the scan), else when the next scan, `settle` or more later, finds the same gap while
    no actor's counter of that figure moved in between: a change in flight would have landed
    and moved it. A figure that keeps changing (a class labeled every second) thus waits for a
    quiet moment; the others are corrected while people work. Timestamps alone (no versions on
    items or counters) keep the labeling path as it is: one item write, one counter write."""
    per_actor = {stats.id: figures_of(stats) for stats in scan.actors}
    total = counted(scan.actors, state)
    gap = {k: n for k in sorted(set(scan.truth) | set(total)) if (n := scan.truth[k] - total[k])}

    def values(key: str) -> dict[str, int]:
        return {actor: found[key] for actor, found in per_actor.items() if found[key]}

    settled = state.scanned_at is not None and scan.at - state.scanned_at >= settle
    fix = {
        key: n
        for key, n in gap.items()
        if scan.quiet
        or (settled and state.pending.get(key) == n and state.seen.get(key, {}) == values(key))
    }
    pending = {key: n for key, n in gap.items() if key not in fix}
    adopted = {k: n for k, n in fix.items() if kind_of(k)[0] in HELD} if state.legacy else {}
    updated = state.model_copy(
        update={
            "corrections": _plus(state.corrections, fix),
            "baseline": _plus(state.baseline, adopted),
            "legacy": state.legacy and any(kind_of(key)[0] in HELD for key in gap),
            "pending": pending,
            "seen": {key: values(key) for key in pending},
            "scanned_at": scan.at,
            "drift": sum(abs(n) for n in gap.values()),
            "corrected_at": scan.at if fix else state.corrected_at,
        }
    )
    return updated, fix


def restored(recount: Recount | None, kind: str, user: str) -> int:
    """Events of `user` the sweep restored: submissions for answers (kind ANSWERS), skips for
    skips (SKIPS) found on items that no counter saw. Derived from the net correction, so a
    correction later taken back takes its restored events back with it."""
    if recount is None:
        return 0
    key = figure(kind, user)
    return max(0, recount.corrections.get(key, 0) - recount.baseline.get(key, 0))


def _plus(base: Mapping[str, int], more: Mapping[str, int]) -> dict[str, int]:
    total = Counter(base)
    total.update(more)
    return {key: n for key, n in sorted(total.items()) if n}
