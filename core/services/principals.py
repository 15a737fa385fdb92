"""Signing in with a Static Web Apps client principal. Users are keyed on the principal's stable
id (`provider:userId`), which a `PrincipalLink` maps to the Loupe user; the user's name is
the sign-in name they first came with, so owners can add them to projects by it.

Users made before the stable id was kept were keyed on the sign-in name alone (`userDetails`).
The first sign-in with a stable id finds such a user by name and links it, once: its
memberships, roles and history stay where they are. A user already linked to another principal
is never taken over by a newcomer with the same name (an e-mail handed to someone else): the
newcomer gets a user of their own, the name with a suffix from their id."""

from __future__ import annotations

import hashlib
from functools import partial

from pydantic import ValidationError

from core.domain.errors import Conflict, Unauthorized
from core.domain.principals import ClientPrincipal
from core.domain.users import PrincipalLink, User, UserRole, link_principal
from core.ports import Deps
from core.services.users import set_role
from core.store.collections import PRINCIPALS, USERS, load
from core.store.update import Target, update
from core.store.versioned import Versioned


def principal_key(principal: ClientPrincipal) -> str:
    return f"{principal.provider or 'swa'}:{principal.user_id}"


def sign_in_principal(
    deps: Deps, principal: ClientPrincipal, *, admins: frozenset[str] = frozenset()
) -> User:
    """The signed-in user, registered or linked on first visit; a sign-in name or principal
    id in `admins` (LOUPE_ADMINS) is made an admin as they sign in, since nobody else can
    grant the first admin role there."""
    if not principal.user_id:
        raise Unauthorized("the Static Web App's principal carries no userId")
    key = principal_key(principal)
    links = deps.documents.container(PRINCIPALS)
    found = links.get(key, key)
    user = (
        _linked(deps, load(PrincipalLink, found).user)
        if found
        else _first_visit(deps, principal, key)
    )
    if (principal.name in admins or principal.user_id in admins) and not user.is_admin:
        return set_role(deps, name=user.id, role=UserRole.ADMIN, granted=True)
    return user


def _linked(deps: Deps, name: str) -> User:
    found = deps.documents.container(USERS).get(name, name)
    if found is None:
        raise Unauthorized(f"your Loupe user {name!r} no longer exists: ask a Loupe admin")
    return load(User, found)


def _first_visit(deps: Deps, principal: ClientPrincipal, key: str) -> User:
    users = deps.documents.container(USERS)
    name = _name(principal.name)
    found = users.get(name, name)
    if found is not None and load(User, found).principal not in (None, key):
        name = _name(f"{principal.name[:55]}.{hashlib.sha256(key.encode()).hexdigest()[:8]}")
        found = users.get(name, name)
    if found is None:
        user = User(id=name, created_at=deps.clock.now(), principal=key)
        try:
            users.create(user.to_doc())
        except Conflict:  # signed in twice at once
            found = users.read(name, name)
    if found is not None:
        user = _linked_once(deps, Versioned(load(User, found), found.etag), key)
    link = PrincipalLink(id=key, user=user.id, created_at=deps.clock.now())
    try:
        deps.documents.container(PRINCIPALS).create(link.to_doc())
    except Conflict:  # the same principal, signing in twice at once
        winner = load(PrincipalLink, deps.documents.container(PRINCIPALS).read(key, key))
        return _linked(deps, winner.user)
    return user


def _linked_once(deps: Deps, user: Versioned[User], key: str) -> User:
    """A user made before stable ids were kept, linked to `key` now, once."""
    target = Target(deps.documents.container(USERS), User, user.value.id, user.value.id, "user")
    done = update(target, partial(link_principal, key=key), current=user)
    return done.after.value if done else user.value


def _name(wanted: str) -> str:
    try:
        return User.model_validate({"id": wanted, "createdAt": "2000-01-01T00:00:00Z"}).id
    except ValidationError:
        raise Unauthorized(
            f"the signed-in name {wanted!r} cannot be a Loupe user name (letters, digits and "
            ". _ @ -, at most 64)"
        ) from None
