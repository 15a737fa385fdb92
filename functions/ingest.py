"""New blobs: Event Grid delivers each BlobCreated event of the storage account to the
`blob-created` Service Bus queue with its own managed identity (infra/bicep/modules/events.bicep),
and this ordinary Service Bus trigger registers the blob in every project that takes it. No
webhook and no key; the blob itself is never read here, only the event that names it. Other
places are caught by the refresh timer's sweep."""

from __future__ import annotations

import azure.functions as func

from core.domain.messages import BLOB_CREATED
from functions.stages import run_message

bp = func.Blueprint()  # type: ignore[no-untyped-call]  # the SDK leaves it untyped


@bp.function_name("ingest_blob")
@bp.service_bus_queue_trigger(arg_name="message", queue_name=BLOB_CREATED, connection="SERVICEBUS")
def ingest_blob(message: func.ServiceBusMessage) -> None:
    run_message(BLOB_CREATED, message)
