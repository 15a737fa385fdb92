"""The FastAPI application: the same object runs under uvicorn locally and inside the
Function App through `AsgiFunctionApp`."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from core.http import headers, limits, openapi, problems, programs
from core.http.context import current_user
from core.http.routes import (
    assist,
    blobs,
    dead_letters,
    exports,
    ingestion,
    labeling,
    manage,
    migrations,
    projects,
    review,
    system,
    users,
)
from core.ports import Deps
from core.settings import Settings

API = "/api"


def create_app(deps: Callable[[], Deps], settings: Settings) -> FastAPI:
    """`deps` provides the dependency set on first use."""
    app = FastAPI(
        title="Loupe",
        summary="Open-source data labeling for images and text",
        version="0.1.0",
        openapi_url=f"{API}/openapi.json",
        docs_url=f"{API}/docs",
        redoc_url=None,
    )
    app.state.deps = deps
    app.state.settings = settings
    problems.install(app)
    openapi.install(app)  # every route's errors, read from the routes
    limits.install(app, settings)
    headers.install(app)  # every answer carries them, refusals included
    programs.install(app)  # outermost: /api/programs/... is the API with a token, for programs
    signed_in = [Depends(current_user)]
    app.include_router(system.router, prefix=API)  # /health is public, /me needs a token
    app.include_router(projects.router, prefix=API, dependencies=signed_in)
    app.include_router(projects.names, prefix=API, dependencies=signed_in)
    app.include_router(ingestion.router, prefix=API, dependencies=signed_in)
    app.include_router(blobs.router, prefix=API)  # item media: signed in; links: signed
    for router in (
        labeling.router,
        review.router,
        manage.router,
        exports.router,
        dead_letters.router,
        assist.router,
        users.router,
        migrations.router,
    ):
        app.include_router(router, prefix=API, dependencies=signed_in)
    if settings.webui_dir is not None and settings.webui_dir.is_dir():
        app.mount("/", StaticFiles(directory=settings.webui_dir, html=True), name="webui")
    return app
