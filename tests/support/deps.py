"""A dependency set made of the in-memory adapters, for unit and API tests."""

from __future__ import annotations

from datetime import UTC, datetime

from core.adapters.memory import ManualClock, MemoryBlobStore, MemoryDocumentStore, MemoryWorkQueue
from core.ports import Deps
from core.services.stages import QUEUE_SPECS


def memory_deps(clock: ManualClock | None = None) -> Deps:
    clock = clock or ManualClock(datetime(2026, 11, 1, 9, 0, tzinfo=UTC))
    return Deps(
        documents=MemoryDocumentStore(),
        blobs=MemoryBlobStore(clock),
        queue=MemoryWorkQueue(clock, QUEUE_SPECS),
        clock=clock,
    )
