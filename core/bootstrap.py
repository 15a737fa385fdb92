"""The one composition root: Settings in, the dependency set out.

Each port picks its adapter on its own, so a laptop can, say, keep SQLite but use Azurite.
Azure SDKs are imported only when their service is configured: the embedded runtime starts
without touching them.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from functools import cache
from random import Random
from typing import Any

from core.adapters.clock import SystemClock
from core.domain.links import LinkSigner
from core.ports import (
    BlobStore,
    Clock,
    Deps,
    DocumentStore,
    EventPublisher,
    RandomIds,
    WorkQueue,
)
from core.services.stages import QUEUE_SPECS
from core.settings import Settings


def build(settings: Settings, *, clock: Clock | None = None) -> Deps:
    clock = clock or SystemClock()
    if not (settings.uses_cosmos and settings.uses_blob_storage and settings.uses_service_bus):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Deps(
        documents=_documents(settings),
        blobs=_blobs(settings),
        queue=_queue(settings, clock),
        clock=clock,
        ids=RandomIds(),
        random=Random(),  # noqa: S311 (spreading load, not secrecy)
        data_container=settings.data_container,
        dataset_roots=settings.dataset_roots,
        events=_events(settings),
        links=_links(settings),
        task_lease=timedelta(seconds=settings.task_lease_s),
        item_cap=settings.item_cap,
        export_part_items=settings.export_part_items,
        gpu_profile=settings.gpu_profile,
    )


def signing_secret(settings: Settings) -> bytes:
    """The key for the API's signed blob links: LOUPE_SECRET, or one made once and kept in the data
    folder (readable by its owner only), so URLs stay valid across restarts."""
    if settings.secret:
        return settings.secret.encode()
    path = settings.data_dir / "secret"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def _links(settings: Settings) -> LinkSigner:
    """The API's own blob links, for stores without links of their own. Blob Storage signs
    its own (SAS), so an Azure deployment needs no key of Loupe's, nor a folder to keep one."""
    if settings.uses_blob_storage:
        return LinkSigner(secrets.token_bytes(32), settings.base_url)
    return LinkSigner(signing_secret(settings), settings.base_url)


def _documents(settings: Settings) -> DocumentStore:
    if not settings.uses_cosmos:
        from core.adapters.local.documents import SqliteDocumentStore
        from core.store.collections import ALL

        store = SqliteDocumentStore(settings.data_dir / "documents.sqlite")
        store.prepare(ALL)  # before any unit asks for one (see SqliteDocumentStore.container)
        return store
    from azure.cosmos import CosmosClient

    from core.adapters.azure.documents import CosmosDocumentStore

    if settings.cosmos_connection_string:  # emulators only
        client = CosmosClient.from_connection_string(
            settings.cosmos_connection_string,
            connection_verify=False,
            enable_endpoint_discovery=False,
        )
    else:
        assert settings.cosmos_endpoint is not None
        client = CosmosClient(settings.cosmos_endpoint, credential=_credential())
    return CosmosDocumentStore(client, database=settings.cosmos_database)


def _blobs(settings: Settings) -> BlobStore:
    if not settings.uses_blob_storage:
        from core.adapters.local.blobs import FolderBlobStore

        return FolderBlobStore(settings.data_dir / "blobs")
    from azure.storage.blob import BlobServiceClient

    from core.adapters.azure.blobs import AzureBlobStore

    if settings.storage_connection_string:
        service = BlobServiceClient.from_connection_string(settings.storage_connection_string)
    else:
        assert settings.storage_blob_uri is not None
        service = BlobServiceClient(settings.storage_blob_uri, credential=_credential())
    return AzureBlobStore(service)


def _events(settings: Settings) -> EventPublisher:
    if not settings.uses_service_bus:
        from core.adapters.local.events import JsonlEventLog

        return JsonlEventLog(settings.data_dir / "events.jsonl")
    from core.adapters.azure.events import ServiceBusTopicPublisher

    return ServiceBusTopicPublisher(_servicebus(settings), settings.events_topic)


def _queue(settings: Settings, clock: Clock) -> WorkQueue:
    if not settings.uses_service_bus:
        from core.adapters.local.queue import SqliteWorkQueue

        return SqliteWorkQueue(settings.data_dir / "queue.sqlite", clock, QUEUE_SPECS)
    from core.adapters.azure.queue import ServiceBusWorkQueue

    return ServiceBusWorkQueue(_servicebus(settings), clock)


def _servicebus(settings: Settings) -> Any:
    from azure.servicebus import ServiceBusClient

    if settings.servicebus_connection_string:
        return ServiceBusClient.from_connection_string(settings.servicebus_connection_string)
    assert settings.servicebus_namespace is not None
    return ServiceBusClient(settings.servicebus_namespace, credential=_credential())


@cache
def _credential() -> Any:
    # Managed identity on Azure, the developer's az login elsewhere; never keys.
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()
