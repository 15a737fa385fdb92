"""Ingestion on every adapter set: initialization in batches with progress, every file type,
bad input, the item cap, duplicate delivery, blob events, the refresh sweep and renditions."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core.domain.datasets import Dataset, DataSource
from core.domain.errors import NotFound
from core.domain.ingest import BatchResult, Tally, batch_id
from core.domain.items import Item, ItemState
from core.domain.messages import INGEST_BATCH, PROJECT_INIT, IngestBatch
from core.domain.projects import Project, ProjectSettings, ProjectStatus
from core.ports import Deps, DocumentContainer, JsonDoc, Query
from core.services import ingestion, labeling, projects, stages, tasks
from core.services.derivatives import DERIVATIVES
from core.services.ingestion import ingestion_progress
from core.services.refresh import reconcile, register_blob
from core.store.collections import ITEMS, PROJECTS, load, scan
from core.store.repositories.ingest import Ingest
from tests.support.faults import FaultyDocuments
from tests.support.labeling import creator
from tests.support.media import (
    FORMAT_OF,
    bundled_dicom,
    image_bytes,
    made_dicom,
    multipage_tiff,
)

NAMES = ("ann",)


@pytest.fixture(autouse=True)
def _creators(deps: Deps) -> None:
    """The users these tests create projects as (creating one takes the creator role)."""
    for name in NAMES:
        creator(deps, name)


def settings(
    path: str = "in/**", task: str = "image_multiclass", **changes: object
) -> ProjectSettings:
    fields: dict[str, object] = {
        "name": "Lake",
        "taskType": task,
        "labelClasses": [{"name": "a"}, {"name": "b"}],
        "dataset": Dataset(source=DataSource.BLOB, container="lake", path=path),
    }
    return ProjectSettings.model_validate(fields | changes)


def drain(deps: Deps, *queues: str) -> int:
    """Run every stage until the queues are empty, as the workers would."""
    handled = 0
    names = queues or tuple(stages.QUEUE_SPECS)
    while True:
        batch = [(q, m) for q in names for m in deps.queue.receive(q, max_messages=50)]
        if not batch:
            return handled
        for queue, message in batch:
            stages.handle(deps, queue, message.body)
            deps.queue.complete(message)
            handled += 1


def items_of(deps: Deps, project_id: str) -> dict[str, Item]:
    documents = scan(deps.documents.container(ITEMS), project_id, Query(page_size=500))
    return {i.path: i for i in (load(Item, d) for d in documents)}


def status(deps: Deps, project_id: str) -> ProjectStatus:
    return projects.get_project(deps, project_id=project_id).value.status


def test_every_image_type_and_every_bad_input(deps: Deps) -> None:
    good = {
        f"in/ok{ext.upper() if ext == '.png' else ext}": image_bytes(FORMAT_OF[ext], (64, 48))
        for ext in FORMAT_OF
    }
    for name, data in good.items():
        deps.blobs.put("lake", name, data)
    deps.blobs.put("lake", "in/pages.tif", multipage_tiff(3))
    deps.blobs.put("lake", "in/ct.dcm", bundled_dicom("CT_small.dcm"))
    deps.blobs.put("lake", "in/mr.DICOM", bundled_dicom("MR_small.dcm"))
    bad = {
        "in/bad/zero.jpg": b"",
        "in/bad/cut-header.png": image_bytes("PNG", (50, 50))[:20],
        "in/bad/cut-pixels.png": image_bytes("PNG", (300, 300))[:400],
        "in/bad/text.jpg": b"this is not an image",
        "in/bad/bomb.png": image_bytes("PNG", (3000, 2000), mode="L"),
        "in/bad/plan.dcm": bundled_dicom("rtplan.dcm"),
        "in/bad/huge.dcm": made_dicom(
            np.zeros((2, 2)), rows=50000, columns=50000, with_pixels=False
        ),
        "in/bad/cut.dcm": bundled_dicom("MR_truncated.dcm"),
    }
    for name, data in bad.items():
        deps.blobs.put("lake", name, data)
    deps.blobs.put("lake", "in/notes.txt", b"not for an image project")
    deps.blobs.put("lake", "in/anim.gif", image_bytes("GIF"))
    deps.blobs.put("lake", "elsewhere/x.jpg", image_bytes("JPEG"))
    project = projects.create_project(
        deps, settings=settings(ingest={"maxPixels": 5_000_000}), actor="ann"
    ).value

    drain(deps)

    assert status(deps, project.id) is ProjectStatus.RUNNING
    items = items_of(deps, project.id)
    assert set(items) == {*good, *bad, "in/pages.tif", "in/ct.dcm", "in/mr.DICOM"}
    for name in good:
        item = items[name]
        assert item.state is ItemState.UNLABELED, item.error
        assert item.media is not None and (item.media.width, item.media.height) == (64, 48)
        assert item.derivatives is not None
        assert deps.blobs.exists(*item.derivatives.thumbnail.split("/", 1))
    assert items["in/pages.tif"].media is not None and items["in/pages.tif"].media.frames == 3
    ct = items["in/ct.dcm"]
    assert ct.dicom is not None and ct.dicom.modality == "CT" and ct.dicom.window_width
    assert ct.derivatives is not None and ct.derivatives.display.startswith(f"{DERIVATIVES}/")
    reasons = {name[7:]: items[name].error or "" for name in bad}
    assert all(items[name].state is ItemState.ERROR for name in bad), reasons
    assert "empty file" in reasons["zero.jpg"]
    assert "truncated" in reasons["cut-header.png"]
    assert "truncated" in reasons["cut-pixels.png"]
    assert "not a readable image" in reasons["text.jpg"]
    assert "maxPixels" in reasons["bomb.png"] and "maxPixels" in reasons["huge.dcm"]
    assert "without an image" in reasons["plan.dcm"]
    assert "cannot decode" in reasons["cut.dcm"]

    progress = ingestion_progress(deps, project_id=project.id, actor="ann")
    assert progress.status == "running" and progress.listing_complete
    assert progress.total == len(good) + len(bad) + 3 + 2
    assert progress.skipped_reasons == {
        ".txt: not a file type image projects take": 1,
        ".gif: not a file type image projects take": 1,
    }
    # The items are the count: pixel damage found while decoding (after registering) counts
    # as failed once the item is marked.
    assert progress.failed == len(bad) and progress.registered == len(good) + 3


def test_text_files_rows_and_bad_encodings(deps: Deps) -> None:
    deps.blobs.put("lake", "in/a.txt", "Grüße".encode())
    deps.blobs.put("lake", "in/latin.txt", "café".encode("latin-1"))
    deps.blobs.put("lake", "in/rows.csv", b"id,body\n1,first\n2,\n3,third\n")
    deps.blobs.put("lake", "in/rows.tsv", b"body\tx\ntab one\t1\n")
    deps.blobs.put("lake", "in/lines.jsonl", b'{"body": "j1"}\n{"nope": 1}\n')
    deps.blobs.put("lake", "in/pic.png", image_bytes())
    ingest = {"textColumn": "body", "textField": "body"}
    project = projects.create_project(
        deps, settings=settings(task="text_multiclass", ingest=ingest), actor="ann"
    ).value
    drain(deps)
    items = items_of(deps, project.id)
    assert items["in/a.txt"].text == "Grüße" and items["in/a.txt"].chars == 5
    assert items["in/latin.txt"].state is ItemState.ERROR
    assert "not UTF-8" in (items["in/latin.txt"].error or "")
    assert items["in/rows.csv#1"].text == "first" and items["in/rows.csv#1"].row == 1
    assert items["in/rows.csv#3"].text == "third"
    assert "in/rows.csv#2" not in items  # empty text: skipped, counted
    assert items["in/rows.tsv#1"].text == "tab one"
    assert items["in/lines.jsonl#1"].text == "j1"
    assert items["in/lines.jsonl#2"].state is ItemState.ERROR
    progress = ingestion_progress(deps, project_id=project.id, actor="ann")
    assert progress.skipped_reasons == {
        "empty text": 1,
        ".png: not a file type text projects take": 1,
    }
    assert (progress.registered, progress.failed) == (5, 2)


def test_batches_report_progress_and_the_last_one_starts_the_project(
    deps: Deps, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingestion, "BATCH_FILES", 3)
    for i in range(10):
        deps.blobs.put("lake", f"in/{i:02d}.png", image_bytes(size=(8, 8)))
    project = projects.create_project(deps, settings=settings(), actor="ann").value
    assert drain(deps, PROJECT_INIT) == 1
    progress = ingestion_progress(deps, project_id=project.id, actor="ann")
    assert (progress.status, progress.total, progress.batches) == ("initializing", 10, 4)
    assert (progress.registered, progress.batches_done) == (0, 0)

    (first,) = deps.queue.receive(INGEST_BATCH)
    stages.handle(deps, INGEST_BATCH, first.body)
    stages.handle(deps, INGEST_BATCH, first.body)  # delivered twice: counted once
    deps.queue.complete(first)
    progress = ingestion_progress(deps, project_id=project.id, actor="ann")
    assert (progress.registered, progress.batches_done) == (3, 1)
    assert status(deps, project.id) is ProjectStatus.INITIALIZING

    drain(deps, INGEST_BATCH)
    assert status(deps, project.id) is ProjectStatus.RUNNING
    assert ingestion_progress(deps, project_id=project.id, actor="ann").registered == 10
    ranks = {i.path: i.rank for i in items_of(deps, project.id).values()}
    assert len(set(ranks.values())) == 10  # shuffled: the order is not the listing's


def test_item_cap_keeps_the_first_in_listing_order(deps: Deps) -> None:
    for name in ("in/a.txt", "in/b.csv", "in/c.txt", "in/d.txt"):
        body = b"text\nr1\nr2\nr3\n" if name.endswith(".csv") else b"hello"
        deps.blobs.put("lake", name, body)
    project = projects.create_project(
        deps, settings=settings(task="text_ner", ingest={"itemCap": 3}), actor="ann"
    ).value
    drain(deps)
    assert sorted(items_of(deps, project.id)) == ["in/a.txt", "in/b.csv#1", "in/b.csv#2"]
    progress = ingestion_progress(deps, project_id=project.id, actor="ann")
    assert progress.skipped_reasons == {"over the item cap": 3}  # b.csv#3, c.txt, d.txt


def test_redelivery_never_overwrites_labels_or_moves_ranks(deps: Deps) -> None:
    deps.blobs.put("lake", "in/a.png", image_bytes())
    project = projects.create_project(deps, settings=settings(), actor="ann").value
    (init,) = deps.queue.receive(PROJECT_INIT)
    stages.handle(deps, PROJECT_INIT, init.body)
    (batch,) = deps.queue.receive(INGEST_BATCH)
    stages.handle(deps, INGEST_BATCH, batch.body)
    items = deps.documents.container(ITEMS)
    (stored,) = list(scan(items, project.id, Query()))
    labeled = load(Item, stored).model_copy(update={"state": ItemState.LABELED})
    items.upsert(labeled.to_doc(), if_match=stored.etag)

    stages.handle(deps, PROJECT_INIT, init.body)  # init redelivered after running: no-op
    stages.handle(deps, INGEST_BATCH, batch.body)  # batch redelivered
    after = items_of(deps, project.id)["in/a.png"]
    assert after.state is ItemState.LABELED and after.rank == labeled.rank
    assert status(deps, project.id) is ProjectStatus.RUNNING


def test_blob_events_register_once_where_refresh_is_on(deps: Deps) -> None:
    on = projects.create_project(deps, settings=settings(), actor="ann").value
    off = projects.create_project(
        deps, settings=settings(name="Off", incrementalRefresh=False), actor="ann"
    ).value
    other = projects.create_project(
        deps, settings=settings(name="Other", path="other/**"), actor="ann"
    ).value
    drain(deps)
    deps.blobs.put("lake", "in/new.png", image_bytes())
    for _ in range(3):  # the same event delivered three times
        made = register_blob(deps, container="lake", name="in/new.png")
        assert [i.project_id for i in made] == [on.id]
    reconcile(deps)  # a sweep overlapping the event
    assert list(items_of(deps, on.id)) == ["in/new.png"]
    assert items_of(deps, off.id) == {} and items_of(deps, other.id) == {}
    assert register_blob(deps, container="lake", name="in/notes.txt") == []


def test_a_file_registered_twice_at_once_keeps_what_a_labeler_did_in_between(
    deps: Deps,
) -> None:
    """An upload and the watcher's event register one file at the same time; the slower
    registration writes after the item was registered, handed out and answered. It must
    change nothing: writing an unlabeled copy over it loses the answer."""
    project = projects.create_project(deps, settings=settings(), actor="ann").value
    drain(deps)
    deps.blobs.put("lake", "in/new.png", image_bytes())
    raced: list[str] = []

    def registered_and_answered_first(container: DocumentContainer, body: JsonDoc) -> None:
        if raced:
            return
        raced.append(body["id"])
        register_blob(deps, container="lake", name="in/new.png")
        (task,) = tasks.next_task(deps, project_id=project.id, actor="ann").items
        labeling.submit_annotation(
            deps, project_id=project.id, actor="ann", item_id=task.id, value={"label": "b"}
        )

    racing = dataclasses.replace(
        deps,
        documents=FaultyDocuments(
            deps.documents, "items", before_write=registered_and_answered_first
        ),
    )
    made = register_blob(racing, container="lake", name="in/new.png")
    assert [i.id for i in made] == raced
    item = items_of(deps, project.id)["in/new.png"]
    assert item.state is ItemState.LABELED and item.labels == ["b"]
    assert [a.user for a in item.annotations] == ["ann"]


def test_sweep_finds_new_files_and_records_when(deps: Deps) -> None:
    deps.blobs.put("lake", "in/first.png", image_bytes())
    project = projects.create_project(deps, settings=settings(), actor="ann").value
    drain(deps)
    deps.blobs.put("lake", "in/missed.jpg", image_bytes("JPEG"))  # no event came for it
    deps.clock.advance(30)  # type: ignore[attr-defined]
    assert reconcile(deps) == 1
    assert reconcile(deps) == 0  # idempotent
    drain(deps)
    items = items_of(deps, project.id)
    assert sorted(items) == ["in/first.png", "in/missed.jpg"]
    assert items["in/missed.jpg"].derivatives is not None
    progress = ingestion_progress(deps, project_id=project.id, actor="ann")
    assert progress.refreshed_items == 1
    assert progress.last_refreshed_at == deps.clock.now()


def test_paused_projects_still_take_new_files_deleted_ones_do_not(deps: Deps) -> None:
    paused = projects.create_project(deps, settings=settings(), actor="ann").value
    gone = projects.create_project(deps, settings=settings(name="Gone"), actor="ann").value
    drain(deps)
    projects.pause_project(deps, project_id=paused.id, actor="ann")
    projects.delete_project(deps, project_id=gone.id, actor="ann")
    deps.blobs.put("lake", "in/x.png", image_bytes())
    assert [i.project_id for i in register_blob(deps, container="lake", name="in/x.png")] == [
        paused.id
    ]


def test_derivatives_are_idempotent(deps: Deps) -> None:
    deps.blobs.put("lake", "in/big.bmp", image_bytes("BMP", (300, 200)))
    project = projects.create_project(deps, settings=settings(), actor="ann").value
    drain(deps)
    item = items_of(deps, project.id)["in/big.bmp"]
    assert item.derivatives is not None
    display = item.derivatives.display
    assert display.startswith(f"{DERIVATIVES}/{project.id}/{item.id}/display")
    blob = deps.blobs.info(*item.derivatives.display.split("/", 1))
    ingestion.request_derivatives(deps, project, [item])  # asked again: nothing is redone
    drain(deps)
    assert deps.blobs.info(*item.derivatives.display.split("/", 1)).etag == blob.etag
    assert items_of(deps, project.id)["in/big.bmp"].derivatives == item.derivatives


def test_a_project_deleted_as_its_last_batch_ends_never_starts_running(deps: Deps) -> None:
    deps.blobs.put("lake", "in/a.png", image_bytes(size=(8, 8)))
    project = projects.create_project(deps, settings=settings(), actor="ann").value
    drain(deps, PROJECT_INIT)
    run = IngestBatch.model_validate(deps.queue.receive(INGEST_BATCH)[0].body).run
    done = BatchResult(
        id=batch_id(run, 0),
        project_id=project.id,
        run=run,
        batch=0,
        tally=Tally(),
        done_at=deps.clock.now(),
    )
    Ingest(deps, project.id).save(done)  # the last batch's result, before it starts the project
    projects.delete_project(deps, project_id=project.id, actor="ann")

    with pytest.raises(NotFound):
        ingestion.finish_if_done(deps, project_id=project.id, run=run)
    stored = load(Project, deps.documents.container(PROJECTS).get(project.id, project.id))
    assert stored.is_deleted and stored.status is ProjectStatus.INITIALIZING
