"""The task queue: next task under a lease, renew, release, and the sweep of expired leases.

Next task reads, in order: the caller's live leases (a reload gets the same task back), items
assigned to them, items waiting for more consensus answers, then the public lanes by priority
and queue rank (`core.domain.lanes`). Each step is one indexed query; an item is taken with an
etag-conditional write, so two labelers racing for one item cannot both win: the loser moves on
to the next candidate."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from random import Random

from core.domain.errors import Conflict, InvalidInput
from core.domain.items import Item, ItemState
from core.domain.lanes import cluster_of
from core.domain.progress import ActorStats
from core.domain.projects import Project, Role
from core.domain.tasks import Task, check_page_size, leased, released
from core.ports import Deps, Document
from core.services.worklog import labeling_project, member_project, read_item
from core.store.collections import ITEMS, STATS, load
from core.store.repositories.items import Items, answered_by, lane_of
from core.store.repositories.projects import Projects
from core.store.update import write_over

WINDOW = 16  # candidates read per query: enough to step past racing labelers
MAX_HOLDING = 32  # leases a client may keep in hand beyond the task it asks for
MAX_PAGES = 8  # pages of candidates read per lane before moving on
EXACT_LEFT = 2_000
"""Up to this many items left, every next task counts them (an indexed COUNT of that many is
a fraction of a millisecond)."""
LEFT_TTL_S = 5.0
"""Above it the count costs time in proportion (5 ms at 50k items on SQLite, request units on
Cosmos), so each process counts a project again at most this often, and in between takes off
what the caller submitted since (so a labeler's own figure moves with each answer)."""


def next_task(
    deps: Deps, *, project_id: str, actor: str, size: int = 1, holding: Sequence[str] = ()
) -> Task:
    """The caller's next `size` items. Items in `holding` (leased to the caller and still in
    hand: shown, prefetched or being submitted) are not handed out again, so a client may keep
    a few tasks ahead; any other lease the caller holds comes back first (a reload)."""
    project = labeling_project(deps, project_id, actor)
    check_page_size(project.task_type, size)
    if len(set(holding)) > MAX_HOLDING:
        raise InvalidInput.one("holding", f"at most {MAX_HOLDING} items in hand")
    now = deps.clock.now()
    until = now + deps.task_lease
    kept = set(holding)
    held = Items(deps, project.id).leased_to(actor, size + len(kept))
    held = [d for d in held if d.id not in kept][:size]
    if held:
        return Task(_renew(deps, held, actor, until, now), until)
    taken: list[Item] = []
    cluster: str | None = None
    for window in _candidates(deps, project, actor, size):
        while window and len(taken) < size:
            document = window.pop(0)
            lane_cluster = cluster_of(lane_of(document))
            if lane_cluster is not None and cluster not in (None, lane_cluster):
                continue  # a page holds one cluster
            item = _claim(deps, document, actor, until, now)
            if item is None:
                _spread(window, deps.random)
                continue
            taken.append(item)
            cluster = cluster or lane_cluster
        if len(taken) == size:
            break
    return Task(taken, until if taken else None)


@dataclass(frozen=True)
class Progress:
    today: int
    """The caller's submissions today (UTC)."""
    left: int
    """Items still to label in the project (those in someone's hands included)."""


def labeling_progress(deps: Deps, *, project_id: str, actor: str) -> Progress:
    """What a labeler's "N today · M left" shows: their counter and one indexed COUNT, which
    a large project answers from a count at most `LEFT_TTL_S` old (less the caller's own
    submissions since): counting a million items for each task would cost more than the
    task."""
    found = deps.documents.container(STATS).get(project_id, actor)
    stats = load(ActorStats, found) if found else None
    daily = stats.daily if stats else {}
    today = daily.get(deps.clock.now().strftime("%Y-%m-%d"), 0)
    submitted = stats.submitted if stats else 0
    key = (id(deps.documents), project_id, actor)
    with _LEFT_LOCK:
        counted = _LEFT.get(key)
    if counted is not None and counted.left > EXACT_LEFT and time.monotonic() < counted.until:
        return Progress(today, max(0, counted.left - (submitted - counted.submitted)))
    left = Items(deps, project_id).count_in_state(ItemState.UNLABELED)
    with _LEFT_LOCK:
        if len(_LEFT) >= _LEFT_MAX:
            _LEFT.clear()
        _LEFT[key] = _Counted(left, submitted, time.monotonic() + LEFT_TTL_S)
    return Progress(today, left)


@dataclass(frozen=True)
class _Counted:
    left: int
    submitted: int
    """The caller's submissions when `left` was counted."""
    until: float


_LEFT: dict[tuple[int, str, str], _Counted] = {}
"""The last count of each (store, project, labeler) in this process: only a cache."""
_LEFT_MAX = 10_000
_LEFT_LOCK = threading.Lock()


def renew_leases(deps: Deps, *, project_id: str, actor: str, item_ids: list[str]) -> Task:
    """Extend the caller's leases on `item_ids` (a labeler still at work)."""
    labeling_project(deps, project_id, actor)
    now = deps.clock.now()
    until = now + deps.task_lease
    renewed = []
    for item_id in dict.fromkeys(item_ids):
        current = read_item(deps, project_id, item_id)
        lease = current.value.lease
        if lease is None or lease.user != actor:
            raise Conflict(
                f"item {item_id!r} is no longer leased to you (the lease expired and the item "
                "went back to the queue): ask for the next task"
            )
        document = deps.documents.container(ITEMS).upsert(
            leased(current.value, actor, until, now).to_doc(), if_match=current.etag
        )
        renewed.append(load(Item, document))
    return Task(renewed, until)


def release_leases(deps: Deps, *, project_id: str, actor: str, item_ids: list[str]) -> int:
    """Give leased items back to the queue unanswered; returns how many were the caller's."""
    member_project(deps, project_id, actor, Role.LABELER, Role.REVIEWER)
    released_count = 0
    for item_id in dict.fromkeys(item_ids):
        current = read_item(deps, project_id, item_id)
        if current.value.lease is None or current.value.lease.user != actor:
            continue
        after = released(current.value, deps.clock.now())
        deps.documents.container(ITEMS).upsert(after.to_doc(), if_match=current.etag)
        released_count += 1
    return released_count


def expire_leases(deps: Deps) -> int:
    """The sweep (a timer): leases past their time go back to the queue; returns how many."""
    now = deps.clock.now()
    items = deps.documents.container(ITEMS)
    count = 0
    for project in Projects(deps).live():
        for document in Items(deps, project.id).leases_expired(now):
            after = released(load(Item, document), now)
            count += write_over(items, after, document.etag) is not None  # else renewed, answered
    return count


def _candidates(deps: Deps, project: Project, actor: str, size: int) -> Iterator[list[Document]]:
    """Windows of items the caller may take, best first; never one they already answered."""
    window = max(WINDOW, size * 2)
    items = Items(deps, project.id)
    yield from items.assigned_to(actor, window, MAX_PAGES)
    for documents in items.awaiting_consensus(window, MAX_PAGES):
        yield [d for d in documents if not answered_by(d, actor)]
    yield from items.in_public_lanes(window, MAX_PAGES)


def _spread(window: list[Document], chance: Random) -> None:
    """After losing a race, rotate the rest of the window by a random amount: labelers asking
    at the same moment then spread over it instead of all racing for the next item, while an
    uncontended queue keeps its exact order."""
    if len(window) > 1:
        turn = chance.randrange(len(window))
        window[:] = window[turn:] + window[:turn]


def _claim(
    deps: Deps, document: Document, actor: str, until: datetime, now: datetime
) -> Item | None:
    item = load(Item, document)
    if item.state is not ItemState.UNLABELED or item.lease is not None:
        return None
    taken = write_over(
        deps.documents.container(ITEMS), leased(item, actor, until, now), document.etag
    )
    return None if taken is None else taken.value  # None: another labeler took it first


def _renew(
    deps: Deps, documents: list[Document], actor: str, until: datetime, now: datetime
) -> list[Item]:
    container = deps.documents.container(ITEMS)
    renewed = (
        write_over(container, leased(load(Item, d), actor, until, now), d.etag) for d in documents
    )
    return [r.value for r in renewed if r is not None]  # the others: swept or answered meanwhile
