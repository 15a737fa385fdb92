"""Request limits, checked before a request reaches a route: a token bucket per caller (429 with
Retry-After) and a cap on request bodies (413). Both answer in problem+json and name the setting
that moves them.

The buckets live in this process: each Function App instance limits on its own, which still
stops one client from flooding an instance."""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.http.context import SESSION_COOKIE
from core.http.problems import problem
from core.settings import Settings

MAX_JSON_BYTES = 16 << 20
"""Every body that is not an upload or an import: JSON commands, far below this when valid
(the largest, a page of 100 answers, is a few hundred kilobytes)."""

_UPLOAD = re.compile(r"/api/projects/[^/]+/(files/.+|imports)|/api/blobs/.+")
_MAX_CALLERS = 10_000


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Token buckets by caller: `burst` requests at once, then `rate` per second."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, caller: str) -> float:
        """Spend one token of `caller`: 0 when allowed, else the seconds until one is back."""
        now = self._clock()
        bucket = self._buckets.get(caller)
        if bucket is None:
            self._forget_idle(now)
            bucket = self._buckets[caller] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate

    def _forget_idle(self, now: float) -> None:
        # Bounded memory: a bucket that has refilled is the same as none.
        if len(self._buckets) < _MAX_CALLERS:
            return
        full = self.burst / self.rate
        self._buckets = {k: b for k, b in self._buckets.items() if now - b.at < full}
        if len(self._buckets) >= _MAX_CALLERS:  # all busy: start over rather than grow
            self._buckets.clear()


def caller_key(scope: Scope) -> str:
    """Who is calling: their token (hashed, never kept as is), else their address."""
    headers = dict(scope.get("headers") or [])
    credential = (
        headers.get(b"authorization")
        or headers.get(b"x-ms-client-principal")
        or _session(headers.get(b"cookie", b""))
    )
    if credential:
        return "t:" + hashlib.sha256(credential).hexdigest()[:32]
    client = scope.get("client")
    return f"a:{client[0] if client else '?'}"


def _session(cookies: bytes) -> bytes | None:
    for part in cookies.split(b";"):
        name, _, value = part.strip().partition(b"=")
        if name == SESSION_COOKIE.encode():
            return value
    return None


class Limits:
    """ASGI middleware applying both limits to `/api/` requests (static files are exempt)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.max_upload = settings.max_upload_bytes
        self.limiter = (
            RateLimiter(settings.rate_limit, settings.rate_burst) if settings.rate_limit else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        if self.limiter is not None and (wait := self.limiter.take(caller_key(scope))):
            await self._too_many(scope, wait)(scope, receive, send)
            return
        limit, what = self._body_limit(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            response = problem(413, "Content too large", what(declared), Request(scope))
            await response(scope, receive, send)
            return
        await self.app(scope, _counting(receive, limit, what), send)

    def _body_limit(self, path: str) -> tuple[int, Callable[[int | None], str]]:
        if _UPLOAD.fullmatch(path):
            limit = self.max_upload
            return (
                limit,
                lambda size: (
                    f"the upload is {_size(size, limit)}; uploads and imports may be at most "
                    f"{limit:,} bytes (LOUPE_MAX_UPLOAD_BYTES): have the operator raise it, or "
                    "put the file in a blob container and let a project read it from there"
                ),
            )
        return (
            MAX_JSON_BYTES,
            lambda size: (
                f"the request body is {_size(size, MAX_JSON_BYTES)}; a request may carry at most "
                f"{MAX_JSON_BYTES:,} bytes of JSON: send fewer items per request"
            ),
        )

    def _too_many(self, scope: Scope, wait: float) -> ASGIApp:
        assert self.limiter is not None
        seconds = max(1, math.ceil(wait))
        response = problem(
            429,
            "Too many requests",
            f"this caller sent more than {self.limiter.burst} requests at once or more than "
            f"{self.limiter.rate:g} a second for a while (LOUPE_RATE_LIMIT, LOUPE_RATE_BURST); "
            f"retry after {seconds} s, and space requests out",
            Request(scope),
        )
        response.headers["Retry-After"] = str(seconds)
        return response


def _size(size: int | None, limit: int) -> str:
    return f"{size:,} bytes" if size is not None else f"over {limit:,} bytes"


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers") or []:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def _counting(receive: Receive, limit: int, what: Callable[[int | None], str]) -> Receive:
    """`receive` that fails once more than `limit` body bytes came (chunked bodies, or a
    Content-Length that lied): the route stops reading, and what it wrote is discarded."""
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise HTTPException(413, what(None))
        return message

    return counted


def install(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(Limits, settings=settings)
