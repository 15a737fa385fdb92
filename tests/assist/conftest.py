"""Projects of real images and texts, ingested through the real stages, and a labeler who
answers with the truth: what ML assist learns from in these tests."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import pytest

from core.domain.items import Item
from core.domain.projects import ProjectSettings, Role
from core.ports import CountingIds, Deps, Query
from core.services.labeling import submit_annotation
from core.services.members import set_member
from core.services.projects import create_project
from core.services.tasks import next_task
from core.services.uploads import upload_file
from core.store.collections import ITEMS, USERS, load, scan
from tests.support.assist import drain
from tests.support.deps import memory_deps
from tests.support.labeling import users

OWNER, LABELER = "olive", "lee"


@pytest.fixture
def deps() -> Iterator[Deps]:
    """Queue order follows from item ids, which follow from the project id: counted ids make
    every run label the same items, so a test's figures are the same on every machine."""
    made = memory_deps(ids=CountingIds())
    yield made
    made.close()


@dataclass
class Labeled:
    project_id: str
    truth: dict[str, str]
    """Item id → its true class."""


def create(deps: Deps, task_type: str, classes: Sequence[str], **assist: object) -> str:
    settings = ProjectSettings.model_validate(
        {
            "name": f"Assist {task_type}",
            "taskType": task_type,
            "labelClasses": [{"name": c} for c in classes],
            "assist": {"enabled": True, **assist},
        }
    )
    if deps.documents.container(USERS).get(LABELER, LABELER) is None:
        users(deps, OWNER, LABELER)
    project = create_project(deps, settings=settings, actor=OWNER).value
    drain(deps)
    set_member(deps, project_id=project.id, actor=OWNER, user=LABELER, role=Role.LABELER)
    return project.id


def upload(deps: Deps, project_id: str, files: Sequence[tuple[str, bytes]]) -> dict[str, str]:
    """Path → item id."""
    ids = {}
    for path, data in files:
        _, items = upload_file(
            deps, project_id=project_id, path=path, data=io.BytesIO(data), actor=OWNER
        )
        ids[path] = items[0].id
    drain(deps)  # renditions
    return ids


def label(
    deps: Deps, project_id: str, count: int, answer: Callable[[Item], dict[str, object]]
) -> list[Item]:
    """The labeler takes `count` tasks in queue order and answers each with `answer`."""
    done = []
    for _ in range(count):
        task = next_task(deps, project_id=project_id, actor=LABELER)
        for item in task.items:
            done.append(
                submit_annotation(
                    deps,
                    project_id=project_id,
                    actor=LABELER,
                    item_id=item.id,
                    value=answer(item),
                )
            )
    return done


def items(deps: Deps, project_id: str) -> list[Item]:
    container = deps.documents.container(ITEMS)
    return [load(Item, d) for d in scan(container, project_id, Query(page_size=500))]
