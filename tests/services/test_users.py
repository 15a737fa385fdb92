"""Deployment roles: the first user is the admin, admins grant who may create projects, the last
admin cannot be removed, and Static Web App sign-ins become admins only when a setting says so."""

from __future__ import annotations

import pytest

from core.domain.errors import Conflict, Forbidden, NotFound
from core.domain.principals import ClientPrincipal
from core.domain.projects import ProjectSettings
from core.domain.users import UserRole
from core.ports import Deps
from core.services import projects, users
from core.services.principals import sign_in_principal

PETS = ProjectSettings.model_validate(
    {"name": "Pets", "taskType": "image_multiclass", "labelClasses": [{"name": "cat"}]}
)


def test_the_first_user_is_the_admin_and_grants_who_may_create(deps: Deps) -> None:
    first, _ = users.create_user(deps, name="ada")
    later, _ = users.create_user(deps, name="bob")
    assert first.roles == [UserRole.ADMIN] and later.roles == []
    with pytest.raises(Forbidden, match="ask a Loupe admin to grant you the creator role"):
        projects.create_project(deps, settings=PETS, actor="bob")
    with pytest.raises(Forbidden, match="only a Loupe admin"):
        users.set_role(deps, name="bob", role=UserRole.CREATOR, granted=True, actor="bob")
    users.set_role(deps, name="bob", role=UserRole.CREATOR, granted=True, actor="ada")
    made = projects.create_project(deps, settings=PETS, actor="bob").value
    assert made.members == {"bob": "owner"}  # an admin does not see it: not a member
    assert projects.list_projects(deps, actor="ada") == []
    users.set_role(deps, name="bob", role=UserRole.CREATOR, granted=False, actor="ada")
    with pytest.raises(Forbidden):
        projects.create_project(deps, settings=PETS.model_copy(update={"name": "B"}), actor="bob")
    assert [u.id for u in users.list_users(deps, actor="ada")] == ["ada", "bob"]
    with pytest.raises(Forbidden):
        users.list_users(deps, actor="bob")
    with pytest.raises(NotFound):
        users.set_role(deps, name="nobody", role=UserRole.CREATOR, granted=True, actor="ada")


def test_the_last_admin_stays_an_admin(deps: Deps) -> None:
    users.create_user(deps, name="ada")
    users.create_user(deps, name="bob", roles=[UserRole.ADMIN])
    users.set_role(deps, name="ada", role=UserRole.ADMIN, granted=False, actor="bob")
    with pytest.raises(Conflict, match="last admin"):
        users.set_role(deps, name="bob", role=UserRole.ADMIN, granted=False, actor="bob")
    assert users.get_user(deps, name="bob").is_admin
    # With an admin there, a new user is no admin of its own accord.
    assert users.create_user(deps, name="cy")[0].roles == []


def test_principals_become_admins_only_when_the_setting_names_them(deps: Deps) -> None:
    def principal(name: str) -> ClientPrincipal:
        return ClientPrincipal("aad", f"id-{name}", name, frozenset({"authenticated"}))

    first = sign_in_principal(deps, principal("eve@contoso.com"))
    assert first.roles == []  # being first through the front door is no privilege
    admins = frozenset({"ann@contoso.com"})
    assert sign_in_principal(deps, principal("ann@contoso.com"), admins=admins).is_admin
    again = sign_in_principal(
        deps, principal("eve@contoso.com"), admins=admins | {"eve@contoso.com"}
    )
    assert again.is_admin and users.get_user(deps, name="eve@contoso.com").is_admin
