"""The app's API routes as one flat list (FastAPI wraps the routes of an included router), for
what is read from them: the OpenAPI document's error answers, and a 405's `Allow`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from starlette.requests import Request
from starlette.routing import Match


def api_routes(routes: Iterable[Any]) -> Iterator[Any]:
    """Every API route, included routers walked into."""
    for route in routes:
        if hasattr(route, "effective_candidates"):
            yield from api_routes(route.effective_candidates())
        elif hasattr(route, "dependant"):
            yield route


def allowed_methods(request: Request) -> list[str]:
    """The methods some route takes on the request's path (one route serves one method)."""
    methods: set[str] = set()
    for route in api_routes(request.app.routes):
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= set(route.methods or ())
    return sorted(methods)
