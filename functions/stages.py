"""Service Bus triggers, one per stage queue. Each decodes the message and hands it to the
stage; an exception makes the host abandon the message, so Service Bus retries it and, after
the queue's max delivery count, dead-letters it."""

from __future__ import annotations

import json

import azure.functions as func

from core.domain.messages import INGEST_BATCH, INGEST_DERIVATIVES, PROJECT_INIT
from core.domain.relabel import LABEL_CLASSES
from core.services import stages
from functions import context

bp = func.Blueprint()  # type: ignore[no-untyped-call]  # the SDK leaves it untyped


def _body(message: func.ServiceBusMessage) -> dict[str, object]:
    body = json.loads(message.get_body())
    if not isinstance(body, dict):
        raise ValueError(f"message {message.message_id} is not a JSON object")
    return body


@bp.function_name("project_init")
@bp.service_bus_queue_trigger(arg_name="message", queue_name=PROJECT_INIT, connection="SERVICEBUS")
def project_init(message: func.ServiceBusMessage) -> None:
    stages.handle(context.deps(), PROJECT_INIT, _body(message))


@bp.function_name("ingest_batch")
@bp.service_bus_queue_trigger(arg_name="message", queue_name=INGEST_BATCH, connection="SERVICEBUS")
def ingest_batch(message: func.ServiceBusMessage) -> None:
    stages.handle(context.deps(), INGEST_BATCH, _body(message))


@bp.function_name("ingest_derivatives")
@bp.service_bus_queue_trigger(
    arg_name="message", queue_name=INGEST_DERIVATIVES, connection="SERVICEBUS"
)
def ingest_derivatives(message: func.ServiceBusMessage) -> None:
    stages.handle(context.deps(), INGEST_DERIVATIVES, _body(message))


@bp.function_name("label_classes")
@bp.service_bus_queue_trigger(arg_name="message", queue_name=LABEL_CLASSES, connection="SERVICEBUS")
def label_classes(message: func.ServiceBusMessage) -> None:
    stages.handle(context.deps(), LABEL_CLASSES, _body(message))
