"""A stage's writes of its job document over the version it read, and no other.

Two deliveries of one message at once (a lock lost, a redelivery while the first still runs)
both do the work, which is written so that doing it twice is harmless; only the first records
the job. The other must not record, say, a failure over the job done because the file the
first removed is gone: its writes are refused (`Overtaken`) and it stops."""

from __future__ import annotations

import contextlib
from typing import Any

from core.domain.imports import IMPORT_FILES, ImportJob, MigrationJob
from core.ports import Deps
from core.services.collections import IMPORTS
from core.services.update import write_over


class Overtaken(Exception):
    """The job changed since this delivery read it."""


class JobRecord:
    def __init__(self, deps: Deps, etag: str) -> None:
        self.deps, self.etag = deps, etag

    def save(self, job: ImportJob | MigrationJob) -> None:
        saved = write_over(self.deps.documents.container(IMPORTS), job, self.etag)
        if saved is None:
            raise Overtaken
        self.etag = saved.etag

    def keep(self, job: ImportJob | MigrationJob) -> None:
        """Record an ending that was not the file's doing, unless another delivery moved on."""
        with contextlib.suppress(Overtaken):
            self.save(job)

    def end(self, job: ImportJob | MigrationJob) -> None:
        """Applied or refused: recorded, and its file removed (sending it again puts it
        again); nothing, if another delivery moved on."""
        update: dict[str, Any] = {"finished_at": self.deps.clock.now()}
        with contextlib.suppress(Overtaken):
            self.save(job.model_copy(update=update))
            self.deps.blobs.delete(IMPORT_FILES, job.source or "")
