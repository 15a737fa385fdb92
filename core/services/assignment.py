"""Assignment: an owner reserves items for one labeler (by ids or by a path prefix); they come
first in that labeler's queue and go to nobody else until released."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from core.domain.errors import InvalidInput
from core.domain.items import Item
from core.domain.projects import Role
from core.domain.tasks import assigned
from core.ports import Deps, Document
from core.services import audit
from core.services.worklog import item_target, member_project
from core.store.collections import ITEMS, load
from core.store.repositories.items import Items, assignee_of
from core.store.update import update
from core.store.versioned import Versioned

MAX_ITEMS = 50_000


def assign_items(
    deps: Deps,
    *,
    project_id: str,
    actor: str,
    labeler: str,
    item_ids: list[str] | None = None,
    path_prefix: str | None = None,
    limit: int = MAX_ITEMS,
) -> int:
    """Reserve the matching unlabeled items for `labeler`; returns how many changed."""
    project = member_project(deps, project_id, actor, Role.OWNER)
    if labeler not in project.members:
        raise InvalidInput.one(
            "labeler", f"{labeler!r} is not a member of {project.name!r}; add them first"
        )
    matched = _selected(deps, project_id, item_ids, path_prefix, limit)
    changed = _set_assignee(deps, matched, labeler, deps.clock.now())
    audit.record(
        deps,
        project_id=project_id,
        actor=actor,
        action="items.assigned",
        subject=project_id,
        after={
            "labeler": labeler,
            "itemIds": item_ids,
            "pathPrefix": path_prefix,
            "count": changed,
        },
    )
    return changed


def release_items(
    deps: Deps,
    *,
    project_id: str,
    actor: str,
    labeler: str | None = None,
    item_ids: list[str] | None = None,
    path_prefix: str | None = None,
) -> int:
    """Lift reservations: of `labeler` (all theirs, or those matching ids or prefix), or of
    whoever holds the matching items."""
    member_project(deps, project_id, actor, Role.OWNER)
    if labeler is not None and item_ids is None and path_prefix is None:
        matched: Iterable[Document] = Items(deps, project_id).reserved_for(labeler)
    else:
        matched = _selected(deps, project_id, item_ids, path_prefix, MAX_ITEMS)
    chosen = (d for d in matched if labeler is None or assignee_of(d) == labeler)
    changed = _set_assignee(deps, chosen, None, deps.clock.now())
    audit.record(
        deps,
        project_id=project_id,
        actor=actor,
        action="items.released",
        subject=project_id,
        after={
            "labeler": labeler,
            "itemIds": item_ids,
            "pathPrefix": path_prefix,
            "count": changed,
        },
    )
    return changed


def _selected(
    deps: Deps,
    project_id: str,
    item_ids: list[str] | None,
    path_prefix: str | None,
    limit: int,
) -> Iterator[Document]:
    if (item_ids is None) == (path_prefix is None):
        raise InvalidInput.one("itemIds", "give either itemIds or pathPrefix (one of them)")
    if not 1 <= limit <= MAX_ITEMS:
        raise InvalidInput.one("limit", f"must be between 1 and {MAX_ITEMS}")
    items = deps.documents.container(ITEMS)
    if item_ids is not None:
        if len(item_ids) > limit:
            raise InvalidInput.one("itemIds", f"at most {limit} ids at once")
        for item_id in dict.fromkeys(item_ids):
            found = items.get(project_id, item_id)
            if found is None:
                raise InvalidInput.one("itemIds", f"item {item_id!r} is not in this project")
            yield found
        return
    assert path_prefix is not None
    for index, document in enumerate(Items(deps, project_id).under_path(path_prefix)):
        if index >= limit:
            return
        yield document


def _set_assignee(
    deps: Deps, documents: Iterable[Document], labeler: str | None, now: datetime
) -> int:
    changed = 0
    for document in list(documents):
        item = Versioned(load(Item, document), document.etag)
        target = item_target(deps, item.value.project_id, item.value.id, gone_ok=True)
        done = update(target, lambda it: assigned(it, labeler, now), current=item)
        changed += bool(done and done.written)
    return changed
