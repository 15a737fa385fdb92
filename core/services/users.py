"""Named users and bearer tokens (the embedded runtime's sign-in; Azure adds its own)."""

from __future__ import annotations

import secrets

from core.domain.errors import Conflict, Unauthorized
from core.domain.users import TOKEN_PREFIX, Token, User, token_hash
from core.ports import Deps, Query, Where
from core.services.collections import TOKENS, USERS, load, scan


def create_user(deps: Deps, *, name: str) -> tuple[User, str]:
    """Create `name` and return it with its first token (shown once, stored hashed)."""
    user = User(id=name, created_at=deps.clock.now())
    try:
        deps.documents.container(USERS).create(user.to_doc())
    except Conflict:
        raise Conflict(
            f"user {name!r} exists; issue another token with `loupe user token`"
        ) from None
    return user, issue_token(deps, name=name)


def issue_token(deps: Deps, *, name: str) -> str:
    deps.documents.container(USERS).read(name, name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = Token(id=token_hash(token), user=name, created_at=deps.clock.now())
    deps.documents.container(TOKENS).create(record.to_doc())
    return token


def revoke_tokens(deps: Deps, *, name: str) -> int:
    """Revoke every live token of `name`; returns how many."""
    tokens = deps.documents.container(TOKENS)
    query = Query(where=(Where("user", "=", name), Where("revokedAt", "missing")), page_size=500)
    live = list(scan(tokens, None, query))
    for document in live:
        token = load(Token, document).model_copy(update={"revoked_at": deps.clock.now()})
        tokens.upsert(token.to_doc(), if_match=document.etag)
    return len(live)


def list_users(deps: Deps) -> list[User]:
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
