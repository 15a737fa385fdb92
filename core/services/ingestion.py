"""Initialization: the init stage lists the dataset and fans out batches on the work queue;
each batch registers its blobs as items and records its own small result; the batch that
completes the count (or the lister, if it finishes last) starts the project running.

Every step is idempotent: item ids and ranks are stable, existing items are never
overwritten, results are keyed by (run, batch), and the status change carries an etag."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from core.domain.datasets import check_dataset_allowed, dataset_root
from core.domain.errors import Forbidden, NotFound
from core.domain.ingest import (
    BatchResult,
    IngestPlan,
    IngestProgress,
    RefreshState,
    Tally,
    batch_id,
    tally,
)
from core.domain.items import Item, ItemState
from core.domain.media_types import extension
from core.domain.messages import (
    INGEST_BATCH,
    INGEST_DERIVATIVES,
    BatchEntry,
    IngestBatch,
    MakeDerivatives,
)
from core.domain.projects import Project, ProjectStatus, Role, require_role, transition
from core.domain.task_types import MediaKind
from core.media.text import ROW_FILES
from core.ports import Deps
from core.services import audit, capacity
from core.services.projects import get_project, project_target, status_changed
from core.services.registration import (
    OVER_CAP,
    Skipped,
    Source,
    count_records,
    register,
    skip_reason,
)
from core.services.series import save_series
from core.store.collections import ITEMS, load
from core.store.repositories.ingest import Ingest
from core.store.repositories.items import Items
from core.store.update import update

SYSTEM = "loupe"
BATCH_FILES = 500
BATCH_NAME_BYTES = 96 << 10
"""A batch message stays well under Service Bus's 256 KB (names may be 1 KB each)."""
ID_QUERY = 500


def source_of(deps: Deps, project: Project) -> Source:
    """Where the project's files are; `Forbidden` if the deployment no longer lets its
    dataset be read (LOUPE_DATASETS changed since it was created)."""
    check_dataset_allowed(
        project.dataset, roots=deps.dataset_roots, data_container=deps.data_container
    )
    container, root = dataset_root(
        project.dataset, project_id=project.id, upload_container=deps.data_container
    )
    return Source(container, root)


def readable(deps: Deps, project: Project) -> bool:
    """Whether the deployment still lets the project's dataset be read (see `source_of`)."""
    try:
        source_of(deps, project)
    except Forbidden:
        return False
    return True


def initialize_project(deps: Deps, *, project_id: str) -> None:
    """The init stage: list the dataset in name order and send one batch per page."""
    project = get_project(deps, project_id=project_id).value
    if project.status is not ProjectStatus.INITIALIZING:
        return
    run = _run_id(project)
    ingest = Ingest(deps, project_id)
    started = deps.clock.now()
    if (before := ingest.plan()) is not None and before.run == run:
        started = before.started_at  # a redelivery: same run, same start
    plan = IngestPlan(project_id=project_id, run=run, started_at=started)
    ingest.save(plan)
    skipped: Counter[str] = Counter()
    for number, entries in enumerate(_pages(deps, project, skipped)):
        message = IngestBatch(project_id=project_id, run=run, batch=number, entries=entries)
        deps.queue.send(INGEST_BATCH, message.to_doc(), message_id=f"{run}-{number}")
        listed = plan.listed + len(entries)
        plan = plan.model_copy(update={"listed": listed, "batches": number + 1})
        ingest.save(_with_skipped(plan, skipped))  # progress while listing
    ingest.save(_with_skipped(plan, skipped).model_copy(update={"complete": True}))
    finish_if_done(deps, project_id=project_id, run=run)


def _pages(deps: Deps, project: Project, skipped: Counter[str]) -> Iterator[list[BatchEntry]]:
    source = source_of(deps, project)
    cap = project.ingest.item_cap
    taken = 0
    page: list[BatchEntry] = []
    size = 0
    for blob in deps.blobs.list(source.container, source.root + project.dataset.listing_prefix):
        path = source.path(blob.name)
        if not project.dataset.matches(path):
            continue
        if (reason := skip_reason(project, path)) is not None:
            skipped[reason] += 1
            continue
        limit = None
        if cap is not None:
            if taken >= cap:
                skipped[OVER_CAP] += 1
                continue
            rows = extension(path) in ROW_FILES
            limit = (
                min(count_records(deps.blobs, project, source, path), cap - taken) if rows else None
            )
            taken += limit if limit is not None else 1
        page.append(BatchEntry(name=blob.name, limit=limit, size=blob.size, etag=blob.etag))
        size += len(blob.name.encode()) + 64
        if len(page) >= BATCH_FILES or size >= BATCH_NAME_BYTES:
            yield page
            page, size = [], 0
    if page:
        yield page


