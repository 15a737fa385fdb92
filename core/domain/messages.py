"""Work-queue messages. Each names what it works on by id, never carries the data itself, so a
handler always reads the current state and a repeated delivery does no harm."""

from __future__ import annotations

from core.domain.model import DomainModel, Stamp

PROJECT_INIT = "project-init"


class InitializeProject(DomainModel):
    project_id: str


INGEST_BATCH = "ingest-batch"
INGEST_DERIVATIVES = "ingest-derivatives"


class BatchEntry(DomainModel):
    """One listed blob; `limit` caps the records a row file (.csv/.tsv/.jsonl) may register."""

    name: str
    limit: int | None = None
    size: int | None = None
    etag: str | None = None


class IngestBatch(DomainModel):
    """Register these blobs of one initialization `run` as items; `batch` numbers it."""

    project_id: str
    run: str
    batch: int
    entries: list[BatchEntry]


class MakeDerivatives(DomainModel):
    """Render display images and thumbnails for these items."""

    project_id: str
    item_ids: list[str]


EXPORT_RUN = "export-run"


class RunExport(DomainModel):
    """Write export job `export_id` to the blob store."""

    project_id: str
    export_id: str


ASSIST_TRAIN = "assist-train"
"""The ML-assist queue: on Azure it starts the GPU Container Apps job (KEDA, from zero)."""


class RunAssist(DomainModel):
    """Run ML-assist cycle `cycle` of a project: featurize, train, validate, infer, cluster."""

    project_id: str
    cycle: str


class StageFailure(DomainModel):
    """Why a message's last allowed delivery failed. The Functions host dead-letters it with
    Service Bus's generic `MaxDeliveryCountExceeded`; this keeps the stage's own error for the
    owner who looks at the dead letter."""

    id: str
    """The message id."""
    queue: str
    reason: str
    description: str
    at: Stamp
