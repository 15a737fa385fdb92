"""OpenTelemetry to Application Insights, switched on by APPLICATIONINSIGHTS_CONNECTION_STRING.

Unset (a laptop, the tests), nothing is configured and every helper here works on
OpenTelemetry's no-op tracer, so the code paths are the same either way. One trace runs from an
HTTP request through the queue to the stage that handles its message: the sender puts W3C
trace context into the Service Bus message's application properties (`trace_properties`), the
stage trigger continues it (`stage_span`), and every span carries the project id.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.trace import SpanKind

CONNECTION_STRING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
AUTHENTICATION_STRING = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING"
"""`ClientId=<managed identity>;Authorization=AAD`: App Insights takes only Entra tokens when
its local auth is off (infra/bicep/modules/monitoring.bicep)."""
PROJECT_ID = "loupe.project_id"
QUEUE = "messaging.destination.name"

App = TypeVar("App", bound="_Middlewares")


class _Middlewares(Protocol):
    def add_middleware(self, middleware_class: Any) -> None: ...


_tracer = trace.get_tracer("loupe")
_configured = False


def configure(env: Mapping[str, str] | None = None) -> bool:
    """Send traces, logs and metrics to Application Insights when the connection string is
    set; once per process. True if telemetry is on. Call before the FastAPI app is made, so
    the distro's FastAPI instrumentation sees it."""
    global _configured
    env = os.environ if env is None else env
    connection = env.get(CONNECTION_STRING, "").strip()
    if not connection:
        return False
    if not _configured:
        from azure.monitor.opentelemetry import configure_azure_monitor

        options: dict[str, Any] = {"connection_string": connection}
        client_id = aad_client_id(env.get(AUTHENTICATION_STRING, ""))
        if client_id is not None:
            from azure.identity import ManagedIdentityCredential

            options["credential"] = ManagedIdentityCredential(client_id=client_id)
        configure_azure_monitor(**options)
        _configured = True
    return True


def aad_client_id(authentication: str) -> str | None:
    """The managed identity's client id in an App Insights authentication string, if it asks
    for Entra (AAD) authorisation."""
    parts = dict(part.split("=", 1) for part in authentication.split(";") if "=" in part.strip())
    parts = {key.strip().lower(): value.strip() for key, value in parts.items()}
    if parts.get("authorization", "").lower() != "aad":
        return None
    return parts.get("clientid") or None


def trace_properties() -> dict[str, str]:
    """The current trace context as message application properties (`traceparent`,
    `tracestate`); empty when no span is recording."""
    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier


def project_of(body: Mapping[str, Any]) -> str | None:
    """The project a message is about: every Loupe message names it (`projectId`)."""
    value = body.get("projectId")
    return value if isinstance(value, str) else None


@contextmanager
def stage_span(
    queue: str, body: Mapping[str, Any], properties: Mapping[str, Any] | None = None
) -> Iterator[trace.Span]:
    """A consumer span for handling one message, continuing the sender's trace when its
    properties carry one, with the queue and the project on it. An error marks the span and
    propagates (so the queue retries)."""
    carrier = {
        key: value.decode() if isinstance(value, bytes) else str(value)
        for key, value in (properties or {}).items()
        if isinstance(key, str) and key.lower() in ("traceparent", "tracestate")
    }
    token = otel_context.attach(extract(carrier)) if carrier else None
    try:
        with _tracer.start_as_current_span(f"stage {queue}", kind=SpanKind.CONSUMER) as span:
            span.set_attribute(QUEUE, queue)
            project = project_of(body)
            if project is not None:
                span.set_attribute(PROJECT_ID, project)
            yield span
    finally:
        if token is not None:
            otel_context.detach(token)


def tag_project(project_id: str) -> None:
    """Put the project id on the current span (the HTTP request's)."""
    trace.get_current_span().set_attribute(PROJECT_ID, project_id)


class ProjectSpanMiddleware:
    """ASGI middleware: the request span gets the `{project_id}` path parameter. The router
    fills `scope["path_params"]` in place before the response starts, and the
    instrumentation's server span (outside this middleware) ends with the response, so the
    tag goes on as the response starts."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return

        async def tagging_send(message: Any) -> None:
            if message.get("type") == "http.response.start":
                project = (scope.get("path_params") or {}).get("project_id")
                if isinstance(project, str):
                    tag_project(project)
            await send(message)

        await self.app(scope, receive, tagging_send)


def instrument_http(app: App) -> App:
    """`app` (a FastAPI app) with project ids on its request spans, when telemetry is on."""
    if _configured:
        app.add_middleware(ProjectSpanMiddleware)
    return app
