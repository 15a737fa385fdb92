"""New files after initialization: a blob event, a folder watcher's batch or an upload
registers blobs in every project that takes them, and a rare reconciliation sweep (each
project every `LOUPE_RECONCILE_S`) catches what events missed by listing only the blobs that
changed since its last sweep began.

All of it goes through `save_new`, so an event delivered twice, or a sweep that overlaps an
event, makes one item."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.domain.datasets import UPLOADS, DataSource, upload_prefix
from core.domain.ingest import RefreshState
from core.domain.items import Item, item_id
from core.domain.media_types import extension
from core.domain.projects import Project, ProjectStatus
from core.media.text import ROW_FILES
from core.ports import Deps
from core.services import capacity
from core.services.ingestion import (
    ID_QUERY,
    readable,
    request_derivatives,
    save_capped,
    source_of,
)
from core.services.projects import load_project
from core.services.registration import Skipped, register
from core.store.collections import PROJECTS
from core.store.repositories.ingest import Ingest
from core.store.repositories.items import Items
from core.store.repositories.projects import Projects

log = logging.getLogger("loupe.refresh")

OVERLAP = timedelta(minutes=5)
"""Blobs this much older than the watermark are looked at again: writers' clocks differ, and a
listing may not show a blob the moment it is written. Re-registering is free (idempotent)."""
LIVE = [ProjectStatus.RUNNING.value, ProjectStatus.PAUSED.value]

_SEEN: dict[tuple[str, str, str], None] = {}
"""(project, blob, etag) this process has registered. The watermark stays at the newest blob,
so without this every sweep would read the last `OVERLAP`'s blobs again, every couple of
seconds, until a newer one came: a 100k-row file, or a whole bulk upload, re-read forever in
the API process. An unchanged blob needs reading once; a changed one has a new etag. Only a
cache: a fresh process reads each once more, to the same result."""
_SEEN_MAX = 500_000
BATCH = 500


def register_blob(deps: Deps, *, container: str, name: str) -> list[Item]:
    """Register a new blob in every live project whose dataset takes it; returns the items
    it made (or already had)."""
    made: list[Item] = []
    for project in matching_projects(deps, container=container, name=name):
        made.extend(_register(deps, project, name))
    return made


def matching_projects(deps: Deps, *, container: str, name: str) -> Iterator[Project]:
    """Upload projects by their folder; blob projects by one indexed query on the container."""
    _, _, rest = name.partition("/")
    if container == deps.data_container and name.startswith(upload_prefix(rest.split("/")[0])):
        yield from _upload_project(deps, rest.split("/", 1)[0])
    for project in _blob_projects(deps, container):
        if project.dataset.matches(name):
            yield project


def reconcile(deps: Deps, *, every: timedelta = timedelta(0)) -> int:
    """The sweep over every live project that refreshes, each at most once per `every` (the
    events register new files at once; the sweep catches what they missed); returns how many
    items it added."""
    added = 0
    for document in Projects(deps).working():
        project = load_project(document)
        wanted = project.incremental_refresh or project.dataset.source is DataSource.UPLOAD
        if wanted and readable(deps, project):
            try:
                added += refresh_project(deps, project, every=every)
            except Exception:  # one project's failure must not stop the others
                log.exception("refreshing project %s failed", project.id)
    return added


def refresh_project(deps: Deps, project: Project, *, every: timedelta = timedelta(0)) -> int:
    """List what changed since the last sweep began (less `OVERLAP`, for a store whose clock
    lags ours; before any, since the newest blob an older sweep saw), or everything before
    the first sweep; register what is new. Nothing when the last sweep is under `every` old."""
    ingest = Ingest(deps, project.id)
    now = deps.clock.now()
    state = ingest.refresh_state() or RefreshState(project_id=project.id, refreshed_at=now)
    if state.swept_at is not None and now < state.swept_at + every:
        return 0
    since = state.swept_at if state.swept_at is not None else state.watermark
    newest, added = _register_listed(deps, project, since, state.watermark)
    updated = state.model_copy(
        update={
            "watermark": newest,
            "swept_at": now,
            "refreshed_at": deps.clock.now(),
            "registered": state.registered + added,
        }
    )
    ingest.save(updated)
    return added


def register_blobs(deps: Deps, *, container: str, names: Sequence[str]) -> int:
    """Many new blobs of one container at once (a folder watcher's batch): each live project
    that takes some registers them in batches, skipping those it has; returns items added."""
    projects = {p.id: p for p in _taking(deps, container, names)}
    added = 0
    for project in projects.values():
        source = source_of(deps, project)
        mine = [
            Entry(name)
            for name in names
            if name.startswith(source.root) and project.dataset.matches(source.path(name))
        ]
        made = sum(
            _register_many(deps, project, mine[start : start + BATCH])
            for start in range(0, len(mine), BATCH)
        )
        if made:
            _count_refreshed(deps, project.id, made)
        added += made
    return added


def _taking(deps: Deps, container: str, names: Sequence[str]) -> Iterator[Project]:
    """The live projects that may take some of `names` (upload folders, then blob datasets)."""
    uploads = {
        name.split("/", 2)[1]
        for name in names
        if container == deps.data_container and name.startswith(UPLOADS) and name.count("/") >= 2
    }
    for project_id in sorted(uploads):
        yield from _upload_project(deps, project_id)
    yield from _blob_projects(deps, container)


def _upload_project(deps: Deps, project_id: str) -> Iterator[Project]:
    """The upload project of that id, if it takes uploads now."""
    found = deps.documents.container(PROJECTS).get(project_id, project_id)
    if found is not None and _takes_uploads(project := load_project(found)):
        yield project


def _blob_projects(deps: Deps, container: str) -> Iterator[Project]:
    """The live, readable projects that refresh from `container`: one indexed query."""
    for document in Projects(deps).refreshing_from(container):
        project = load_project(document)
        if readable(deps, project):
            yield project


def _count_refreshed(deps: Deps, project_id: str, added: int) -> None:
    ingest = Ingest(deps, project_id)
    now = deps.clock.now()
    state = ingest.refresh_state() or RefreshState(project_id=project_id, refreshed_at=now)
    updated = {"refreshed_at": now, "registered": state.registered + added}
    ingest.save(state.model_copy(update=updated))


@dataclass(frozen=True)
class Entry:
    """A blob to register, with what a listing already told about it."""

    name: str
    size: int | None = None
    etag: str | None = None


def _register_listed(
    deps: Deps, project: Project, since: datetime | None, newest: datetime | None
) -> tuple[datetime | None, int]:
    """Register the project's files changed since `since` (less `OVERLAP`; all, if None) in
    batches; returns the newest change time seen (at least `newest`) and the items added."""
    source = source_of(deps, project)
    prefix = source.root + project.dataset.listing_prefix
    listing = (
        deps.blobs.list(source.container, prefix)
        if since is None
        else deps.blobs.list_since(source.container, prefix, since - OVERLAP)
    )
    added = 0
    candidates: list[Entry] = []
    for blob in listing:
        newest = blob.last_modified if newest is None else max(newest, blob.last_modified)
        if (project.id, blob.name, blob.etag) not in _SEEN and project.dataset.matches(
            source.path(blob.name)
        ):
            candidates.append(Entry(blob.name, blob.size, blob.etag))
            if len(candidates) >= BATCH:
                added += _register_many(deps, project, candidates)
                candidates = []
    added += _register_many(deps, project, candidates)
    return newest, added


def _register_many(deps: Deps, project: Project, blobs: list[Entry]) -> int:
    if not blobs:
        return 0
    have = _existing(deps, project, [b.name for b in blobs])
    if capacity.room(deps, project) == 0:
        _refuse(deps, project, [b for b in blobs if b.name not in have])
        return 0
    source = source_of(deps, project)
    now = deps.clock.now()
    items = [
        outcome
        for blob in blobs
        if blob.name not in have
        for outcome in register(
            deps.blobs, project, source, blob.name, now=now, size=blob.size, etag=blob.etag
        )
        if isinstance(outcome, Item)
    ]
    saved = _save(deps, project, items)
    if len(_SEEN) + len(blobs) > _SEEN_MAX:
        _SEEN.clear()
    _SEEN.update(dict.fromkeys((project.id, b.name, b.etag) for b in blobs if b.etag is not None))
    return saved


def _existing(deps: Deps, project: Project, names: list[str]) -> set[str]:
    """The names whose one item the project has already: not read again (a row file makes
    several items and is read again, so that appended rows arrive)."""
    source = source_of(deps, project)
    ids = {
        item_id(project.id, source.path(name)): name
        for name in names
        if extension(name) not in ROW_FILES
    }
    return {ids[found] for found in Items(deps, project.id).existing(list(ids), ID_QUERY)}


def register_for(deps: Deps, project: Project, name: str) -> list[Item]:
    """Register blob `name` of `project`'s container in that project alone (a migration
    registers the items its file names before the initialization lists the rest)."""
    exists = deps.blobs.exists(source_of(deps, project).container, name)
    return _register(deps, project, name) if exists else []


def _register(deps: Deps, project: Project, name: str) -> list[Item]:
    if capacity.room(deps, project) == 0:
        if not _existing(deps, project, [name]):
            _refuse(deps, project, [Entry(name)])
        return []
    source = source_of(deps, project)
    outcomes = list(register(deps.blobs, project, source, name, now=deps.clock.now()))
    items = [o for o in outcomes if isinstance(o, Item)]
    _save(deps, project, items)
    for skipped in (o for o in outcomes if isinstance(o, Skipped)):
        log.info("project %s skipped %s: %s", project.id, name, skipped.reason)
    return items


def _save(deps: Deps, project: Project, items: list[Item]) -> int:
    items, created, refused = save_capped(deps, project, items)
    capacity.refuse(deps, project, refused)
    if refused:
        log.warning("project %s is at its item cap: %d new item(s) refused", project.id, refused)
    if created:
        request_derivatives(deps, project, items)
    return created


def _refuse(deps: Deps, project: Project, blobs: list[Entry]) -> None:
    """Files that would be new items of a project at its cap: counted once per process (the
    next sweep lists them again), never read."""
    fresh = [b for b in blobs if (project.id, b.name, b.etag) not in _SEEN]
    capacity.refuse(deps, project, len(fresh))
    if fresh:
        log.warning("project %s is at its item cap: %d file(s) refused", project.id, len(fresh))
    _SEEN.update(dict.fromkeys((project.id, b.name, b.etag) for b in fresh if b.etag is not None))


def _live(project: Project) -> bool:
    return not project.is_deleted and project.status.value in LIVE


def _takes_uploads(project: Project) -> bool:
    """An upload project registers its files from the moment it exists: one sent before its
    initialization has run is the same item the initialization's listing finds (ids are
    hashes of paths), and the uploader is told about it now."""
    starting = not project.is_deleted and project.status is ProjectStatus.INITIALIZING
    return project.dataset.source is DataSource.UPLOAD and (_live(project) or starting)
