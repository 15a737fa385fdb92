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
from core.services.collections import load
from core.services.versioned import Versioned, same_etag

ATTEMPTS = 5

M = TypeVar("M", bound=DomainModel)


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
    stale: str | None = None
    """The PreconditionFailed message when the caller's etag is not the stored one."""


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
        current = current or _read(target)
        if current is None:
            return None
        if if_match is not None and not same_etag(current.etag, if_match):
            raise PreconditionFailed(target.stale or _stale(target))
        after = change(current.value)
        if after is None:
            return Changed(current.value, current)
        try:
            saved = target.container.upsert(after.to_doc(), if_match=current.etag)
        except PreconditionFailed:
            if if_match is not None:
                raise
            current = None
            continue
        return Changed(current.value, Versioned(after, saved.etag))
    raise Conflict(f"{target.noun} {target.id!r} keeps changing; try again")


def _read(target: Target[M]) -> Versioned[M] | None:
    document = target.container.get(target.pk, target.id)
    if document is None:
        if target.missing is not None:
            raise NotFound(target.missing)
        return None
    return Versioned(load(target.model, document), document.etag)


def _stale(target: Target[M]) -> str:
    return f"{target.noun} {target.id!r} changed since you saw it: look again"
