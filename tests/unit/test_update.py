"""The one write path: a change is applied to the stored version and written over it; another
writer coming first makes it read again and apply the change to what they wrote, unless the
caller named the version they saw."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from core.adapters.memory import MemoryDocumentStore
from core.domain.errors import Conflict, NotFound, PreconditionFailed
from core.domain.users import User, UserRole
from core.ports import CountingIds
from core.store.collections import USERS, load
from core.store.update import Target, update, write_over

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def target() -> Target[User]:
    users = MemoryDocumentStore().container(USERS)
    users.create(User(id="ada", created_at=NOW).to_doc())
    return Target(users, User, "ada", "ada", noun="user", missing="no user 'ada'")


def _grant(role: UserRole) -> Callable[[User], User]:
    def change(user: User) -> User:
        return user.model_copy(update={"roles": sorted({*user.roles, role})})

    return change


def _stored(target: Target[User]) -> User:
    return load(User, target.container.read("ada", "ada"))


def _meanwhile(target: Target[User], role: UserRole, times: int = 1) -> Callable[[User], User]:
    """A change that lets another writer grant `role` first, `times` times."""
    left = [times]

    def change(user: User) -> User:
        if left[0]:
            left[0] -= 1
            update(target, _grant(role))
        return _grant(UserRole.CREATOR)(user)

    return change


def test_a_change_is_applied_again_over_a_concurrent_write(target: Target[User]) -> None:
    done = update(target, _meanwhile(target, UserRole.ADMIN))

    assert done is not None and done.written
    assert _stored(target).roles == [UserRole.ADMIN, UserRole.CREATOR]  # neither write lost
    assert done.before.roles == [UserRole.ADMIN]  # what the change was applied to


def test_a_caller_who_saw_an_older_version_is_told_not_retried(target: Target[User]) -> None:
    seen = target.container.read("ada", "ada").etag
    update(target, _grant(UserRole.ADMIN))

    with pytest.raises(PreconditionFailed, match="user 'ada' changed since you saw it"):
        update(target, _grant(UserRole.CREATOR), if_match=seen)
    assert _stored(target).roles == [UserRole.ADMIN]


def test_a_caller_whose_version_loses_the_race_is_told(target: Target[User]) -> None:
    seen = target.container.read("ada", "ada").etag

    with pytest.raises(PreconditionFailed):
        update(target, _meanwhile(target, UserRole.ADMIN), if_match=seen)
    assert _stored(target).roles == [UserRole.ADMIN]


def test_a_document_that_keeps_changing_is_a_conflict(target: Target[User]) -> None:
    with pytest.raises(Conflict, match="user 'ada' keeps changing; try again"):
        update(target, _meanwhile(target, UserRole.ADMIN, times=3), attempts=3)


def test_nothing_to_change_writes_nothing(target: Target[User]) -> None:
    before = target.container.read("ada", "ada").etag

    done = update(target, lambda user: None)

    assert done is not None and not done.written and done.after.etag == before
    assert target.container.read("ada", "ada").etag == before


def test_a_missing_document_is_not_found_or_nothing(target: Target[User]) -> None:
    gone = Target(target.container, User, "bob", "bob", noun="user", missing="no user 'bob'")
    with pytest.raises(NotFound, match="no user 'bob'"):
        update(gone, _grant(UserRole.ADMIN))
    quiet = Target(target.container, User, "bob", "bob", noun="user")
    assert update(quiet, _grant(UserRole.ADMIN)) is None


def test_write_over_gives_way_to_a_write_that_came_first(target: Target[User]) -> None:
    read = target.container.read("ada", "ada")
    update(target, _grant(UserRole.ADMIN))

    assert write_over(target.container, load(User, read), read.etag) is None
    assert _stored(target).roles == [UserRole.ADMIN]
    with pytest.raises(PreconditionFailed):
        write_over(target.container, load(User, read), read.etag, stale=read.etag)


def test_counted_ids_repeat_from_run_to_run() -> None:
    first, second = CountingIds(), CountingIds()

    made = [first.token(16), first.token(6), first.token()]

    assert made == [second.token(16), second.token(6), second.token()]
    assert made == ["0000000000000000", "000001", f"{2:032x}"]