def _with_skipped(plan: IngestPlan, skipped: Counter[str]) -> IngestPlan:
    return plan.model_copy(update={"skipped": tally(0, 0, skipped.items())})


def ingest_batch(deps: Deps, *, batch: IngestBatch) -> None:
    """Register one batch's blobs; record its result; maybe finish the initialization."""
    try:
        project = get_project(deps, project_id=batch.project_id).value
    except NotFound:
        return  # deleted meanwhile: nothing to do
    source = source_of(deps, project)
    now = deps.clock.now()
    outcomes = [
        outcome
        for entry in batch.entries
        for outcome in register(
            deps.blobs,
            project,
            source,
            entry.name,
            now=now,
            limit=entry.limit,
            size=entry.size,
            etag=entry.etag,
        )
    ]
    items = [o for o in outcomes if isinstance(o, Item)]
    items, _, refused = save_capped(deps, project, items)
    failed = sum(1 for item in items if item.state is ItemState.ERROR)
    skips = [(o.reason, o.count) for o in outcomes if isinstance(o, Skipped)]
    if refused:
        skips.append((OVER_CAP, refused))
    result = BatchResult(
        id=batch_id(batch.run, batch.batch),
        project_id=project.id,
        run=batch.run,
        batch=batch.batch,
        tally=tally(len(items) - failed, failed, skips),
        done_at=now,
    )
    Ingest(deps, project.id).save(result)
    request_derivatives(deps, project, items, message_id=f"{batch.run}-{batch.batch}-d")
    finish_if_done(deps, project_id=project.id, run=batch.run)


def save_capped(deps: Deps, project: Project, items: list[Item]) -> tuple[list[Item], int, int]:
    """Store the new ones among `items` as far as the project's cap leaves room
    (`core.services.capacity`); (the items it has of them now, in order, how many it stored,
    how many new ones it refused). Items it had already are no new ones: a batch delivered
    again refuses nothing."""
    left = capacity.room(deps, project)
    refused = 0
    ids = list(dict.fromkeys(item.id for item in items))  # the slices of a series: one item
    if len(ids) > left:
        have = Items(deps, project.id).existing(ids)
        new = [identity for identity in ids if identity not in have]
        kept = have | set(new[:left])
        refused = len(new) - len(kept - have)
        items = [item for item in items if item.id in kept]
    created = save_new(deps, project.id, items)
    capacity.added(project.id, created)
    return items, created, refused


def save_new(deps: Deps, project_id: str, items: Sequence[Item]) -> int:
    """Store the items that do not exist yet; existing ones (maybe labeled since) stay as
    they are, but for DICOM series, which take the slices that arrived. Returns how many
    were new.

    The store decides what exists at the moment of writing (`create_many`), not a read
    before it: the same file registered twice at once (an upload and the watcher's event)
    would otherwise write the second copy over an item a labeler leased in between."""
    container = deps.documents.container(ITEMS)
    pending = [item for item in items if item.series is None]
    created = save_series(deps, project_id, (item for item in items if item.series is not None))
    for start in range(0, len(pending), ID_QUERY):  # short holds of the write lock
        created += container.create_many(i.to_doc() for i in pending[start : start + ID_QUERY])
    return created


def request_derivatives(
    deps: Deps, project: Project, items: Iterable[Item], *, message_id: str | None = None
) -> None:
    ids = [i.id for i in items if i.kind is MediaKind.IMAGE and i.state is not ItemState.ERROR]
    for start in range(0, len(ids), BATCH_FILES):
        message = MakeDerivatives(project_id=project.id, item_ids=ids[start : start + BATCH_FILES])
        suffix = f"-{start // BATCH_FILES}" if message_id else ""
        deps.queue.send(
            INGEST_DERIVATIVES,
            message.to_doc(),
            message_id=f"{message_id}{suffix}" if message_id else None,
        )


