"""The one write path for a stored document: read it, apply a change, write it over the version
read, and on a concurrent write read again and apply the change again.

A change is a function of the document's current value (a method of the domain object, most
often); it returns None when there is nothing to write. A caller that names the version it saw
(`if_match`: a user's If-Match) gets `PreconditionFailed` when the document moved on since, never
a silent retry over what they did not see."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from core.domain.errors import Conflict, NotFound, PreconditionFailed
from core.domain.model import DomainModel
from core.ports import DocumentContainer
from core.store.documents import load
from core.store.versioned import Versioned, same_etag

ATTEMPTS = 5

M = TypeVar("M", bound=DomainModel)
T = TypeVar("T")


@dataclass(frozen=True)
class Changed(Generic[M]):
    before: M
    after: Versioned[M]
    """The stored version: `before`'s own, when the change left nothing to write."""

    @property
    def written(self) -> bool:
        return self.after.value is not self.before


@dataclass(frozen=True)
class Target(Generic[M]):
    """Which document: its container, shape, partition key and id, and the words that name
    it in errors (`missing`: the NotFound message; None makes a missing document no error)."""

    container: DocumentContainer
    model: type[M]
    pk: str
    id: str
    noun: str
    missing: str | None = None


def update(
    target: Target[M],
    change: Callable[[M], M | None],
    *,
    if_match: str | None = None,
    current: Versioned[M] | None = None,
    attempts: int = ATTEMPTS,
) -> Changed[M] | None:
    """`change` applied to the stored document and written; None when the document is gone
    (and `target.missing` is None). `current` is a version in hand already (saves a read)."""
    for _ in range(attempts):
        current = current or read(target)
        if current is None:
            return None
        if if_match is not None and not same_etag(current.etag, if_match):
            raise PreconditionFailed(
                f"{target.noun} {target.id!r} changed since you saw it: look again"
            )
        after = change(current.value)
        if after is None:
            return Changed(current.value, current)
        if (saved := write_over(target.container, after, current.etag, stale=if_match)) is None:
            current = None
            continue
        return Changed(current.value, saved)
    raise Conflict(f"{target.noun} {target.id!r} keeps changing; try again")


def update_or_create(
    target: Target[M], change: Callable[[M], M | None], fresh: M
) -> Changed[M] | None:
    """`update`, or where the document does not exist yet, `change` applied to `fresh` and
    created (None when that leaves nothing to write); a create that loses to a concurrent one
    is an `update` of what that one made."""
    done = update(target, change)
    if done is not None:
        return done
    after = change(fresh)
    if after is None:
        return None
    try:
        saved = target.container.create(after.to_doc())
    except Conflict:
        return update(target, change)
    return Changed(fresh, Versioned(after, saved.etag))


def write_over(
    container: DocumentContainer, after: M, etag: str, *, stale: str | None = None
) -> Versioned[M] | None:
    """`after` written over the stored version `etag`; None when another write came first
    (the caller moves on: an item another labeler took, a step another delivery recorded),
    unless the caller sent `stale`, the version they saw: then it is theirs to hear."""
    try:
        saved = container.upsert(after.to_doc(), if_match=etag)
    except PreconditionFailed:
        if stale is not None:
            raise
        return None
    return Versioned(after, saved.etag)


def retried(attempt: Callable[[], T], *, conflict: str, attempts: int = ATTEMPTS) -> T:
    """`attempt` again while it loses a race (`PreconditionFailed`): for a write of several
    documents that `update` cannot hold, `attempt` reading them all again each time."""
    for _ in range(attempts):
        try:
            return attempt()
        except PreconditionFailed:
            continue
    raise Conflict(conflict)


def read(target: Target[M]) -> Versioned[M] | None:
    """The stored document; None when it is missing (and `target.missing` is None)."""
    document = target.container.get(target.pk, target.id)
    if document is None:
        if target.missing is not None:
            raise NotFound(target.missing)
        return None
    return Versioned(load(target.model, document), document.etag)
