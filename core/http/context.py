"""Typed FastAPI dependencies: the dependency set and the signed-in user."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from core.domain.errors import Forbidden, Unauthorized
from core.domain.principals import HEADER, parse_client_principal
from core.domain.users import User
from core.ports import Deps
from core.services.principals import sign_in_principal
from core.services.users import authenticate
from core.settings import Settings

bearer = HTTPBearer(auto_error=False, description="A token from `loupe user create NAME`")


# The two lookups below are `async` only so that FastAPI runs them inline: a plain `def`
# dependency costs a hop to the thread pool on every request.


async def _deps(request: Request) -> Deps:
    # A provider, not the set itself: on Azure the clients are made on first use, not at
    # import, so indexing the Function App never waits on a network call.
    provide: Callable[[], Deps] = request.app.state.deps
    return provide()


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppDeps = Annotated[Deps, Depends(_deps)]
AppSettings = Annotated[Settings, Depends(_settings)]


SESSION_COOKIE = "loupe_session"
CSRF_HEADER = "X-Requested-With"
CSRF_VALUE = "loupe"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def current_user(
    request: Request,
    deps: AppDeps,
    settings: AppSettings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    """Who is calling: the Static Web App's principal (when set to trust it), a bearer token
    (programs), or the web UI's session cookie."""
    principal = request.headers.get(HEADER)
    if principal is not None:
        if not settings.behind_static_web_app:
            raise Unauthorized(
                f"the {HEADER} header is refused: this API is not set to run behind a Static "
                "Web App (LOUPE_BEHIND_STATIC_WEB_APP=true says it is, and must be true only "
                "when nothing else can reach it); sign in with a bearer token instead"
            )
        return sign_in_principal(deps, parse_client_principal(principal), admins=settings.admins)
    if credentials is not None:
        return authenticate(deps, token=credentials.credentials)
    session = request.cookies.get(SESSION_COOKIE)
    if session is None:
        raise Unauthorized(
            "sign in: send 'Authorization: Bearer <token>'; create a user and token with "
            "`loupe user create NAME`"
        )
    # A browser sends the cookie with any request to this site, even one a page elsewhere
    # made; such a page cannot set this header without asking first, which is refused.
    if request.method not in _SAFE and request.headers.get(CSRF_HEADER) != CSRF_VALUE:
        raise Forbidden(
            f"a change made with the session cookie must carry '{CSRF_HEADER}: {CSRF_VALUE}' "
            "(the web UI sends it; programs use a bearer token)"
        )
    return authenticate(deps, token=session)


CurrentUser = Annotated[User, Depends(current_user)]
