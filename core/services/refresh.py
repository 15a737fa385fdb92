"""New files after initialization: a blob event or an upload registers one blob in every
project that takes it, and a reconciliation sweep (a timer on Azure, every couple of seconds
locally) catches what events missed by listing blobs newer than each project's watermark.

All of it goes through `save_new`, so an event delivered twice, or a sweep that overlaps an
event, makes one item."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

from core.domain.datasets import DataSource, upload_prefix
from core.domain.ingest import REFRESH, RefreshState
from core.domain.items import Item
from core.domain.projects import Project, ProjectStatus
from core.ports import BlobInfo, Deps, Query, Where
from core.services.collections import INGEST, ITEMS, PROJECTS, load, scan
from core.services.ingestion import readable, request_derivatives, save_new, source_of
from core.services.projects import load_project
from core.services.registration import Skipped, register

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
        project_id = rest.split("/", 1)[0]
        found = deps.documents.container(PROJECTS).get(project_id, project_id)
        if found is not None:
            project = load_project(found)
            if _takes_uploads(project):
                yield project
    query = Query(
        where=(
            Where("dataset.container", "=", container),
            Where("incrementalRefresh", "=", True),
            Where("status", "in", LIVE),
            Where("deletedAt", "missing"),
        ),
        page_size=100,
    )
    for document in scan(deps.documents.container(PROJECTS), None, query):
        project = load_project(document)
        if project.dataset.matches(name) and readable(deps, project):
            yield project


def reconcile(deps: Deps) -> int:
    """The sweep over every live project that refreshes; returns how many items it added."""
    query = Query(where=(Where("status", "in", LIVE), Where("deletedAt", "missing")), page_size=100)
    added = 0
    for document in scan(deps.documents.container(PROJECTS), None, query):
        project = load_project(document)
        wanted = project.incremental_refresh or project.dataset.source is DataSource.UPLOAD
        if wanted and readable(deps, project):
            try:
                added += refresh_project(deps, project)
            except Exception:  # one project's failure must not stop the others
                log.exception("refreshing project %s failed", project.id)
    return added


def refresh_project(deps: Deps, project: Project) -> int:
    ingest = deps.documents.container(INGEST)
    found = ingest.get(project.id, REFRESH)
    state = (
        load(RefreshState, found)
        if found
        else RefreshState(project_id=project.id, refreshed_at=deps.clock.now())
    )
    source = source_of(deps, project)
    since = state.watermark - OVERLAP if state.watermark is not None else None
    newest = state.watermark
    added = 0
    candidates: list[BlobInfo] = []
    for blob in deps.blobs.list(source.container, source.root + project.dataset.listing_prefix):
        newest = blob.last_modified if newest is None else max(newest, blob.last_modified)
        if (
            (since is None or blob.last_modified > since)
            and (project.id, blob.name, blob.etag) not in _SEEN
            and project.dataset.matches(source.path(blob.name))
        ):
            candidates.append(blob)
            if len(candidates) >= 500:
                added += _register_many(deps, project, candidates)
                candidates = []
    added += _register_many(deps, project, candidates)
    updated = state.model_copy(
        update={
            "watermark": newest,
            "refreshed_at": deps.clock.now(),
            "registered": state.registered + added,
        }
    )
    ingest.upsert(updated.to_doc())
    return added


def _register_many(deps: Deps, project: Project, blobs: list[BlobInfo]) -> int:
    if not blobs or _at_cap(deps, project):
        return 0
    source = source_of(deps, project)
    now = deps.clock.now()
    items = [
        outcome
        for blob in blobs
        for outcome in register(
            deps.blobs, project, source, blob.name, now=now, size=blob.size, etag=blob.etag
        )
        if isinstance(outcome, Item)
    ]
    saved = _save(deps, project, items)
    if len(_SEEN) + len(blobs) > _SEEN_MAX:
        _SEEN.clear()
    _SEEN.update(dict.fromkeys((project.id, blob.name, blob.etag) for blob in blobs))
    return saved


def register_for(deps: Deps, project: Project, name: str) -> list[Item]:
    """Register blob `name` of `project`'s container in that project alone (a migration
    registers the items its file names before the initialization lists the rest)."""
    exists = deps.blobs.exists(source_of(deps, project).container, name)
    return _register(deps, project, name) if exists else []


def _register(deps: Deps, project: Project, name: str) -> list[Item]:
    if _at_cap(deps, project):
        return []
    source = source_of(deps, project)
    outcomes = list(register(deps.blobs, project, source, name, now=deps.clock.now()))
    items = [o for o in outcomes if isinstance(o, Item)]
    _save(deps, project, items)
    for skipped in (o for o in outcomes if isinstance(o, Skipped)):
        log.info("project %s skipped %s: %s", project.id, name, skipped.reason)
    return items


def _save(deps: Deps, project: Project, items: list[Item]) -> int:
    cap = project.ingest.item_cap
    if cap is not None:
        items = items[: max(cap - deps.documents.container(ITEMS).count(project.id), 0)]
    created = save_new(deps, project.id, items)
    if created:
        request_derivatives(deps, project, items)
    return created


def _at_cap(deps: Deps, project: Project) -> bool:
    cap = project.ingest.item_cap
    return cap is not None and deps.documents.container(ITEMS).count(project.id) >= cap


def _live(project: Project) -> bool:
    return not project.is_deleted and project.status.value in LIVE


def _takes_uploads(project: Project) -> bool:
    """An upload project registers its files from the moment it exists: one sent before its
    initialization has run is the same item the initialization's listing finds (ids are
    hashes of paths), and the uploader is told about it now."""
    starting = not project.is_deleted and project.status is ProjectStatus.INITIALIZING
    return project.dataset.source is DataSource.UPLOAD and (_live(project) or starting)
