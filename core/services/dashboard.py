"""Dashboard data, cheap to read: indexed COUNT queries for states and queue lanes, the
per-actor counters (`core.domain.progress`) with the recount sweep's corrections for labels,
answers, throughput and agreement. No item is read: the sweep (`core.services.recount`) keeps
the counters equal to the items."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pydantic import Field

from core.domain.capacity import Capacity
from core.domain.items import ItemState
from core.domain.lanes import (
    ASSIGNED,
    CLUSTERED,
    CONFIRM_LATER,
    LEASED,
    PARTIAL,
    PRELABELED,
    QUEUE,
)
from core.domain.model import DomainModel
from core.domain.progress import (
    AGREED,
    ANSWERS,
    COMPARED,
    HELD,
    LABEL,
    SKIPS,
    ActorStats,
    Recount,
    counted,
    kind_of,
    restored,
)
from core.domain.projects import Role
from core.ports import Deps
from core.services.capacity import capacity
from core.services.ingestion import last_refresh
from core.services.recount import read_counters
from core.services.worklog import member_project
from core.store.repositories.items import Items


@dataclass(frozen=True)
class LabelerProgress:
    user: str
    submitted: int
    """Submissions counted (answers later rejected or reset included)."""
    skipped: int
    today: int
    """Submissions counted today (UTC)."""
    answers: int
    """Items that carry their answer now (an item figure, equal to the items')."""
    agreed: int
    compared: int
    agreement: float | None
    last_at: datetime | None


@dataclass(frozen=True)
class Dashboard:
    states: dict[str, int]
    queue: dict[str, int]
    labels: dict[str, int]
    labelers: list[LabelerProgress] = field(default_factory=list)
    last_refresh_at: datetime | None = None
    as_of: datetime | None = None
    recounted_at: datetime | None = None
    """When the counters were last checked against the items."""
    capacity: Capacity | None = None
    """The items against the project's cap (`core.domain.capacity`), with its warning."""


def dashboard(deps: Deps, *, project_id: str, actor: str) -> Dashboard:
    project = member_project(deps, project_id, actor, Role.REVIEWER)
    items = Items(deps, project_id)
    # One definition everywhere: `states` are the items' own states and add up to the items;
    # `queue` breaks the unlabeled ones down (leased to a labeler now, or where they wait).
    states = item_states(deps, project_id)
    # ML assist's random sample waits in the pre-labeled lane, without a pre-label.
    sample = items.count_in_lane(PRELABELED, audit=True)
    queue = {
        "in_progress": items.count_in_lane(LEASED, prefix=True),
        "assigned": items.count_in_lane(ASSIGNED, prefix=True),
        "awaiting_consensus": items.count_in_lane(PARTIAL),
        "prelabeled": items.count_in_lane(PRELABELED) - sample + items.count_in_lane(CONFIRM_LATER),
        "random_sample": sample,
        "clustered": items.count_in_lane(CLUSTERED, prefix=True),
        "manual": items.count_in_lane(QUEUE),
    }
    counters = read_counters(deps, project_id)
    figures: dict[str, dict[str, int]] = {}
    for key, n in counted(counters.actors, counters.recount).items():
        kind, name = kind_of(key)
        figures.setdefault(kind, {})[name] = n
    return Dashboard(
        states=states,
        queue=queue,
        labels={label: n for label, n in sorted(figures.get(LABEL, {}).items()) if n},
        labelers=_labelers(counters.actors, counters.recount, figures, deps.clock.now()),
        last_refresh_at=last_refresh(deps, project_id=project_id),
        as_of=deps.clock.now(),
        recounted_at=counters.recount.scanned_at if counters.recount else None,
        capacity=capacity(deps, project, sum(states.values())),
    )


def item_states(deps: Deps, project_id: str) -> dict[str, int]:
    """How many items are in each state (indexed COUNT queries); they add up to the items."""
    items = Items(deps, project_id)
    return {s.value: items.count_in_state(s) for s in ItemState}


class Progress(DomainModel):
    items: int = Field(description="Every item of the project, whatever its state")
    labeled: int


def progress_of(deps: Deps, project_id: str) -> Progress:
    """What a list of projects shows: two COUNT queries, whoever asks (a labeler sees how much
    of the project is done; figures per person stay on the dashboard)."""
    items = Items(deps, project_id)
    return Progress(items=items.count(), labeled=items.count_in_state(ItemState.LABELED))


def _labelers(
    stats: list[ActorStats],
    recount: Recount | None,
    figures: dict[str, dict[str, int]],
    now: datetime,
) -> list[LabelerProgress]:
    today = now.strftime("%Y-%m-%d")
    people = {s.id: s for s in stats if s.submitted or s.skipped}
    answers, agreed, compared = (figures.get(kind, {}) for kind in (ANSWERS, AGREED, COMPARED))
    # Whoever did or holds something, restored events included (answers since rejected).
    keys = [kind_of(key) for key in recount.corrections] if recount else []
    found = {name for kind, name in keys if kind in HELD}
    result = []
    for user in sorted({*people, *answers, *compared, *found}):
        own = people.get(user)
        rate = (agreed.get(user, 0), compared.get(user, 0))
        submitted = (own.submitted if own else 0) + restored(recount, ANSWERS, user)
        skipped = (own.skipped if own else 0) + restored(recount, SKIPS, user)
        if not (submitted or skipped or answers.get(user) or rate[1]):
            continue
        result.append(
            LabelerProgress(
                user=user,
                submitted=submitted,
                skipped=skipped,
                today=own.daily.get(today, 0) if own else 0,
                answers=answers.get(user, 0),
                agreed=rate[0],
                compared=rate[1],
                agreement=rate[0] / rate[1] if rate[1] else None,
                last_at=own.last_at if own else None,
            )
        )
    return result
