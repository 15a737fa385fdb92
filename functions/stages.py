"""Service Bus triggers, one per stage queue. Each decodes the message and hands it to the
stage; an exception makes the host abandon the message, so Service Bus retries it and, after
the queue's max delivery count, dead-letters it."""

from __future__ import annotations

import json

import azure.functions as func

from core import telemetry
from core.domain.messages import (
    EXPORT_RUN,
    IMPORT_RUN,
    INGEST_BATCH,
    INGEST_DERIVATIVES,
    PROJECT_INIT,
)
from core.domain.relabel import LABEL_CLASSES
from core.services import stages
from core.services.dead_letters import record_final_failure
from functions import context

bp = func.Blueprint()  # type: ignore[no-untyped-call]  # the SDK leaves it untyped


def _body(message: func.ServiceBusMessage) -> dict[str, object]:
    body = json.loads(message.get_body())
    if not isinstance(body, dict):
        raise ValueError(f"message {message.message_id} is not a JSON object")
    return body


def run_message(queue: str, message: func.ServiceBusMessage) -> None:
    """The stage, in a span that continues the sender's trace (its message properties). On the
    last allowed delivery a failure's own error is kept first, for the owner who finds the
    message dead-lettered (the host gives only a generic reason)."""
    try:
        body = _body(message)
        with telemetry.stage_span(queue, body, message.application_properties):
            stages.handle(context.deps(), queue, body)
    except Exception as error:
        if (message.delivery_count or 0) >= stages.QUEUE_SPECS[queue].max_delivery_count:
            record_final_failure(
                context.deps(), queue=queue, message_id=message.message_id or "", error=error
            )
        raise


@bp.function_name("project_init")
@bp.service_bus_queue_trigger(arg_name="message", queue_name=PROJECT_INIT, connection="SERVICEBUS")
def project_init(message: func.ServiceBusMessage) -> None:
    run_message(PROJECT_INIT, message)


@bp.function_name("ingest_batch")
@bp.service_bus_queue_trigger(arg_name="message", queue_name=INGEST_BATCH, connection="SERVICEBUS")
def ingest_batch(message: func.ServiceBusMessage) -> None:
    run_message(INGEST_BATCH, message)


@bp.function_name("ingest_derivatives")
@bp.service_bus_queue_trigger(
    arg_name="message", queue_name=INGEST_DERIVATIVES, connection="SERVICEBUS"
)
def ingest_derivatives(message: func.ServiceBusMessage) -> None:
    run_message(INGEST_DERIVATIVES, message)


@bp.function_name("label_classes")
@bp.service_bus_queue_trigger(arg_name="message", queue_name=LABEL_CLASSES, connection="SERVICEBUS")
def label_classes(message: func.ServiceBusMessage) -> None:
    run_message(LABEL_CLASSES, message)


@bp.function_name("export_run")
@bp.service_bus_queue_trigger(arg_name="message", queue_name=EXPORT_RUN, connection="SERVICEBUS")
def export_run(message: func.ServiceBusMessage) -> None:
    run_message(EXPORT_RUN, message)


@bp.function_name("import_run")
@bp.service_bus_queue_trigger(arg_name="message", queue_name=IMPORT_RUN, connection="SERVICEBUS")
def import_run(message: func.ServiceBusMessage) -> None:
    run_message(IMPORT_RUN, message)
