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


def _signed_in(name: str, user_id: str) -> ClientPrincipal:
    return ClientPrincipal("aad", user_id, name, frozenset({"authenticated"}))


def test_static_web_app_users_are_keyed_on_the_stable_principal_id(deps: Deps) -> None:
    ann = sign_in_principal(deps, _signed_in("ann@contoso.com", "a1b2"))
    assert (ann.id, ann.principal) == ("ann@contoso.com", "aad:a1b2")
    users.set_role(deps, name=ann.id, role=UserRole.CREATOR, granted=True)
    project = projects.create_project(deps, settings=PETS, actor=ann.id).value
    # Her e-mail changes: the same principal is the same user, with her projects and roles.
    renamed = sign_in_principal(deps, _signed_in("ann.smith@contoso.com", "a1b2"))
    assert renamed.id == "ann@contoso.com" and renamed.may_create_projects
    assert project.id in {p.id for p in projects.list_projects(deps, actor=renamed.id)}
    # Her old e-mail handed to someone else: a user of their own, nothing of hers.
    newcomer = sign_in_principal(deps, _signed_in("ann@contoso.com", "ffff"))
    assert newcomer.id != "ann@contoso.com" and newcomer.id.startswith("ann@contoso.com.")
    assert newcomer.principal == "aad:ffff" and not newcomer.may_create_projects
    assert projects.list_projects(deps, actor=newcomer.id) == []
    assert sign_in_principal(deps, _signed_in("ann@contoso.com", "ffff")).id == newcomer.id


def test_users_made_before_stable_ids_keep_their_memberships(deps: Deps) -> None:
    """Earlier versions keyed a Static Web App user on the sign-in name alone: the first
    sign-in with a stable id links that user, once, and everything stays findable."""
    users.create_user(deps, name="root")
    legacy = users.User(id="bob@contoso.com", created_at=deps.clock.now(), roles=[])
    deps.documents.container(users.USERS).create(legacy.to_doc())  # as the old code wrote it
    users.set_role(deps, name="bob@contoso.com", role=UserRole.CREATOR, granted=True)
    project = projects.create_project(deps, settings=PETS, actor="bob@contoso.com").value
    bob = sign_in_principal(deps, _signed_in("bob@contoso.com", "b0b"))
    assert (bob.id, bob.principal, bob.may_create_projects) == (
        "bob@contoso.com",
        "aad:b0b",
        True,
    )
    assert [p.id for p in projects.list_projects(deps, actor=bob.id)] == [project.id]
    # Linked once: the name no longer lets anyone else in as bob.
    other = sign_in_principal(deps, _signed_in("bob@contoso.com", "not-bob"))
    assert other.id != "bob@contoso.com"
    assert sign_in_principal(deps, _signed_in("robert@contoso.com", "b0b")).id == bob.id


def test_a_principal_without_a_stable_id_is_refused(deps: Deps) -> None:
    from core.domain.errors import Unauthorized

    with pytest.raises(Unauthorized, match="userId"):
        sign_in_principal(deps, _signed_in("eve@contoso.com", ""))


def test_admins_may_be_named_by_principal_id(deps: Deps) -> None:
    assert sign_in_principal(
        deps, _signed_in("cy@contoso.com", "c7"), admins=frozenset({"c7"})
    ).is_admin
