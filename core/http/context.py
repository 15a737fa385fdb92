"""Typed FastAPI dependencies: the dependency set and the signed-in user."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from core.domain.errors import Unauthorized
from core.domain.users import User
from core.ports import Deps
from core.services.users import authenticate
from core.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="A token from `loupe user create NAME`")


def _deps(request: Request) -> Deps:
    # A provider, not the set itself: on Azure the clients are made on first use, not at
    # import, so indexing the Function App never waits on a network call.
    provide: Callable[[], Deps] = request.app.state.deps
    return provide()


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppDeps = Annotated[Deps, Depends(_deps)]
AppSettings = Annotated[Settings, Depends(_settings)]


def current_user(
    deps: AppDeps,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None:
        raise Unauthorized(
            "sign in: send 'Authorization: Bearer <token>'; create a user and token with "
            "`loupe user create NAME`"
        )
    return authenticate(deps, token=credentials.credentials)


CurrentUser = Annotated[User, Depends(current_user)]
