"""Health and the signed-in user."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from core.domain.users import User
from core.http.context import AppSettings, CurrentUser

router = APIRouter(tags=["system"])


class Health(BaseModel):
    status: str
    documents: str
    blobs: str
    queue: str


@router.get("/health")
def health(settings: AppSettings) -> Health:
    """Public on purpose: load balancers and the CLI probe it without a token."""
    return Health(
        status="ok",
        documents="cosmos" if settings.uses_cosmos else "sqlite",
        blobs="azure" if settings.uses_blob_storage else "folder",
        queue="servicebus" if settings.uses_service_bus else "sqlite",
    )


@router.get("/me")
def me(user: CurrentUser) -> User:
    return user