def finish_if_done(deps: Deps, *, project_id: str, run: str) -> None:
    ingest = Ingest(deps, project_id)
    plan = ingest.plan()
    if plan is None or not plan.complete or plan.run != run:
        return
    if ingest.results_count(run) >= plan.batches:
        _start_running(deps, project_id, plan)


def _start_running(deps: Deps, project_id: str, plan: IngestPlan) -> None:
    ingest = Ingest(deps, project_id)

    def running(project: Project) -> Project | None:
        if project.is_deleted:
            raise NotFound(f"project {project_id!r} does not exist or was deleted")
        if project.status is not ProjectStatus.INITIALIZING:
            return None
        if ingest.refresh_state() is None:
            # No watermark yet: the first sweep compares the whole listing with the items, so
            # a file added while the lister was past its place is caught.
            ingest.save(RefreshState(project_id=project_id, refreshed_at=deps.clock.now()))
        return transition(project, ProjectStatus.RUNNING, now=deps.clock.now())

    # An owner's edit may race this; the etag decides, then update() reads again.
    if (done := update(project_target(deps, project_id), running)) is not None and done.written:
        status_changed(deps, done.after.value, before=ProjectStatus.INITIALIZING, actor=SYSTEM)
        progress = _sum(deps, project_id, plan)
        audit.record(
            deps,
            project_id=project_id,
            actor=SYSTEM,
            action="project.initialized",
            subject=project_id,
            after={"items": progress.registered + progress.failed, **progress.to_doc()},
        )


def ingestion_progress(deps: Deps, *, project_id: str, actor: str) -> IngestProgress:
    """For reviewers and owners: file names and their errors are not a labeler's business."""
    project = get_project(deps, project_id=project_id).value
    require_role(project, actor, Role.REVIEWER)
    ingest = Ingest(deps, project_id)
    plan = ingest.plan()
    state = ingest.refresh_state()
    counts = _sum(deps, project_id, plan) if plan is not None else Tally()
    done = ingest.results(plan.run) if plan is not None else []
    # Items arrive by the init stage's batches, uploads, new-file events and refresh sweeps:
    # the items themselves are the count (two indexed COUNT queries), never the batches alone.
    items = Items(deps, project_id)
    failed = items.count_in_state(ItemState.ERROR)
    registered = items.count() - failed
    listed = plan.listed + plan.skipped.skipped if plan else 0
    room = capacity.capacity(deps, project, registered + failed)
    if room.refused:  # files refused after initialization (events, uploads, the sweep)
        counts = counts.plus(tally(0, 0, [(OVER_CAP, room.refused)]))
    return IngestProgress(
        status=project.status.value,
        total=max(listed, registered + failed + counts.skipped),
        registered=registered,
        failed=failed,
        skipped=counts.skipped,
        skipped_reasons=counts.skipped_reasons,
        item_cap=room.cap,
        capacity_warning=room.warning,
        batches=plan.batches if plan else 0,
        batches_done=len(done),
        listing_complete=plan.complete if plan else False,
        started_at=plan.started_at if plan else None,
        last_refreshed_at=last_refresh(deps, project_id=project_id),
        refreshed_items=state.registered if state else 0,
    )


def last_refresh(deps: Deps, *, project_id: str) -> datetime | None:
    """When the project's data last changed: the refresh sweep's record, or, before the
    first sweep, when its newest item was registered."""
    if (state := Ingest(deps, project_id).refresh_state()) is not None:
        return state.refreshed_at
    newest = Items(deps, project_id).newest_created()
    return load(Item, newest).created_at if newest is not None else None


def _sum(deps: Deps, project_id: str, plan: IngestPlan) -> Tally:
    total = plan.skipped
    for result in Ingest(deps, project_id).results(plan.run):
        total = total.plus(result.tally)
    return total


def _run_id(project: Project) -> str:
    """Stable across redeliveries of one initialization; new when it is started again."""
    basis = f"{project.id}\n{project.updated_at.isoformat()}"
    return hashlib.sha256(basis.encode()).hexdigest()[:12]
