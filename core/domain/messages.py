"""Work-queue messages. Each names what it works on by id, never carries the data itself, so a
handler always reads the current state and a repeated delivery does no harm."""

from __future__ import annotations

import re

from pydantic import ConfigDict

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


IMPORT_RUN = "import-run"


class RunImport(DomainModel):
    """Check and apply import (or migration) job `job_id` from its file in storage; `attempt`
    is the job's: a message of an earlier attempt, delivered again, does nothing."""

    project_id: str
    job_id: str
    attempt: int = 1
    start: int = 0
    """The first item of the file's window this message writes (`import_jobs.WINDOW`)."""


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


BLOB_CREATED = "blob-created"
"""Event Grid delivers the storage account's BlobCreated events here (with its own identity):
on Azure, how a new file reaches Loupe. Locally the folder watcher registers files itself."""

_BLOB_SUBJECT = re.compile(r"/blobServices/default/containers/([^/]+)/blobs/(.+)", re.DOTALL)


class BlobCreatedEvent(DomainModel):
    """An Event Grid event (EventGridSchema) as the queue holds it: its subject names the blob,
    `/blobServices/default/containers/<container>/blobs/<name>`, the name as written."""

    model_config = ConfigDict(extra="ignore")  # topic, data, eventTime…: the subject suffices

    id: str
    event_type: str
    subject: str

    def blob(self) -> tuple[str, str]:
        """(container, name), or ValueError for a subject that names no blob."""
        match = _BLOB_SUBJECT.fullmatch(self.subject)
        if match is None:
            raise ValueError(f"event {self.id}: subject {self.subject!r} names no blob")
        return match[1], match[2]
