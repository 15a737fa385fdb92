"""A stage's writes of its job document over the version it read, and no other.

Two deliveries of one message at once (a lock lost, a redelivery while the first still runs)
both do the work, which is written so that doing it twice is harmless; only the first records
the job. The other must not record, say, a failure over the job done because the file the
first removed is gone: its writes are refused (`Overtaken`) and it stops."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, BinaryIO

from core.domain.errors import InvalidImport, LoupeError, Violation
from core.domain.imports import IMPORT_FILES, ImportJob, ImportStatus, MigrationJob
from core.ports import Deps
from core.services.imports import sha256_of
from core.services.spool import spooled
from core.store.collections import IMPORTS
from core.store.update import write_over

NOT_DECLARED = "its bytes are not the file whose SHA-256 was declared: put the file again"


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

    def fail(self, job: ImportJob | MigrationJob, error: Exception) -> None:
        """`keep` the job failed: our words for a `LoupeError`, the type for anything else."""
        reason = str(error) if isinstance(error, LoupeError) else f"{type(error).__name__}: {error}"
        now = self.deps.clock.now()
        update = {"status": ImportStatus.FAILED, "error": reason[:2000], "finished_at": now}
        self.keep(job.model_copy(update=update))

    def end(self, job: ImportJob | MigrationJob) -> None:
        """Applied or refused: recorded, and its file removed (sending it again puts it
        again); nothing, if another delivery moved on."""
        update: dict[str, Any] = {"finished_at": self.deps.clock.now()}
        with contextlib.suppress(Overtaken):
            self.save(job.model_copy(update=update))
            self.deps.blobs.delete(IMPORT_FILES, job.source or "")


@contextlib.contextmanager
def declared_file(deps: Deps, job: ImportJob | MigrationJob) -> Iterator[BinaryIO]:
    """The job's uploaded file, if its bytes are the file whose SHA-256 was declared."""
    with spooled(deps.blobs, IMPORT_FILES, job.source or "") as file:
        if sha256_of(file) != job.sha256:
            raise InvalidImport([Violation("file", NOT_DECLARED)])
        yield file
