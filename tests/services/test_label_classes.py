"""Label-class changes are all or nothing on every adapter set: a refused change writes nothing;
a saved one reaches every item, through a crash mid-rewrite, a labeler's concurrent save, a
writer that died before starting the rewrite, and repeated deliveries; one change at a time."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from core.domain.annotation_json import read_value
from core.domain.errors import Conflict, InvalidInput, LoupeError
from core.domain.items import Item, ItemState
from core.domain.labels import LabelClass
from core.domain.projects import Project, Role
from core.domain.relabel import LABEL_CLASSES, ExistingLabels
from core.ports import Deps, DocumentContainer, JsonDoc, Query
from core.services import label_classes, projects, stages
from core.store.collections import ITEMS, PROJECTS, load, scan
from tests.support.faults import Crash, FaultyDocuments
from tests.support.labeling import add_items, running_project

ITEMS_N = 11


def labeled(deps: Deps, count: int = ITEMS_N) -> Project:
    """A paused project whose items are labeled "cat" by lee (final, prediction and prefill)."""
    project = running_project(deps, members={"lee": Role.LABELER})
    value = {"label": "cat"}
    add_items(
        deps,
        project,
        count,
        state=ItemState.LABELED,
        final=value,
        prefill=value,
        annotations=[{"user": "lee", "at": deps.clock.now(), "value": value}],
    )
    deps.clock.advance(1)  # type: ignore[attr-defined]  # a ManualClock
    return projects.pause_project(deps, project_id=project.id, actor="olive").value


def items(deps: Deps, project: Project) -> list[Item]:
    found = scan(deps.documents.container(ITEMS), project.id, Query(page_size=500))
    return [load(Item, document) for document in found]


def snapshot(deps: Deps, project: Project) -> tuple[Any, ...]:
    """Everything a class change could touch: the project document and every item's."""
    stored = deps.documents.container(PROJECTS).read(project.id, project.id)
    return (
        stored.body,
        stored.etag,
        sorted((i.id, i.model_dump_json()) for i in items(deps, project)),
    )


def uses(item: Item, label: str) -> bool:
    return label in item.model_dump_json()


def drain(deps: Deps, *, handling: Deps | None = None) -> int:
    """Run the stage until its queue is empty; returns how many messages it handled."""
    handled = 0
    while messages := deps.queue.receive(LABEL_CLASSES, max_messages=10):
        for message in messages:
            stages.handle(handling or deps, message.queue, message.body)
            deps.queue.complete(message)
            handled += 1
    return handled


def pending(deps: Deps, project: Project) -> Any:
    return projects.get_project(deps, project_id=project.id).value.relabeling


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(label_classes, "BATCH", 4)  # several batches out of a few items


def test_refused_class_changes_write_nothing(deps: Deps) -> None:
    project = labeled(deps)
    before = snapshot(deps, project)
    attempts = [
        lambda: label_classes.rename_label_class(
            deps, project_id=project.id, actor="olive", old="cat", new="dog"
        ),
        lambda: label_classes.rename_label_class(
            deps, project_id=project.id, actor="olive", old="zebra", new="horse"
        ),
        lambda: label_classes.rename_label_class(
            deps, project_id=project.id, actor="olive", old="cat", new=" spaced "
        ),
        lambda: label_classes.add_label_classes(
            deps,
            project_id=project.id,
            actor="olive",
            classes=[LabelClass(name="dog")],
            existing=ExistingLabels.START_OVER,
        ),
        lambda: label_classes.add_label_classes(
            deps,
            project_id=project.id,
            actor="lee",
            classes=[LabelClass(name="fox")],
            existing=ExistingLabels.START_OVER,
        ),
    ]
    for attempt in attempts:
        with pytest.raises((LoupeError, ValidationError)):
            attempt()
    projects.resume_project(deps, project_id=project.id, actor="olive")
    with pytest.raises(Conflict, match="pause"):
        label_classes.rename_label_class(
            deps, project_id=project.id, actor="olive", old="cat", new="kitten"
        )
    projects.pause_project(deps, project_id=project.id, actor="olive")
    body, _, stored = snapshot(deps, project)
    assert stored == before[2] and body["labelClasses"] == before[0]["labelClasses"]
    assert drain(deps) == 0  # no rewrite was started


def test_a_crash_mid_rewrite_is_retried_and_every_item_ends_renamed(deps: Deps) -> None:
    project = labeled(deps)
    label_classes.rename_label_class(
        deps, project_id=project.id, actor="olive", old="cat", new="kitten"
    )
    crashing = dataclasses.replace(deps, documents=FaultyDocuments(deps.documents, "items"))
    crashes = 0
    for crash_after in (2, 0, 3):  # a crash in the first batch, at once, then in another batch
        assert isinstance(crashing.documents, FaultyDocuments)
        crashing.documents.writes, crashing.documents.crash_after = 0, crash_after
        (message,) = deps.queue.receive(LABEL_CLASSES)
        with pytest.raises(Crash):
            stages.handle(crashing, message.queue, message.body)
        crashes += 1
        deps.queue.abandon(message)  # the lock runs out: delivered again
        if crash_after == 0:
            continue
        (message,) = deps.queue.receive(LABEL_CLASSES)  # this time the batch completes
        stages.handle(deps, message.queue, message.body)
        deps.queue.complete(message)
    drain(deps)
    found = items(deps, project)
    assert len(found) == ITEMS_N and not [i.path for i in found if uses(i, '"cat"')]
    assert all(i.final == read_value({"label": "kitten"}) == i.prefill for i in found)
    assert pending(deps, project) is None and crashes == 3


