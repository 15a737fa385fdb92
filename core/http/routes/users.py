"""Deployment roles over HTTP (admins): who may create projects, who else is an admin."""

from __future__ import annotations

from fastapi import APIRouter

from core.domain.users import User, UserRole
from core.http.context import AppDeps, SignedIn
from core.http.openapi import conflict, forbidden
from core.services import users

router = APIRouter(
    prefix="/users", tags=["users"], responses=forbidden("only a Loupe admin may do this")
)
_LAST_ADMIN = conflict("the last admin keeps that role, or the user kept changing: send again")


@router.get("")
def list_users(deps: AppDeps, user: SignedIn) -> list[User]:
    return users.list_users(deps, actor=user.id)


@router.put("/{name}/roles/{role}", responses=_LAST_ADMIN)
def grant_role(name: str, role: UserRole, deps: AppDeps, user: SignedIn) -> User:
    """Give `name` a deployment role (idempotent)."""
    return users.set_role(deps, name=name, role=role, granted=True, actor=user.id)


@router.delete("/{name}/roles/{role}", responses=_LAST_ADMIN)
def take_back_role(name: str, role: UserRole, deps: AppDeps, user: SignedIn) -> User:
    """Take a deployment role back (idempotent); the last admin keeps theirs."""
    return users.set_role(deps, name=name, role=role, granted=False, actor=user.id)
