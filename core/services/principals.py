"""Signing in with a Static Web Apps client principal: the user is registered on first visit,
so that owners can then add them to projects by name."""

from __future__ import annotations

from pydantic import ValidationError

from core.domain.errors import Conflict, Unauthorized
from core.domain.principals import ClientPrincipal
from core.domain.users import User, UserRole
from core.ports import Deps
from core.services.collections import USERS, load
from core.services.users import set_role


def sign_in_principal(
    deps: Deps, principal: ClientPrincipal, *, admins: frozenset[str] = frozenset()
) -> User:
    """The signed-in user, registered on first visit; names in `admins` (LOUPE_ADMINS) are
    made admins as they sign in, since nobody else can grant the first admin role there."""
    users = deps.documents.container(USERS)
    found = users.get(principal.name, principal.name)
    if found is not None:
        user = load(User, found)
        if principal.name in admins and not user.is_admin:
            return set_role(deps, name=user.id, role=UserRole.ADMIN, granted=True)
        return user
    roles = [UserRole.ADMIN] if principal.name in admins else []
    try:
        user = User(id=principal.name, created_at=deps.clock.now(), roles=roles)
    except ValidationError:
        raise Unauthorized(
            f"the signed-in name {principal.name!r} cannot be a Loupe user name (letters, "
            "digits and . _ @ -, at most 64)"
        ) from None
    try:
        users.create(user.to_doc())
    except Conflict:  # signed in twice at once
        return load(User, users.read(principal.name, principal.name))
    return user
