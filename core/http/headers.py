"""Security headers on every response: the web UI runs only its own script, nothing may frame
a page of Loupe's, no response is sniffed into another type, and no address leaks to the sites
instructions link to. Routes that set a policy of their own (stored files) keep it."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UI_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self' https://*.blob.core.windows.net; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""The web UI's: script and style only from its own files, never inline; it talks to its own
API and, on Azure, PUTs uploads straight to Blob Storage on the links the API signs."""
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
"""JSON needs nothing."""
DOCS_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; frame-ancestors 'none'"
)
"""/api/docs is FastAPI's Swagger page: its script comes from a CDN with an inline start, and
it shows no user content. The session cookie is HttpOnly, so even it cannot read a token."""
DOCS = "/api/docs"

COMMON = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}


def policy(path: str) -> str:
    if path == DOCS or path.startswith(DOCS + "/"):
        return DOCS_POLICY
    return API_POLICY if path.startswith("/api/") else UI_POLICY


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = policy(scope["path"])

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in COMMON.items():
                    headers.setdefault(name, value)
                headers.setdefault("content-security-policy", csp)
            await send(message)

        await self.app(scope, receive, with_headers)


def disposition(name: str, *, inline: bool = False) -> str:
    """Content-Disposition of a file called `name` (RFC 6266): a header carries only Latin-1,
    so any other name goes as an ASCII stand-in plus itself, encoded, in `filename*`."""
    plain = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)
    value = f'{"inline" if inline else "attachment"}; filename="{plain}"'
    if plain != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value


def install(app: FastAPI) -> None:
    app.add_middleware(SecurityHeaders)
