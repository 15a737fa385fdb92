"""Named users and bearer tokens (the embedded runtime's sign-in; Azure adds its own)."""

from __future__ import annotations

import secrets

from core.domain.errors import Conflict, Forbidden, NotFound, Unauthorized
from core.domain.users import TOKEN_PREFIX, Token, User, UserRole, token_hash
from core.ports import Deps, Query
from core.store.collections import TOKENS, USERS, load, scan
from core.store.repositories.tokens import Tokens
from core.store.update import Target, update


def create_user(deps: Deps, *, name: str, roles: list[UserRole] | None = None) -> tuple[User, str]:
    """Create `name` and return it with its first token (shown once, stored hashed). Without
    `roles`, the first user of a deployment with no admin becomes its admin."""
    if roles is None:
        roles = [] if any(u.is_admin for u in list_users(deps)) else [UserRole.ADMIN]
    user = User(id=name, created_at=deps.clock.now(), roles=roles)
    try:
        deps.documents.container(USERS).create(user.to_doc())
    except Conflict:
        raise Conflict(
            f"user {name!r} exists; issue another token with `loupe user token`"
        ) from None
    return user, issue_token(deps, name=name)


def get_user(deps: Deps, *, name: str) -> User:
    found = deps.documents.container(USERS).get(name, name)
    if found is None:
        raise NotFound(f"no user {name!r}: create it with `loupe user create {name}`")
    return load(User, found)


def require_admin(deps: Deps, actor: str) -> None:
    if not get_user(deps, name=actor).is_admin:
        raise Forbidden("only a Loupe admin may do this (`loupe user grant NAME admin`)")


def require_creator(deps: Deps, actor: str) -> None:
    if not get_user(deps, name=actor).may_create_projects:
        raise Forbidden(
            f"{actor!r} may not create projects: ask a Loupe admin to grant you the creator "
            f"role (`loupe user grant {actor} creator`, or Users in the web UI)"
        )


def set_role(
    deps: Deps, *, name: str, role: UserRole, granted: bool, actor: str | None = None
) -> User:
    """Grant or take back a deployment role. `actor` must be an admin; None is the command
    line, whose caller already holds the store itself. The last admin stays an admin."""
    if actor is not None:
        require_admin(deps, actor)
    missing = f"no user {name!r}: create it with `loupe user create {name}`"
    target = Target(deps.documents.container(USERS), User, name, name, noun="user", missing=missing)

    def change(user: User) -> User:
        roles = sorted({*user.roles, role} if granted else set(user.roles) - {role})
        if user.is_admin and UserRole.ADMIN not in roles and _admins(deps) == {name}:
            raise Conflict(f"{name!r} is the last admin: make someone else admin first")
        return user.model_copy(update={"roles": roles})

    done = update(target, change)
    assert done is not None  # a missing user raised
    return done.after.value


def _admins(deps: Deps) -> set[str]:
    return {u.id for u in list_users(deps) if u.is_admin}


def issue_token(deps: Deps, *, name: str) -> str:
    deps.documents.container(USERS).read(name, name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = Token(id=token_hash(token), user=name, created_at=deps.clock.now())
    deps.documents.container(TOKENS).create(record.to_doc())
    return token


def revoke_tokens(deps: Deps, *, name: str) -> int:
    """Revoke every live token of `name`; returns how many."""
    tokens = deps.documents.container(TOKENS)
    live = list(Tokens(deps).live_of(name))
    for document in live:
        token = load(Token, document).model_copy(update={"revoked_at": deps.clock.now()})
        tokens.upsert(token.to_doc(), if_match=document.etag)
    return len(live)


def list_users(deps: Deps, *, actor: str | None = None) -> list[User]:
    """Every user; `actor`, when given, must be an admin (None: the command line)."""
    if actor is not None:
        require_admin(deps, actor)
    documents = scan(deps.documents.container(USERS), None, Query(page_size=500))
    return sorted((load(User, d) for d in documents), key=lambda u: u.id)


def authenticate(deps: Deps, *, token: str) -> User:
    digest = token_hash(token)
    document = deps.documents.container(TOKENS).get(digest, digest)
    if document is None or load(Token, document).revoked_at is not None:
        raise Unauthorized("the bearer token is unknown or revoked; create one with `loupe user`")
    user = deps.documents.container(USERS).get(document.body["user"], document.body["user"])
    if user is None:
        raise Unauthorized("the token's user no longer exists")
    return load(User, user)
