"""Reading and writing items for the labeling services: project access by role, one item
change written with its audit event, and the actor's progress counters."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from core.domain.errors import Conflict, ProjectPaused
from core.domain.events import audit_documents
from core.domain.items import Item
from core.domain.progress import ActorStats, Delta, add, document_change, item_change
from core.domain.projects import Project, ProjectStatus, Role, require_role
from core.ports import Deps, Document, JsonDoc
from core.services import audit
from core.services.projects import get_project
from core.store.collections import EVENTS, ITEMS, STATS
from core.store.update import Changed, Target, read, update, update_or_create
from core.store.versioned import Versioned

_AUDITED = (
    "state", "annotations", "skips", "final", "review", "assignee", "prefill", "removed",
    "comments",
)  # fmt: skip


def member_project(deps: Deps, project_id: str, actor: str, *roles: Role) -> Project:
    """The live project, if `actor` holds one of `roles` in it (owners hold every role)."""
    project = get_project(deps, project_id=project_id).value
    require_role(project, actor, *roles)
    return project


def labeling_project(deps: Deps, project_id: str, actor: str) -> Project:
    """A project that hands out and takes labels now: running, and `actor` may label."""
    project = member_project(deps, project_id, actor, Role.LABELER, Role.REVIEWER)
    if project.status is ProjectStatus.PAUSED:
        raise ProjectPaused(
            f"project {project.name!r} is paused: no tasks are handed out or taken until an "
            "owner resumes it"
        )
    if project.status is not ProjectStatus.RUNNING:
        raise Conflict(
            f"project {project.name!r} is {project.status.value}, not running: tasks start "
            "once its data is registered"
        )
    return project


def item_target(
    deps: Deps, project_id: str, item_id: str, *, gone_ok: bool = False
) -> Target[Item]:
    """The stored item; a missing one is `NotFound`, or nothing to do when `gone_ok`."""
    missing = None if gone_ok else f"item {item_id!r} is not in this project"
    return Target(
        deps.documents.container(ITEMS), Item, project_id, item_id, noun="item", missing=missing
    )


def read_item(deps: Deps, project_id: str, item_id: str) -> Versioned[Item]:
    current = read(item_target(deps, project_id, item_id))
    assert current is not None  # a missing item raised
    return current


def change_item(
    deps: Deps,
    project_id: str,
    item_id: str,
    change: Callable[[Item], Item],
    *,
    actor: str,
    action: str,
    if_match: str | None = None,
) -> Changed[Item]:
    """`change` written over the stored item (again on a concurrent write, unless the caller
    named the version they saw), with an audit event saying who did what."""
    done = update(item_target(deps, project_id, item_id), change, if_match=if_match)
    assert done is not None  # a missing item raised
    audited(deps, done, actor=actor, action=action)
    return done


def audited(deps: Deps, done: Changed[Item], *, actor: str, action: str) -> Item:
    """The audit event of a change written; returns the item after it."""
    audit_change(deps, done.before, done.after.value, actor=actor, action=action)
    return done.after.value


def save_items(
    deps: Deps,
    project_id: str,
    changes: Sequence[tuple[Document, Item]],
    *,
    actor: str,
    action: str,
) -> list[Document | None]:
    """Many item changes in one project at the cost of two writes: each item after the change
    written over the stored `Document` it was made from (etag-checked, one bulk write), then
    the audit events of those written (one more). In order, the document saved, or None for an item
    changed or removed since it was read (read it again). Each item is written whole or not at
    all; a crash between the two writes leaves written items without their events."""
    afters = [after.to_doc() for _, after in changes]
    written = deps.documents.container(ITEMS).replace_many(
        [(body, before.etag) for (before, _), body in zip(changes, afters, strict=True)]
    )
    logged = [
        (body["id"], _summary_of(before.body), _summary_of(body))
        for (before, _), body, stored in zip(changes, afters, written, strict=True)
        if stored is not None
    ]
    # Their events, one bulk write of new ids: nothing is overwritten.
    events = audit_documents(
        tokens=[deps.ids.token(8) for _ in logged],
        project_id=project_id,
        at=deps.clock.now(),
        actor=actor,
        action=action,
        changes=logged,
    )
    deps.documents.container(EVENTS).upsert_many(events)
    return written


def audit_change(deps: Deps, before: Item, after: Item, *, actor: str, action: str) -> None:
    audit_stored(deps, after, (before.to_doc(), after.to_doc()), actor=actor, action=action)


def audit_stored(
    deps: Deps, after: Item, documents: tuple[JsonDoc, JsonDoc], *, actor: str, action: str
) -> None:
    """`audit_change` given the documents of the item before and after, dumped once already."""
    audit.record_json(
        deps,
        project_id=after.project_id,
        actor=actor,
        action=action,
        subject=after.id,
        before=_summary_of(documents[0]),
        after=_summary_of(documents[1]),
    )


def _summary_of(document: JsonDoc) -> dict[str, Any]:
    """The labeling part of an item, as the audit trail keeps it."""
    return {key: document[key] for key in _AUDITED if key in document}


def count(deps: Deps, project_id: str, actor: str, delta: Delta) -> None:
    """Add `delta` to `actor`'s counters; retried on a concurrent write by the same actor."""
    container = deps.documents.container(STATS)
    target = Target(container, ActorStats, project_id, actor, noun="the counters of")

    def counted(stats: ActorStats) -> ActorStats:
        return add(stats, delta, now=deps.clock.now())

    update_or_create(target, counted, ActorStats(id=actor, project_id=project_id))


def changed(before: Item | None, after: Item | None, **events: int | str | None) -> Delta:
    return _with(item_change(before, after), events)


def changed_stored(documents: tuple[JsonDoc, JsonDoc], **events: int | str | None) -> Delta:
    """`changed` given the documents of the item before and after, dumped once already."""
    return _with(document_change(*documents), events)


def _with(delta: Delta, events: dict[str, int | str | None]) -> Delta:
    for name, value in events.items():
        setattr(delta, name, value)
    return delta
