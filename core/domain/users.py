"""Named users and their bearer tokens. Tokens are shown once and stored only as a hash."""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum

from pydantic import Field, field_validator

from core.domain.model import DomainModel, Stamp

TOKEN_PREFIX = "lp_"  # noqa: S105 (a prefix that makes leaked tokens easy to scan for)
USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


class UserRole(StrEnum):
    """What a user may do across the deployment (a project's own roles are `Role`)."""

    ADMIN = "admin"
    """Grants and takes back these roles; may create projects."""
    CREATOR = "creator"
    """May create projects (and so owns them)."""


class User(DomainModel):
    id: str = Field(description="The user name, as given to `loupe user create`")
    created_at: Stamp
    roles: list[UserRole] = Field(
        default_factory=list, description="Deployment roles: admin, creator"
    )
    principal: str | None = Field(
        default=None,
        description="The stable id of who signs in as this user through the Static Web App "
        "(`provider:userId`), once they have",
    )

    @property
    def is_admin(self) -> bool:
        return UserRole.ADMIN in self.roles

    @property
    def may_create_projects(self) -> bool:
        return self.is_admin or UserRole.CREATOR in self.roles

    @field_validator("id")
    @classmethod
    def _plain_name(cls, name: str) -> str:
        if not USER_NAME.fullmatch(name):
            raise ValueError(
                "user names are 1–64 letters, digits and . _ @ -, starting with a letter or digit"
            )
        return name


def link_principal(user: User, key: str) -> User | None:
    """`user` signing in by its stable id `key` from now on; None when it has one already."""
    if user.principal is not None:
        return None
    return user.model_copy(update={"principal": key})


class PrincipalLink(DomainModel):
    """A Static Web App principal's user: sign-in looks the stable id up here, so a changed
    e-mail or display name still finds the same user, and a name handed to someone else
    never gives them another's user."""

    id: str = Field(description="`provider:userId`, as the Static Web App sends them")
    user: str
    created_at: Stamp


class Token(DomainModel):
    id: str = Field(description="SHA-256 of the token: the token itself is never stored")
    user: str
    created_at: Stamp
    revoked_at: Stamp | None = None


def token_hash(token: str) -> str:
    # Tokens carry 256 random bits, so a plain fast hash is enough (no password stretching).
    return hashlib.sha256(token.encode()).hexdigest()
