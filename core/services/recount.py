"""The recount sweep (a timer in both runtimes): each live project's dashboard counters checked
against its items, and what a crash between an item's write and its counter's cut off corrected
(`core.domain.progress.reconcile` says when a gap is safe to correct).

A scan reads every item of a project, so it runs only when something changed since the last one
(an item updated, a counter moved) or a gap waits, and at most once per DUTY times the last
scan's length: a project of a million items costs a pass of seconds every few minutes while it
is busy, none while it is idle, and the dashboard itself never reads an item."""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.domain.errors import Conflict, PreconditionFailed
from core.domain.progress import (
    ANSWERS,
    RECOUNT,
    ActorStats,
    Recount,
    Scan,
    item_figures,
    reconcile,
)
from core.ports import Deps, Query
from core.store.collections import STATS, load, scan
from core.store.repositories.items import Items
from core.store.repositories.projects import Projects

log = logging.getLogger(__name__)

DUTY = 10
"""A project is scanned at most once per this many times its last scan's length."""
TICK = 0.9
"""A project scanned less than this part of the interval ago waits: timers fire a little early
or late, and a scan must not skip every other one for a few milliseconds."""
PAGE = 1000


@dataclass(frozen=True)
class Counters:
    """A project's counter documents: the actors' and the sweep's."""

    actors: list[ActorStats]
    recount: Recount | None
    recount_etag: str | None
    fingerprint: str
    """Changes whenever any actor's counter document is written."""
    legacy: bool
    """Some actor's counters predate the held figures (answers, skips)."""


def read_counters(deps: Deps, project_id: str) -> Counters:
    actors: list[ActorStats] = []
    recount: Recount | None = None
    recount_etag: str | None = None
    marks: list[str] = []
    for document in scan(deps.documents.container(STATS), project_id, Query(page_size=PAGE)):
        if document.id == RECOUNT:
            recount, recount_etag = load(Recount, document), document.etag
            continue
        actors.append(load(ActorStats, document))
        marks.append(f"{document.id}\n{document.etag}")
    fingerprint = hashlib.sha256("\n".join(sorted(marks)).encode()).hexdigest()[:32]
    legacy = any(ANSWERS not in stats.model_fields_set for stats in actors)
    return Counters(actors, recount, recount_etag, fingerprint, legacy)


def recount(deps: Deps, *, every: timedelta) -> int:
    """The sweep over every live project; returns how many counts it corrected."""
    corrected = 0
    # An initializing project has no labels yet, only items arriving.
    for document in Projects(deps).started():
        try:
            corrected += recount_project(deps, project_id=document.id, every=every)
        except Exception:  # one project's failure must not stop the others
            log.exception("recounting project %s failed", document.id)
    return corrected


def recount_project(deps: Deps, *, project_id: str, every: timedelta) -> int:
    """One project's counters checked against its items, when due; returns how many counts it
    corrected. `every` is the sweep's interval, and the time a change's counter may take to
    land after its item. Two sweeps at once are safe: the sweep's document is etag-checked."""
    before = read_counters(deps, project_id)
    state = before.recount or Recount(project_id=project_id, legacy=before.legacy)
    now = deps.clock.now()
    if not _due(deps, state, before.fingerprint, now, every):
        return 0
    started = time.monotonic()
    truth, items = _truth(deps, project_id)
    seconds = time.monotonic() - started
    after = read_counters(deps, project_id)
    quiet = after.fingerprint == before.fingerprint and not _changed(deps, project_id, now - every)
    updated, fix = reconcile(state, Scan(before.actors, truth, now, quiet), settle=every)
    updated = updated.model_copy(
        update={"actors": before.fingerprint, "scan_s": round(seconds, 3), "items": items}
    )
    container = deps.documents.container(STATS)
    try:
        if before.recount_etag is None:
            container.create(updated.to_doc())
        else:
            container.upsert(updated.to_doc(), if_match=before.recount_etag)
    except (Conflict, PreconditionFailed):
        return 0  # another sweep wrote meanwhile; its reading stands
    if fix:
        log.warning("project %s: counters corrected against its items: %s", project_id, fix)
    return sum(abs(n) for n in fix.values())


def _due(deps: Deps, state: Recount, fingerprint: str, now: datetime, every: timedelta) -> bool:
    if state.scanned_at is None:
        return True
    elapsed = (now - state.scanned_at).total_seconds()
    if 0 <= elapsed < max(TICK * every.total_seconds(), DUTY * state.scan_s):
        return False
    if state.pending or fingerprint != state.actors:
        return True
    # An item changed a little before the last scan began may have been read before its change
    # on a store whose clocks differ by a little: look back one interval more.
    return _changed(deps, state.project_id, state.scanned_at - every)


def _changed(deps: Deps, project_id: str, since: datetime) -> bool:
    return Items(deps, project_id).changed_since(since) > 0


def _truth(deps: Deps, project_id: str) -> tuple[Counter[str], int]:
    truth: Counter[str] = Counter()
    items = 0
    for document in Items(deps, project_id).every(PAGE):
        truth.update(item_figures(document.body))
        items += 1
    return truth, items
