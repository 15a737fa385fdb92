"""The only module the Azure Functions host indexes: the HTTP app plus one blueprint per
trigger file in `functions/`."""

from __future__ import annotations

import azure.functions as func

from functions import ingest, stages, timers
from functions.api import http_app

app = func.AsgiFunctionApp(app=http_app(), http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(stages.bp)
app.register_functions(ingest.bp)
app.register_functions(timers.bp)
