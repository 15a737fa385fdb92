"""Projects ready for labeling, written directly (no ingestion): a running project with members
and items registered as the ingestion stage would leave them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from core.domain.errors import Conflict
from core.domain.items import Item, item_id
from core.domain.projects import Project, ProjectSettings, ProjectStatus, Role, transition
from core.domain.task_types import TaskType
from core.domain.users import UserRole
from core.ports import Deps
from core.services import projects
from core.services.users import create_user, set_role
from core.store.collections import ITEMS, PROJECTS


def running_project(
    deps: Deps,
    *,
    name: str = "Pets",
    task_type: str = "image_multiclass",
    classes: Iterable[str] = ("cat", "dog", "bird"),
    members: Mapping[str, Role] | None = None,
    owner: str = "olive",
    **settings: Any,
) -> Project:
    fields = {
        "name": name,
        "taskType": task_type,
        "labelClasses": [{"name": c} for c in classes],
    } | settings
    creator(deps, owner)
    created = projects.create_project(
        deps, settings=ProjectSettings.model_validate(fields), actor=owner
    )
    running = transition(created.value, ProjectStatus.RUNNING, now=deps.clock.now())
    running = running.model_copy(update={"members": {owner: Role.OWNER, **(members or {})}})
    deps.documents.container(PROJECTS).upsert(running.to_doc(), if_match=created.etag)
    return running


def add_items(
    deps: Deps,
    project: Project,
    count: int,
    *,
    prefix: str = "img/",
    text: str | None = None,
    **fields: Any,
) -> list[str]:
    """`count` unlabeled items; ids returned in queue order (lowest rank first)."""
    now = deps.clock.now()
    kind = TaskType(project.task_type).media
    items = []
    for index in range(count):
        path = f"{prefix}{index:06d}.{'txt' if text is not None else 'jpg'}"
        identity = item_id(project.id, path)
        rank = int(hashlib.sha256(identity.encode()).hexdigest()[:12], 16) / float(1 << 48)
        items.append(
            Item(
                id=identity,
                project_id=project.id,
                path=path,
                kind=kind,
                rank=rank,
                text=text,
                created_at=now,
                updated_at=now,
                **fields,
            )
        )
    deps.documents.container(ITEMS).upsert_many(item.to_doc() for item in items)
    return [item.id for item in sorted(items, key=lambda i: (i.rank, i.id))]


def users(deps: Deps, *names: str) -> dict[str, str]:
    """Create users; their tokens by name. The first user of a store becomes its admin."""
    return {name: create_user(deps, name=name)[1] for name in names}


def creator(deps: Deps, name: str) -> None:
    """Make `name` a user who may create projects (created if need be)."""
    try:
        create_user(deps, name=name, roles=[UserRole.CREATOR])
    except Conflict:
        set_role(deps, name=name, role=UserRole.CREATOR, granted=True)
