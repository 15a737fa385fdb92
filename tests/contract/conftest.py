"""One contract suite per port, run against every adapter.

Each fixture is parametrized by adapter name; the Azure adapters run on real emulators
(Azurite for Blob, @vercel/cosmosdb-server for Cosmos) started once per session by
`tests.support.emulators`, and the Service Bus adapter over a fake client at its SDK seam.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.adapters.memory import ManualClock, MemoryBlobStore, MemoryDocumentStore, MemoryWorkQueue
from core.ports import BlobStore, DocumentStore, QueueSpec, WorkQueue

QUEUE_SPECS = {
    "work": QueueSpec("work", lock_seconds=30, max_delivery_count=3),
    "other": QueueSpec("other", lock_seconds=30, max_delivery_count=3),
}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 1, 1, tzinfo=UTC))


@pytest.fixture(params=["memory", "local", "azure"])
def documents(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DocumentStore]:
    store: DocumentStore
    if request.param == "memory":
        store = MemoryDocumentStore()
    elif request.param == "local":
        from core.adapters.local.documents import SqliteDocumentStore

        store = SqliteDocumentStore(tmp_path / "documents.sqlite")
    else:
        from core.adapters.azure.documents import CosmosDocumentStore

        cosmos = request.getfixturevalue("cosmos_emulator")
        store = CosmosDocumentStore(cosmos.client(), database=f"t{uuid.uuid4().hex[:12]}")
    yield store
    store.close()


@pytest.fixture(params=["memory", "local", "azure"])
def blobs(
    request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock
) -> Iterator[BlobStore]:
    store: BlobStore
    if request.param == "memory":
        store = MemoryBlobStore(clock)
    elif request.param == "local":
        from core.adapters.local.blobs import FolderBlobStore

        store = FolderBlobStore(tmp_path / "blobs")
    else:
        from core.adapters.azure.blobs import AzureBlobStore

        azurite = request.getfixturevalue("azurite")
        store = AzureBlobStore(azurite.service_client())
    yield store
    store.close()


@pytest.fixture(params=["memory", "local", "azure"])
def queue(
    request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock
) -> Iterator[WorkQueue]:
    q: WorkQueue
    if request.param == "memory":
        q = MemoryWorkQueue(clock, QUEUE_SPECS)
    elif request.param == "local":
        from core.adapters.local.queue import SqliteWorkQueue

        q = SqliteWorkQueue(tmp_path / "queue.sqlite", clock, QUEUE_SPECS)
    else:
        from core.adapters.azure.queue import ServiceBusWorkQueue
        from tests.support.fake_servicebus import FakeServiceBusClient

        q = ServiceBusWorkQueue(FakeServiceBusClient(clock, QUEUE_SPECS), clock)
    yield q
    q.close()
