"""The embedded runtime's folder watcher: the reconciliation sweep, every couple of seconds.

A file dropped into `.data/blobs/<container>/...` (or copied there by any tool) is a blob like
an uploaded one; the sweep lists each refreshing project's folder for files newer than its
watermark and registers them through the same service as Azure's blob events."""

from __future__ import annotations

from core.local.scheduler import Job
from core.ports import Deps
from core.services.refresh import reconcile

SWEEP_EVERY_S = 2.0


def ingest_jobs(deps: Deps, every_s: float = SWEEP_EVERY_S) -> list[Job]:
    def sweep() -> None:
        reconcile(deps)

    return [Job("ingest-sweep", every_s, sweep)]
