"""Registering a project's files as items."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from core.domain.datasets import dataset_root
from core.domain.items import Item, ItemState, item_id
from core.domain.media_types import accepts, extension
from core.domain.projects import Project, ProjectStatus, transition
from core.domain.task_types import MediaKind
from core.ports import Deps
from core.services import audit
from core.services.collections import ITEMS, PROJECTS
from core.services.projects import get_project

BATCH = 500
SYSTEM = "loupe"


def initialize_project(deps: Deps, *, project_id: str) -> None:
    """The init stage: register every file of the dataset, then start the project running.

    Idempotent: items have stable ids and ranks, and a project already past initialization is
    left alone, so a repeated delivery changes nothing."""
    current = get_project(deps, project_id=project_id)
    project = current.value
    if project.status is not ProjectStatus.INITIALIZING:
        return
    items = deps.documents.container(ITEMS)
    batch: list[dict[str, object]] = []
    registered = 0
    for item in _dataset_items(deps, project):
        batch.append(item.to_doc())
        if len(batch) >= BATCH:
            registered += items.upsert_many(batch)
            batch.clear()
    registered += items.upsert_many(batch)
    running = transition(project, ProjectStatus.RUNNING, now=deps.clock.now())
    # If the owner changed the project meanwhile, this raises; the redelivery starts over.
    deps.documents.container(PROJECTS).upsert(running.to_doc(), if_match=current.etag)
    audit.record(
        deps,
        project_id=project_id,
        actor=SYSTEM,
        action="project.initialized",
        subject=project_id,
        after={"items": registered},
    )


def _dataset_items(deps: Deps, project: Project) -> Iterator[Item]:
    container, root = dataset_root(
        project.dataset, project_id=project.id, upload_container=deps.data_container
    )
    kind = project.task_type.media
    now = deps.clock.now()
    prefix = root + project.dataset.listing_prefix
    for blob in deps.blobs.list(container, prefix):
        path = blob.name[len(root) :]
        if not project.dataset.matches(path) or not accepts(kind, path):
            continue
        if kind is MediaKind.TEXT and extension(path) != ".txt":
            continue  # one item per row (.csv, .tsv, .jsonl) comes with the ingestion issue
        identity = item_id(project.id, path)
        item = Item(
            id=identity,
            project_id=project.id,
            path=path,
            kind=kind,
            rank=_rank(identity),
            created_at=now,
            updated_at=now,
        )
        yield _with_text(deps, item, container, blob.name) if kind is MediaKind.TEXT else item


def _rank(identity: str) -> float:
    """A stable pseudo-random position in the queue: the shuffle survives redelivery."""
    return int(hashlib.sha256(identity.encode()).hexdigest()[:13], 16) / float(1 << 52)


def _with_text(deps: Deps, item: Item, container: str, name: str) -> Item:
    try:
        text = deps.blobs.get(container, name).decode("utf-8")
    except UnicodeDecodeError as error:
        return item.model_copy(
            update={"state": ItemState.ERROR, "error": f"not UTF-8 text: {error.reason}"}
        )
    return item.model_copy(update={"text": text})
