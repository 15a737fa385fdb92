"""The way in for programs (the CLI, scripts, pipelines) behind the Static Web App.

On Azure every `/api/*` call passes the Static Web App, which lets only signed-in people
through and overwrites the `Authorization` header with a credential of its own. Programs sign
in with Loupe's own revocable tokens instead, on a prefix the Static Web App lets through
unauthenticated (`webui/public/staticwebapp.config.json`): `/api/programs/...` is the whole API,
the token in `X-Loupe-Token`. Here the prefix is taken off and the token becomes the request's
bearer token; anything a browser session or the Static Web App would add (its principal header,
cookies, its `Authorization`) is dropped, so a call on this prefix is a token's call and nothing
else. The embedded runtime answers the same prefix, so a program has one code path."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from core.domain.principals import HEADER

PROGRAMS = "/api/programs"
TOKEN_HEADER = "x-loupe-token"  # noqa: S105 (a header name)
_DROPPED = frozenset({b"authorization", b"cookie", HEADER.encode(), TOKEN_HEADER.encode()})


class ProgramRoute:
    """ASGI middleware: `/api/programs/<rest>` is `/api/<rest>` with `X-Loupe-Token`'s token
    as its bearer token and no other credential."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(PROGRAMS + "/"):
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        token = next((v for k, v in headers if k.lower() == TOKEN_HEADER.encode()), None)
        kept = [(k, v) for k, v in headers if k.lower() not in _DROPPED]
        if token is not None:
            kept.append((b"authorization", b"Bearer " + token.strip()))
        rest = path[len(PROGRAMS) :]
        raw: bytes = scope.get("raw_path") or path.encode()
        prefix = PROGRAMS.encode()
        raw = b"/api" + raw[len(prefix) :] if raw.startswith(prefix) else ("/api" + rest).encode()
        scope = dict(scope, path="/api" + rest, raw_path=raw, headers=kept)
        await self.app(scope, receive, send)


def install(app: FastAPI) -> None:
    app.add_middleware(ProgramRoute)
