"""Dependency sets for tests: in memory (unit and API tests), local, and Azure on emulators."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.adapters.memory import (
    ManualClock,
    MemoryBlobStore,
    MemoryDocumentStore,
    MemoryEventLog,
    MemoryWorkQueue,
)
from core.domain.datasets import DatasetRoot
from core.ports import Deps, Ids, RandomIds
from core.services.stages import QUEUE_SPECS

DATASETS = tuple(DatasetRoot(c) for c in ("lake", "docs", "images", "large", "small", "other"))
"""The containers the tests' blob datasets read, allowed as a deployment would list them."""


def memory_deps(clock: ManualClock | None = None, *, ids: Ids | None = None) -> Deps:
    clock = clock or ManualClock(datetime(2026, 11, 1, 9, 0, tzinfo=UTC))
    return Deps(
        ids=ids or RandomIds(),
        documents=MemoryDocumentStore(),
        blobs=MemoryBlobStore(clock),
        queue=MemoryWorkQueue(clock, QUEUE_SPECS),
        clock=clock,
        events=MemoryEventLog(),
        dataset_roots=DATASETS,
    )


@pytest.fixture(params=["memory", "local", "azure"])
def deps(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deps]:
    """The same use cases on every adapter set: what runs on a laptop runs on Azure."""
    made = {
        "memory": memory_deps,
        "local": lambda: local_deps(tmp_path),
        "azure": lambda: azure_deps(request),
    }[request.param]()
    yield made
    made.close()


def azure_deps(request: pytest.FixtureRequest, clock: ManualClock | None = None) -> Deps:
    """The Azure adapters: Cosmos on its emulator, Blob on Azurite, Service Bus over the fake
    client (it has no emulator outside Docker)."""
    from core.adapters.azure.blobs import AzureBlobStore
    from core.adapters.azure.documents import CosmosDocumentStore
    from core.adapters.azure.events import ServiceBusTopicPublisher
    from core.adapters.azure.queue import ServiceBusWorkQueue
    from tests.support.fake_servicebus import FakeServiceBusClient

    clock = clock or ManualClock(datetime(2026, 11, 1, 9, 0, tzinfo=UTC))
    cosmos = request.getfixturevalue("cosmos_emulator")
    azurite = request.getfixturevalue("azurite")
    servicebus = FakeServiceBusClient(clock, QUEUE_SPECS)
    return Deps(
        documents=CosmosDocumentStore(cosmos.client(), database=f"t{uuid.uuid4().hex[:12]}"),
        blobs=AzureBlobStore(azurite.service_client()),
        queue=ServiceBusWorkQueue(servicebus, clock),
        clock=clock,
        events=ServiceBusTopicPublisher(servicebus, "project-events"),
        dataset_roots=DATASETS,
    )


def local_deps(folder: Path, clock: ManualClock | None = None) -> Deps:
    from core.adapters.local.blobs import FolderBlobStore
    from core.adapters.local.documents import SqliteDocumentStore
    from core.adapters.local.events import JsonlEventLog
    from core.adapters.local.queue import SqliteWorkQueue

    clock = clock or ManualClock(datetime(2026, 11, 1, 9, 0, tzinfo=UTC))
    return Deps(
        documents=SqliteDocumentStore(folder / "documents.sqlite"),
        blobs=FolderBlobStore(folder / "blobs"),
        queue=SqliteWorkQueue(folder / "queue.sqlite", clock, QUEUE_SPECS),
        clock=clock,
        events=JsonlEventLog(folder / "events.jsonl"),
        dataset_roots=DATASETS,
    )
