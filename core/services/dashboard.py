"""Dashboard data, cheap to read: indexed COUNT queries for states and queue lanes, the
per-actor counters (`core.domain.progress`) for labels, throughput and agreement."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from core.domain.items import ItemState
from core.domain.lanes import ASSIGNED, CLUSTERED, LEASED, PARTIAL, PRELABELED, QUEUE
from core.domain.progress import ActorStats, Agreement
from core.domain.projects import Role
from core.ports import Deps, Query, Where
from core.services.collections import ITEMS, STATS, load, scan
from core.services.ingestion import last_refresh
from core.services.worklog import member_project


@dataclass(frozen=True)
class LabelerProgress:
    user: str
    submitted: int
    skipped: int
    today: int
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


def dashboard(deps: Deps, *, project_id: str, actor: str) -> Dashboard:
    member_project(deps, project_id, actor, Role.REVIEWER)
    items = deps.documents.container(ITEMS)

    def count(*where: Where) -> int:
        return items.count(project_id, where)

    states = {state.value: count(Where("state", "=", state.value)) for state in ItemState}
    in_progress = count(Where("lane", "startswith", LEASED))
    states["in_progress"] = in_progress
    states["not_done"] = states[ItemState.UNLABELED.value] - in_progress
    # ML assist's random sample waits in the pre-labeled lane, without a pre-label.
    sample = count(Where("lane", "=", PRELABELED), Where("audit", "=", True))
    queue = {
        "assigned": count(Where("lane", "startswith", ASSIGNED)),
        "awaiting_consensus": count(Where("lane", "=", PARTIAL)),
        "prelabeled": count(Where("lane", "=", PRELABELED)) - sample,
        "random_sample": sample,
        "clustered": count(Where("lane", "startswith", CLUSTERED)),
        "manual": count(Where("lane", "=", QUEUE)),
    }
    stats = [
        load(ActorStats, d) for d in scan(deps.documents.container(STATS), project_id, Query())
    ]
    return Dashboard(
        states=states,
        queue=queue,
        labels=_labels(stats),
        labelers=_labelers(stats, deps.clock.now()),
        last_refresh_at=last_refresh(deps, project_id=project_id),
        as_of=deps.clock.now(),
    )


def _labels(stats: list[ActorStats]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for actor in stats:
        total.update(actor.labels)
    return {label: n for label, n in sorted(total.items()) if n}


def _labelers(stats: list[ActorStats], now: datetime) -> list[LabelerProgress]:
    agreement: dict[str, Agreement] = {}
    for actor in stats:
        for user, part in actor.agreement.items():
            old = agreement.get(user, Agreement())
            agreement[user] = Agreement(
                agreed=old.agreed + part.agreed, compared=old.compared + part.compared
            )
    today = now.strftime("%Y-%m-%d")
    people = {s.id: s for s in stats if s.submitted or s.skipped}
    result = []
    for user in sorted(set(people) | set(agreement)):
        own = people.get(user)
        rate = agreement.get(user, Agreement())
        result.append(
            LabelerProgress(
                user=user,
                submitted=own.submitted if own else 0,
                skipped=own.skipped if own else 0,
                today=own.daily.get(today, 0) if own else 0,
                agreed=rate.agreed,
                compared=rate.compared,
                agreement=rate.agreed / rate.compared if rate.compared else None,
                last_at=own.last_at if own else None,
            )
        )
    return result
