"""Project membership: owners add people as owner, reviewer or labeler, change or remove them.
A project always keeps at least one owner."""

from __future__ import annotations

from core.domain.errors import Conflict, InvalidInput, NotFound
from core.domain.projects import Project, Role
from core.ports import Deps
from core.services.projects import for_owner, save_project
from core.store.collections import USERS
from core.store.versioned import Versioned


def list_members(deps: Deps, *, project_id: str, actor: str) -> dict[str, Role]:
    return for_owner(deps, project_id, actor, None).value.members


def set_member(
    deps: Deps,
    *,
    project_id: str,
    actor: str,
    user: str,
    role: Role,
    if_match: str | None = None,
) -> Versioned[Project]:
    current = for_owner(deps, project_id, actor, if_match)
    if deps.documents.container(USERS).get(user, user) is None:
        raise InvalidInput.one(
            "user",
            f"there is no user {user!r}: create it with `loupe user create {user}` (locally) "
            "or ask them to sign in once (on Azure)",
        )
    members = dict(current.value.members)
    if members.get(user) is role:
        return current
    members[user] = role
    _keep_an_owner(members)
    updated = current.value.model_copy(update={"members": members, "updated_at": deps.clock.now()})
    return save_project(deps, current, updated, actor, "project.member_set")


def remove_member(
    deps: Deps, *, project_id: str, actor: str, user: str, if_match: str | None = None
) -> Versioned[Project]:
    current = for_owner(deps, project_id, actor, if_match)
    members = dict(current.value.members)
    if members.pop(user, None) is None:
        raise NotFound(f"{user!r} is not a member of {current.value.name!r}")
    _keep_an_owner(members)
    updated = current.value.model_copy(update={"members": members, "updated_at": deps.clock.now()})
    return save_project(deps, current, updated, actor, "project.member_removed")


def _keep_an_owner(members: dict[str, Role]) -> None:
    if Role.OWNER not in members.values():
        raise Conflict("a project needs at least one owner: make someone else owner first")
