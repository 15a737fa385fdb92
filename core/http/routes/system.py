"""Health and the signed-in user."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field

from core.domain.errors import Unauthorized
from core.domain.users import User
from core.http.context import SESSION_COOKIE, AppSettings, CurrentUser, bearer

router = APIRouter(tags=["system"])


class Health(BaseModel):
    status: str
    documents: str
    blobs: str
    queue: str
    signIn: Literal["staticWebApp", "token"] = Field(
        description="How people sign in: through the Static Web App in front (`/.auth`), or "
        "with Loupe's own tokens"
    )


@router.get("/health")
def health(settings: AppSettings) -> Health:
    """Public on purpose: load balancers and the CLI probe it without a token."""
    return Health(
        status="ok",
        documents="cosmos" if settings.uses_cosmos else "sqlite",
        blobs="azure" if settings.uses_blob_storage else "folder",
        queue="servicebus" if settings.uses_service_bus else "sqlite",
        signIn="staticWebApp" if settings.behind_static_web_app else "token",
    )


@router.get("/me")
def me(user: CurrentUser) -> User:
    return user


SESSION_DAYS = 30


@router.post("/session")
def start_session(
    user: CurrentUser,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    settings: AppSettings,
    response: Response,
) -> User:
    """Trade a bearer token for the web UI's session: an HttpOnly cookie that no script of
    the page, nor of a file it shows, can read."""
    if credentials is None:
        raise Unauthorized("send the token to trade as 'Authorization: Bearer <token>'")
    response.set_cookie(
        SESSION_COOKIE,
        credentials.credentials,
        max_age=SESSION_DAYS * 86_400,
        path="/api",
        secure=settings.base_url.startswith("https://"),
        httponly=True,
        samesite="strict",
    )
    return user


@router.delete("/session", status_code=204)
def end_session(settings: AppSettings, response: Response) -> None:
    """Sign this browser out (the token itself stays valid: revoke it with `loupe user`)."""
    response.delete_cookie(
        SESSION_COOKIE,
        path="/api",
        secure=settings.base_url.startswith("https://"),
        httponly=True,
        samesite="strict",
    )
