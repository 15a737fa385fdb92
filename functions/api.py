"""HTTP: the whole FastAPI app behind one catch-all route (`AsgiFunctionApp`).

host.json sets the route prefix to empty, so `/api/...` paths reach FastAPI unchanged."""

from __future__ import annotations

from dataclasses import replace

from fastapi import FastAPI

from core import telemetry
from core.http.app import create_app
from functions import context


def http_app() -> FastAPI:
    # The Static Web App serves the UI on Azure; the Function App serves only the API.
    app = create_app(context.deps, replace(context.settings(), webui_dir=None))
    return telemetry.instrument_http(app)
