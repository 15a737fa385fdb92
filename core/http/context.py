"""Typed FastAPI dependencies: the dependency set and the signed-in user."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import (
    APIKeyCookie,
    APIKeyHeader,
    APIKeyQuery,
    HTTPAuthorizationCredentials,
    HTTPBearer,
)

from core.domain.errors import Forbidden, Unauthorized
from core.domain.principals import HEADER, parse_client_principal
from core.domain.users import User
from core.ports import Deps
from core.services.principals import sign_in_principal
from core.services.users import authenticate
from core.settings import Settings

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

# The ways to sign in, as the OpenAPI document names them (any one will do), and the signature
# that makes a link the API signed its own credential.
BEARER, SESSION, STATIC_WEB_APP, SIGNED_LINK = (
    "bearerToken",
    "sessionCookie",
    "staticWebApp",
    "signedLink",
)
SIGN_IN = frozenset({BEARER, SESSION, STATIC_WEB_APP})
bearer = HTTPBearer(
    auto_error=False,
    scheme_name=BEARER,
    description="A token from `loupe user create NAME` (programs and the command line)",
)
session_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name=SESSION,
    description=(
        "The web UI's HttpOnly session, set by `POST /api/session`. A request made with it that "
        f"changes anything (not GET) must also carry `{CSRF_HEADER}: {CSRF_VALUE}`, else 403."
    ),
)
static_web_app = APIKeyHeader(
    name=HEADER,
    auto_error=False,
    scheme_name=STATIC_WEB_APP,
    description=(
        "The principal the Azure Static Web App in front of the API sets after its sign-in; "
        "taken only where LOUPE_BEHIND_STATIC_WEB_APP=true, refused with 401 elsewhere."
    ),
)

signed_link = APIKeyQuery(
    name="sig",
    auto_error=False,
    scheme_name=SIGNED_LINK,
    description=(
        "The API's signature on a link it handed out (exports, the images an export names): "
        "valid for its holder until `exp`, while they may still read the project"
    ),
)


async def current_user(
    request: Request,
    deps: AppDeps,
    settings: AppSettings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    session: Annotated[str | None, Depends(session_cookie)],
    principal: Annotated[str | None, Depends(static_web_app)],
) -> User:
    """Who is calling. A token is two point reads: on the embedded store (SQLite in WAL, where
    a read never waits on a writer) they are made right here, which spares every request a hop
    to the thread pool and back; on Cosmos (a network call) and for a principal (whose first
    visit writes) the work goes to the thread pool as before."""
    if principal is None and not settings.uses_cosmos:
        user = _signed_in(request, deps, settings, credentials, session, principal)
    else:
        user = await run_in_threadpool(
            _signed_in, request, deps, settings, credentials, session, principal
        )
    # For `SignedIn`: on the request's own scope, which no other request shares (a server's
    # `state` is copied per request only by convention).
    request.scope[_SIGNED_IN] = user
    return user


def _signed_in(
    request: Request,
    deps: Deps,
    settings: Settings,
    credentials: HTTPAuthorizationCredentials | None,
    session: str | None,
    principal: str | None,
) -> User:
    """Who is calling: the Static Web App's principal (when set to trust it), a bearer token
    (programs), or the web UI's session cookie."""
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


_SIGNED_IN = "loupe.signed_in"

CurrentUser = Annotated[User, Depends(current_user)]
"""Who is calling, for a route its router does not sign in."""


async def already_signed_in(request: Request) -> User:
    # FastAPI reuses a dependency's value within a request, but only after walking its
    # sub-dependencies again (the dependency set, the settings and the three credentials):
    # taking the user the router's sign-in left here spares every route that walk.
    user: User | None = request.scope.get(_SIGNED_IN)
    if user is None:  # a route under a router that does not sign in: a wiring mistake
        raise RuntimeError(f"{request.url.path}: SignedIn needs the router's sign-in")
    return user


SignedIn = Annotated[User, Depends(already_signed_in)]
"""Who is calling, for a route whose router signs in (`app.create_app`'s `signed_in`): the
user that sign-in found. The route's security in the OpenAPI document comes from the
router's dependency."""
