"""The ingestion triggers as the Functions host calls them: a blob event (as Event Grid delivers
it to the blob-created Service Bus queue), the refresh timer, and the two ingestion queues."""

from __future__ import annotations

import json
from types import ModuleType

import azure.functions as func
import pytest

from core.domain.datasets import upload_prefix
from core.domain.messages import BLOB_CREATED, INGEST_BATCH, INGEST_DERIVATIVES
from core.domain.projects import ProjectSettings, ProjectStatus
from core.services import projects
from core.store.collections import INGEST, ITEMS
from functions import context
from tests.functions.test_function_app import bindings, functions_of
from tests.support.labeling import creator
from tests.support.media import image_bytes


@pytest.fixture
def app(function_app: ModuleType) -> ModuleType:
    return function_app


def uploads_project() -> str:
    settings = ProjectSettings.model_validate(
        {"name": "Pics", "taskType": "image_multiclass", "labelClasses": [{"name": "x"}]}
    )
    creator(context.deps(), "ann")
    return projects.create_project(context.deps(), settings=settings, actor="ann").value.id


def run_queue(queue: str, trigger: object) -> int:
    deps, handled = context.deps(), 0
    while messages := deps.queue.receive(queue, max_messages=10):
        for message in messages:
            body = json.dumps(message.body).encode()
            trigger(func.ServiceBusMessage(body=body))  # type: ignore[operator]
            deps.queue.complete(message)
            handled += 1
    return handled


def blob_event(
    container: str, name: str, event_type: str = "Microsoft.Storage.BlobCreated"
) -> bytes:
    """A BlobCreated event in EventGridSchema, as Event Grid puts it in a Service Bus message
    body (one event a message), with the fields Azure sends."""
    return json.dumps(
        {
            "topic": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/"
            "storageAccounts/st",
            "subject": f"/blobServices/default/containers/{container}/blobs/{name}",
            "eventType": event_type,
            "id": "831e1650-001e-001b-66ab-eeb76e069631",
            "data": {
                "api": "PutBlob",
                "contentType": "image/png",
                "contentLength": 524288,
                "blobType": "BlockBlob",
                "url": f"https://st.blob.core.windows.net/{container}/{name}",
                "sequencer": "00000000000004420000000000028963",
            },
            "dataVersion": "",
            "metadataVersion": "1",
            "eventTime": "2026-12-03T12:00:00.0000000Z",
        }
    ).encode()


def test_ingestion_bindings(app: ModuleType) -> None:
    functions = functions_of(app)
    (event,) = bindings(functions["ingest_blob"])
    # An ordinary Service Bus trigger: no blob binding, so no blob is read to learn its name.
    assert event["type"] == "serviceBusTrigger"
    assert (event["queueName"], event["connection"]) == (BLOB_CREATED, "SERVICEBUS")
    (timer,) = bindings(functions["refresh_sweep"])
    assert timer["type"] == "timerTrigger" and timer["schedule"] == "0 */2 * * * *"
    for name, queue in (("ingest_batch", INGEST_BATCH), ("ingest_derivatives", INGEST_DERIVATIVES)):
        (trigger,) = bindings(functions[name])
        assert trigger["type"] == "serviceBusTrigger"
        assert (trigger["queueName"], trigger["connection"]) == (queue, "SERVICEBUS")


def test_init_batches_derivatives_then_blob_events_and_the_timer(app: ModuleType) -> None:
    functions = {n: f.get_user_function() for n, f in functions_of(app).items()}
    deps = context.deps()
    project_id = uploads_project()
    folder = upload_prefix(project_id)
    deps.blobs.put("data", folder + "first.png", image_bytes())
    assert run_queue("project-init", functions["project_init"]) == 1
    assert run_queue(INGEST_BATCH, functions["ingest_batch"]) == 1
    assert run_queue(INGEST_DERIVATIVES, functions["ingest_derivatives"]) == 1
    assert projects.get_project(deps, project_id=project_id).value.status is ProjectStatus.RUNNING

    data = image_bytes("JPEG")
    deps.blobs.put("data", folder + "event one.jpg", data)
    event = func.ServiceBusMessage(body=blob_event("data", folder + "event one.jpg"))
    functions["ingest_blob"](event)
    functions["ingest_blob"](event)  # Event Grid and Service Bus deliver at least once
    assert deps.documents.container(ITEMS).count(project_id) == 2

    deps.blobs.put("data", folder + "quiet.png", image_bytes())  # no event for this one
    functions["refresh_sweep"](object())  # the timer passes a TimerRequest; the body ignores it
    assert deps.documents.container(ITEMS).count(project_id) == 3
    assert deps.documents.container(INGEST).get(project_id, "refresh") is not None


def test_a_blob_event_outside_every_project_is_a_no_op(app: ModuleType) -> None:
    trigger = functions_of(app)["ingest_blob"].get_user_function()
    trigger(func.ServiceBusMessage(body=blob_event("data", "nowhere/x.png")))
    trigger(
        func.ServiceBusMessage(body=blob_event("data", "x.png", "Microsoft.Storage.BlobDeleted"))
    )
    with pytest.raises(ValueError, match="names no blob"):
        trigger(func.ServiceBusMessage(body=blob_event("data", "").replace(b"/blobs/", b"/")))
