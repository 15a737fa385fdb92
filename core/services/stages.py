"""The work-queue stages: each queue's settings and the one service that handles its messages.

Both runtimes dispatch through here: the Service Bus triggers in `functions/stages.py` and the
embedded runtime's workers, so a stage behaves the same on Azure and on a laptop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.domain.messages import (
    ASSIST_TRAIN,
    BLOB_CREATED,
    EXPORT_RUN,
    IMPORT_RUN,
    INGEST_BATCH,
    INGEST_DERIVATIVES,
    PROJECT_INIT,
    BlobCreatedEvent,
    IngestBatch,
    InitializeProject,
    MakeDerivatives,
    RunAssist,
    RunExport,
    RunImport,
)
from core.domain.relabel import LABEL_CLASSES, RewriteLabels
from core.ports import Deps, QueueSpec
from core.services.derivatives import make_derivatives
from core.services.exports import run_export
from core.services.import_jobs import run_import
from core.services.ingestion import ingest_batch, initialize_project
from core.services.label_classes import rewrite_labels
from core.services.migration_jobs import is_migration, run_migration
from core.services.refresh import register_blob


@dataclass(frozen=True)
class Stage:
    spec: QueueSpec
    handle: Callable[[Deps, dict[str, Any]], None]


def _initialize(deps: Deps, body: dict[str, Any]) -> None:
    initialize_project(deps, project_id=InitializeProject.model_validate(body).project_id)


def _ingest_batch(deps: Deps, body: dict[str, Any]) -> None:
    ingest_batch(deps, batch=IngestBatch.model_validate(body))


def _derivatives(deps: Deps, body: dict[str, Any]) -> None:
    make_derivatives(deps, message=MakeDerivatives.model_validate(body))


def _label_classes(deps: Deps, body: dict[str, Any]) -> None:
    rewrite_labels(deps, message=RewriteLabels.model_validate(body))


def _export(deps: Deps, body: dict[str, Any]) -> None:
    run_export(deps, message=RunExport.model_validate(body))


def _import(deps: Deps, body: dict[str, Any]) -> None:
    message = RunImport.model_validate(body)
    if is_migration(message):
        run_migration(deps, message=message)
    else:
        run_import(deps, message=message)


def _blob_created(deps: Deps, body: dict[str, Any]) -> None:
    """Register a new blob in every project that takes it (ids are hashes of the path, so a
    repeated event is a no-op). Only BlobCreated events are subscribed; others are ignored."""
    event = BlobCreatedEvent.model_validate(body)
    if event.event_type == "Microsoft.Storage.BlobCreated":
        container, name = event.blob()
        register_blob(deps, container=container, name=name)


def _assist(deps: Deps, body: dict[str, Any]) -> None:
    # Imported here: it needs onnxruntime and scikit-learn, which only the assist worker has.
    from core.services.assist_cycle import run_assist

    run_assist(deps, message=RunAssist.model_validate(body))


# In priority order: the embedded runtime's workers take the first queue that has work, so
# registering files goes before rendering their thumbnails.
STAGES: dict[str, Stage] = {
    PROJECT_INIT: Stage(
        QueueSpec(PROJECT_INIT, lock_seconds=300, max_delivery_count=5), _initialize
    ),
    INGEST_BATCH: Stage(
        QueueSpec(INGEST_BATCH, lock_seconds=300, max_delivery_count=5), _ingest_batch
    ),
    LABEL_CLASSES: Stage(
        QueueSpec(LABEL_CLASSES, lock_seconds=300, max_delivery_count=5), _label_classes
    ),
    # A new file on Azure (Event Grid → Service Bus); locally nothing sends here.
    BLOB_CREATED: Stage(
        QueueSpec(BLOB_CREATED, lock_seconds=60, max_delivery_count=10), _blob_created
    ),
    # Someone waits on an export; thumbnails can wait for it.
    EXPORT_RUN: Stage(QueueSpec(EXPORT_RUN, lock_seconds=300, max_delivery_count=3), _export),
    # Someone waits on an import too: a label file put into storage, checked, then written.
    IMPORT_RUN: Stage(QueueSpec(IMPORT_RUN, lock_seconds=300, max_delivery_count=3), _import),
    INGEST_DERIVATIVES: Stage(
        QueueSpec(INGEST_DERIVATIVES, lock_seconds=300, max_delivery_count=5), _derivatives
    ),
    # Minutes of CPU or GPU work: the assist worker renews its lock while a cycle runs.
    ASSIST_TRAIN: Stage(QueueSpec(ASSIST_TRAIN, lock_seconds=300, max_delivery_count=3), _assist),
}

QUEUE_SPECS = {name: stage.spec for name, stage in STAGES.items()}

ASSIST_QUEUES = frozenset({ASSIST_TRAIN})
"""Served by the assist worker alone (`loupe worker assist`; on Azure the GPU Container Apps
job): neither the Function App nor the embedded runtime's stage workers take them."""
STAGE_WORKER_SPECS = [spec for name, spec in QUEUE_SPECS.items() if name not in ASSIST_QUEUES]
ASSIST_WORKER_SPECS = [QUEUE_SPECS[name] for name in sorted(ASSIST_QUEUES)]


def handle(deps: Deps, queue: str, body: dict[str, Any]) -> None:
    """Run the stage for one message; errors propagate so the queue retries, then dead-letters."""
    STAGES[queue].handle(deps, body)
