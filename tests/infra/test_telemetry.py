"""Telemetry: off unless configured; one trace from an HTTP request through a Service Bus
message to the stage that handles it, with the project id on the request and stage spans."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import azure.functions as func
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from core import telemetry
from core.adapters.azure.queue import ServiceBusWorkQueue
from core.adapters.memory import ManualClock
from core.domain.errors import NotFound

_EXPORTER = InMemorySpanExporter()
_PROVIDER = TracerProvider()
_PROVIDER.add_span_processor(SimpleSpanProcessor(_EXPORTER))


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    # The global provider can be set once per process; nothing else in the suite sets it.
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(_PROVIDER)
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


class _Sender:
    def __init__(self, sent: list[Any]) -> None:
        self.sent = sent

    def send_messages(self, message: Any) -> None:
        self.sent.append(message)

    def close(self) -> None:
        pass


class _Client:
    """Just enough of ServiceBusClient to see what the adapter sends."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    def get_queue_sender(self, queue_name: str) -> _Sender:
        return _Sender(self.sent)

    def get_queue_receiver(self, queue_name: str, **kwargs: Any) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        pass


class _Message(func.ServiceBusMessage):
    """A trigger message with application properties, as the host passes them."""

    def __init__(self, body: bytes, properties: dict[str, Any]) -> None:
        super().__init__(body=body)
        self._properties = properties

    @property
    def application_properties(self) -> dict[str, Any]:
        return self._properties


def test_configure_is_a_no_op_without_a_connection_string() -> None:
    assert telemetry.configure({}) is False
    assert telemetry.configure({telemetry.CONNECTION_STRING: "  "}) is False


def test_entra_client_id_from_the_authentication_string() -> None:
    assert telemetry.aad_client_id("ClientId=abc;Authorization=AAD") == "abc"
    assert telemetry.aad_client_id("Authorization=aad; ClientId = abc ") == "abc"
    assert telemetry.aad_client_id("ClientId=abc") is None
    assert telemetry.aad_client_id("") is None


def test_without_a_span_nothing_is_added_to_messages() -> None:
    client = _Client()
    ServiceBusWorkQueue(client, ManualClock(datetime(2026, 11, 1, tzinfo=UTC))).send(
        "project-init", {"projectId": "p1"}
    )
    assert not client.sent[0].application_properties


def test_one_trace_from_http_through_the_queue_to_the_stage(
    spans: InMemorySpanExporter,
) -> None:
    client = _Client()
    queue = ServiceBusWorkQueue(client, ManualClock(datetime(2026, 11, 1, tzinfo=UTC)))
    app = FastAPI()

    @app.post("/api/projects/{project_id}/work")
    def work(project_id: str) -> dict[str, str]:
        return {"id": queue.send("project-init", {"projectId": project_id})}

    app.add_middleware(telemetry.ProjectSpanMiddleware)
    FastAPIInstrumentor.instrument_app(app, tracer_provider=_PROVIDER)
    assert TestClient(app).post("/api/projects/p1/work").status_code == 200

    (sent,) = client.sent
    properties = {str(k): v for k, v in sent.application_properties.items()}
    assert "traceparent" in properties
    with telemetry.stage_span("project-init", json.loads(str(sent)), properties):
        pass

    finished = spans.get_finished_spans()
    server = _one(finished, "POST /api/projects/{project_id}/work")
    stage = _one(finished, "stage project-init")
    assert server.attributes and server.attributes[telemetry.PROJECT_ID] == "p1"
    assert stage.attributes and stage.attributes[telemetry.PROJECT_ID] == "p1"
    assert stage.context and server.context
    assert stage.context.trace_id == server.context.trace_id
    assert stage.kind is trace.SpanKind.CONSUMER


def test_the_stage_trigger_continues_the_senders_trace(
    spans: InMemorySpanExporter, function_app: ModuleType
) -> None:
    tracer = _PROVIDER.get_tracer("test")
    with tracer.start_as_current_span("sender") as sender:
        properties = telemetry.trace_properties()
    trigger = {f.get_function_name(): f for f in function_app.app.get_functions()}
    message = _Message(json.dumps({"projectId": "nope"}).encode(), properties)
    with pytest.raises(NotFound):
        trigger["project_init"].get_user_function()(message)
    stage = _one(spans.get_finished_spans(), "stage project-init")
    assert stage.context and stage.context.trace_id == sender.get_span_context().trace_id
    assert stage.attributes and stage.attributes[telemetry.PROJECT_ID] == "nope"
    assert stage.status.status_code is trace.StatusCode.ERROR  # and the error propagates


def _one(spans: Any, name: str) -> ReadableSpan:
    found = [span for span in spans if span.name == name]
    assert len(found) == 1, [span.name for span in spans]
    return found[0]
