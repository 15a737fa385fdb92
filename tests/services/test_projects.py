from __future__ import annotations

from dataclasses import replace

import pytest

from core.domain.datasets import Dataset, DataSource
from core.domain.errors import Conflict, Forbidden, NotFound, PreconditionFailed
from core.domain.items import Item, ItemState
from core.domain.messages import PROJECT_INIT
from core.domain.projects import Project, ProjectPatch, ProjectSettings, ProjectStatus
from core.ports import Deps, Query
from core.services import projects, stages
from core.services.ingestion import source_of
from core.services.refresh import register_blob
from core.store.collections import EVENTS, ITEMS, PROJECTS, load, scan
from tests.support.labeling import creator
from tests.support.media import image_bytes

NAMES = ("ann", "bo")


@pytest.fixture(autouse=True)
def _creators(deps: Deps) -> None:
    """The users these tests create projects as (creating one takes the creator role)."""
    for name in NAMES:
        creator(deps, name)


def birds(**changes: object) -> ProjectSettings:
    fields: dict[str, object] = {
        "name": "Birds",
        "taskType": "image_multiclass",
        "labelClasses": [{"name": "gull"}, {"name": "tern"}],
    }
    return ProjectSettings.model_validate(fields | changes)


def run_queue(deps: Deps) -> int:
    """Run every stage until the queues are empty; returns how many init messages ran."""
    handled = 0
    while messages := [m for q in stages.QUEUE_SPECS for m in deps.queue.receive(q)]:
        for message in messages:
            stages.handle(deps, message.queue, message.body)
            deps.queue.complete(message)
            handled += message.queue == PROJECT_INIT
    return handled


def test_create_enqueues_initialization_that_registers_items(deps: Deps) -> None:
    for name in (
        "birds/a.jpg",
        "birds/b.PNG",
        "birds/nested/c.tif",
        "birds/notes.txt",
        "fish/d.jpg",
    ):
        deps.blobs.put("lake", name, image_bytes("PNG"))  # real pictures: each is probed
    dataset = Dataset(source=DataSource.BLOB, container="lake", path="birds/**")
    created = projects.create_project(deps, settings=birds(dataset=dataset), actor="ann")
    assert created.value.status is ProjectStatus.INITIALIZING

    assert run_queue(deps) == 1
    project = projects.get_project(deps, project_id=created.value.id).value
    assert project.status is ProjectStatus.RUNNING
    items = [load(Item, d) for d in scan(deps.documents.container(ITEMS), project.id, Query())]
    assert sorted(i.path for i in items) == ["birds/a.jpg", "birds/b.PNG", "birds/nested/c.tif"]
    assert all(i.state is ItemState.UNLABELED and 0 <= i.rank < 1 for i in items)


def test_initialization_is_idempotent(deps: Deps) -> None:
    deps.blobs.put("lake", "x/a.jpg", b"x")
    dataset = Dataset(source=DataSource.BLOB, container="lake", path="x")
    created = projects.create_project(deps, settings=birds(dataset=dataset), actor="ann")
    stages.handle(deps, PROJECT_INIT, {"projectId": created.value.id})
    stages.handle(deps, PROJECT_INIT, {"projectId": created.value.id})
    run_queue(deps)
    assert deps.documents.container(ITEMS).count(created.value.id) == 1


def test_text_projects_keep_the_text_and_mark_bad_encoding(deps: Deps) -> None:
    deps.blobs.put("docs", "a.txt", "Grüße".encode())
    deps.blobs.put("docs", "b.txt", "café".encode("latin-1"))  # not UTF-8, and no BOM
    dataset = Dataset(source=DataSource.BLOB, container="docs", path="**/.")
    settings = birds(taskType="text_multiclass", dataset=dataset)
    created = projects.create_project(deps, settings=settings, actor="ann")
    run_queue(deps)
    items = {
        i.path: i
        for i in (
            load(Item, d) for d in scan(deps.documents.container(ITEMS), created.value.id, Query())
        )
    }
    assert items["a.txt"].text == "Grüße"
    assert items["b.txt"].state is ItemState.ERROR
    assert "not UTF-8" in (items["b.txt"].error or "")


def test_names_are_unique_forever(deps: Deps) -> None:
    first = projects.create_project(deps, settings=birds(), actor="ann")
    with pytest.raises(Conflict, match="never reused"):
        projects.create_project(deps, settings=birds(name="  birds".strip().upper()), actor="bo")
    projects.delete_project(deps, project_id=first.value.id, actor="ann")
    with pytest.raises(NotFound):
        projects.get_project(deps, project_id=first.value.id)
    with pytest.raises(Conflict, match="even after deletion"):
        projects.create_project(deps, settings=birds(), actor="ann")


def test_rename_reserves_the_new_name_and_may_return_to_the_old(deps: Deps) -> None:
    created = projects.create_project(deps, settings=birds(), actor="ann")
    renamed = projects.update_project(
        deps,
        project_id=created.value.id,
        patch=ProjectPatch(name="Seabirds"),
        if_match=created.etag,
        actor="ann",
    )
    with pytest.raises(Conflict):
        projects.create_project(deps, settings=birds(name="Seabirds"), actor="bo")
    back = projects.update_project(
        deps,
        project_id=created.value.id,
        patch=ProjectPatch(name="Birds"),
        if_match=renamed.etag,
        actor="ann",
    )
    assert back.value.name == "Birds"


