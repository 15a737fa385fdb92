"""The only module the Azure Functions host indexes: the HTTP app plus one blueprint per
trigger file in `functions/`."""

from __future__ import annotations

import azure.functions as func

from core import telemetry
from functions import ingest, stages, timers
from functions.api import http_app

# Before the FastAPI app is made, so the distro instruments it; a no-op when not configured.
telemetry.configure()
app = func.AsgiFunctionApp(app=http_app(), http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(stages.bp)
app.register_functions(ingest.bp)
app.register_functions(timers.bp)
