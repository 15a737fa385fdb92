"""Service Bus triggers, one per stage queue. Each decodes the message and hands it to the
stage; an exception makes the host abandon the message, so Service Bus retries it and, after
the queue's max delivery count, dead-letters it."""

from __future__ import annotations

import json

import azure.functions as func

from core.domain.messages import PROJECT_INIT
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