def test_stale_etag_is_refused_and_nothing_changes(deps: Deps) -> None:
    created = projects.create_project(deps, settings=birds(), actor="ann")
    projects.update_project(
        deps,
        project_id=created.value.id,
        patch=ProjectPatch(incremental_refresh=False),
        if_match=created.etag,
        actor="ann",
    )
    with pytest.raises(PreconditionFailed, match="changed since you read it"):
        projects.update_project(
            deps,
            project_id=created.value.id,
            patch=ProjectPatch(name="Other"),
            if_match=created.etag,
            actor="ann",
        )
    assert projects.get_project(deps, project_id=created.value.id).value.name == "Birds"


def test_only_owners_change_and_only_members_see(deps: Deps) -> None:
    created = projects.create_project(deps, settings=birds(), actor="ann")
    with pytest.raises(Forbidden):
        projects.get_project(deps, project_id=created.value.id, actor="mallory")
    with pytest.raises(Forbidden):
        projects.pause_project(deps, project_id=created.value.id, actor="mallory")
    assert projects.list_projects(deps, actor="mallory") == []
    assert [p.id for p in projects.list_projects(deps, actor="ann")] == [created.value.id]


def test_pause_and_resume_and_audit_trail(deps: Deps) -> None:
    created = projects.create_project(deps, settings=birds(), actor="ann")
    with pytest.raises(Conflict, match="still initializing"):
        projects.resume_project(deps, project_id=created.value.id, actor="ann")
    run_queue(deps)
    paused = projects.pause_project(deps, project_id=created.value.id, actor="ann")
    assert paused.value.status is ProjectStatus.PAUSED
    assert projects.pause_project(deps, project_id=created.value.id, actor="ann") == paused
    resumed = projects.resume_project(deps, project_id=created.value.id, actor="ann")
    assert resumed.value.status is ProjectStatus.RUNNING
    actions = [
        d.body["action"] for d in scan(deps.documents.container(EVENTS), created.value.id, Query())
    ]
    assert sorted(actions) == sorted(
        ["project.created", "project.initialized", "project.paused", "project.running"]
    )


def test_list_is_newest_first_and_skips_deleted(deps: Deps) -> None:
    clock = deps.clock
    ids = []
    for name in ("one", "two", "three"):
        ids.append(projects.create_project(deps, settings=birds(name=name), actor="ann").value.id)
        clock.advance(1)  # type: ignore[attr-defined]
    projects.delete_project(deps, project_id=ids[1], actor="ann")
    assert [p.id for p in projects.list_projects(deps, actor="ann")] == [ids[2], ids[0]]


def test_blob_datasets_only_where_the_deployment_allows(deps: Deps) -> None:
    lake = Dataset(source=DataSource.BLOB, container="lake", path="birds/**")
    for dataset, says in (
        (Dataset(source=DataSource.BLOB, container="vault", path="**/."), "outside the places"),
        (Dataset(source=DataSource.BLOB, container="data", path="uploads/x/**"), "uploads"),
        (Dataset(source=DataSource.BLOB, container="exports", path="**/."), "Loupe's own"),
        (Dataset(source=DataSource.BLOB, container="derivatives", path="p/**"), "Loupe's own"),
    ):
        with pytest.raises(Forbidden, match=says):
            projects.create_project(deps, settings=birds(dataset=dataset), actor="ann")
    # Refused before anything was written: the name is still free.
    created = projects.create_project(deps, settings=birds(dataset=lake), actor="ann")
    vault = ProjectPatch(dataset=Dataset(source=DataSource.BLOB, container="vault", path="a"))
    with pytest.raises(Forbidden):
        projects.update_project(
            deps, project_id=created.value.id, patch=vault, if_match=created.etag, actor="ann"
        )
    # The deployment stops allowing the lake: the project's files are no longer read.
    deps.blobs.put("lake", "birds/a.jpg", image_bytes("PNG"))
    closed = replace(deps, dataset_roots=())
    assert register_blob(closed, container="lake", name="birds/a.jpg") == []
    with pytest.raises(Forbidden, match="outside the places"):
        source_of(closed, projects.get_project(closed, project_id=created.value.id).value)


def test_a_change_to_a_project_deleted_meanwhile_is_not_found_and_records_nothing(
    deps: Deps,
) -> None:
    seen = projects.create_project(deps, settings=birds(), actor="ann")
    projects.delete_project(deps, project_id=seen.value.id, actor="ann")
    events = deps.documents.container(EVENTS)
    before = len(list(scan(events, seen.value.id, Query())))

    def rename(project: Project) -> Project:
        return project.model_copy(update={"name": "Seabirds"})

    # Retried over the stored version after the delete: the tombstone, which stays as it is.
    with pytest.raises(NotFound, match="deleted"):
        projects.change_project(deps, seen, rename, actor="ann", action="project.renamed")
    assert len(list(scan(events, seen.value.id, Query()))) == before
    document = deps.documents.container(PROJECTS).get(seen.value.id, seen.value.id)
    assert document is not None
    stored = load(Project, document)
    assert stored.is_deleted and stored.name == "Birds"