def test_an_item_saved_meanwhile_is_read_again_and_still_renamed(deps: Deps) -> None:
    project = labeled(deps, count=3)
    label_classes.rename_label_class(
        deps, project_id=project.id, actor="olive", old="cat", new="kitten"
    )
    interfered: list[str] = []

    def labeler_saves_first(container: DocumentContainer, body: JsonDoc) -> None:
        if body["id"] in interfered:
            return
        interfered.append(body["id"])
        current = container.read(body["projectId"], body["id"])
        container.upsert(current.body | {"assignee": "lee"}, if_match=current.etag)

    racing = dataclasses.replace(
        deps, documents=FaultyDocuments(deps.documents, "items", before_write=labeler_saves_first)
    )
    drain(deps, handling=racing)
    found = items(deps, project)
    assert len(interfered) == 3
    assert all(i.final == read_value({"label": "kitten"}) and i.assignee == "lee" for i in found)


def test_a_change_whose_writer_died_before_the_rewrite_is_started_by_the_sweep(deps: Deps) -> None:
    project = labeled(deps)

    class DeadQueue:
        def send(self, *args: object, **kwargs: object) -> str:
            raise Crash("died before sending")

    with pytest.raises(Crash):
        label_classes.add_label_classes(
            dataclasses.replace(deps, queue=DeadQueue()),  # type: ignore[arg-type]
            project_id=project.id,
            actor="olive",
            classes=[LabelClass(name="fox")],
            existing=ExistingLabels.START_OVER,
        )
    waiting = pending(deps, project)
    assert waiting is not None and not waiting.sent
    assert label_classes.send_pending_rewrites(deps) == 0  # its writer may still be at it
    deps.clock.advance(label_classes.UNSENT_GRACE.total_seconds())  # type: ignore[attr-defined]
    assert label_classes.send_pending_rewrites(deps) == 1
    assert label_classes.send_pending_rewrites(deps) == 0  # sent once
    drain(deps)
    found = items(deps, project)
    assert all(i.state is ItemState.UNLABELED and not i.annotations for i in found)
    assert all(i.removed and i.removed[0].final == read_value({"label": "cat"}) for i in found)
    assert pending(deps, project) is None


def test_one_change_at_a_time_and_a_retried_request_is_recognised(deps: Deps) -> None:
    project = labeled(deps)
    first = label_classes.rename_label_class(
        deps, project_id=project.id, actor="olive", old="cat", new="kitten"
    )
    again = label_classes.rename_label_class(
        deps, project_id=project.id, actor="olive", old="cat", new="kitten"
    )
    assert again.etag == first.etag  # the same change, not a second one
    with pytest.raises(Conflict, match="rename of 'cat' to 'kitten'"):
        label_classes.rename_label_class(
            deps, project_id=project.id, actor="olive", old="dog", new="puppy"
        )
    with pytest.raises(Conflict, match="applied to every item"):
        label_classes.add_label_classes(
            deps,
            project_id=project.id,
            actor="olive",
            classes=[LabelClass(name="fox")],
            existing=ExistingLabels.KEEP,
        )
    current = projects.get_project(deps, project_id=project.id)
    with pytest.raises(Conflict):
        projects.set_label_classes(
            deps,
            project_id=project.id,
            classes=[*current.value.label_classes, LabelClass(name="fox")],
            if_match=current.etag,
            actor="olive",
        )
    messages = drain(deps)
    assert messages == 3  # ceil(11 / 4) batches, once each
    assert pending(deps, project) is None
    assert drain(deps) == 0
    renamed = label_classes.rename_label_class(
        deps, project_id=project.id, actor="olive", old="dog", new="puppy"
    )
    assert [c.name for c in renamed.value.label_classes] == ["kitten", "puppy", "bird"]


def test_a_delivery_repeated_after_the_change_was_applied_does_nothing(deps: Deps) -> None:
    project = labeled(deps, count=3)
    label_classes.rename_label_class(
        deps, project_id=project.id, actor="olive", old="cat", new="kitten"
    )
    (message,) = deps.queue.receive(LABEL_CLASSES)
    stages.handle(deps, message.queue, message.body)
    deps.queue.complete(message)
    assert pending(deps, project) is None
    before = snapshot(deps, project)
    # Adding "cat" back after the rename: a stale rename message must not touch its new labels.
    deps.clock.advance(1)  # type: ignore[attr-defined]
    label_classes.add_label_classes(
        deps,
        project_id=project.id,
        actor="olive",
        classes=[LabelClass(name="cat")],
        existing=ExistingLabels.KEEP,
    )
    stages.handle(deps, LABEL_CLASSES, message.body)  # delivered again
    assert sorted((i.id, i.model_dump_json()) for i in items(deps, project)) == before[2]


def test_the_sweep_leaves_sent_and_finished_changes_alone(deps: Deps) -> None:
    project = labeled(deps, count=2)
    label_classes.rename_label_class(
        deps, project_id=project.id, actor="olive", old="cat", new="kitten"
    )
    later = deps.clock.now() + timedelta(hours=1)
    assert label_classes.send_pending_rewrites(deps, now=later) == 0
    drain(deps)
    assert label_classes.send_pending_rewrites(deps, now=later) == 0
    with pytest.raises(InvalidInput):
        label_classes.rename_label_class(
            deps, project_id=project.id, actor="olive", old="cat", new="kitten"
        )
