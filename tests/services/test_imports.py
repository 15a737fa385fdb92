"""Imports are all or nothing on every adapter set: a file with any problem is refused whole,
with every problem's place; a good one is written idempotently, so that sending it again
changes nothing and completes an import that was cut off; labelers saving meanwhile are read
again, never overwritten blindly nor lost."""

from __future__ import annotations

import dataclasses
import io
import json
from typing import Any

import pytest

from core.domain.annotation_json import read_value
from core.domain.errors import Conflict, InvalidImport
from core.domain.imports import ImportStatus
from core.domain.items import Item, ItemState, MediaFacts
from core.domain.projects import Project, Role
from core.ports import Deps, DocumentContainer, JsonDoc, Query
from core.services import imports
from core.services.imports import ImportFormat, ImportMode, import_labels
from core.store.collections import EVENTS, IMPORTS, ITEMS, PROJECTS, load, scan
from tests.support.faults import Crash, FaultyDocuments
from tests.support.labeling import add_items, running_project

MEDIA = MediaFacts(format="jpeg", bytes=1000, width=640, height=480)
CLASSES = ("cat", "dog", "bird")


def box(label: str, i: int) -> dict[str, Any]:
    return {"label": label, "x": 0.001 * i, "y": 0.25, "w": 0.5, "h": 0.125}


def project_of(deps: Deps, count: int) -> Project:
    project = running_project(
        deps, task_type="image_bounding_box", classes=CLASSES, members={"lee": Role.LABELER}
    )
    add_items(deps, project, count, media=MEDIA)
    return project


def jsonl(lines: list[Any]) -> bytes:
    return b"".join(
        (line if isinstance(line, bytes) else json.dumps(line).encode()) + b"\n" for line in lines
    )


def finals_file(count: int, label: str = "cat") -> list[Any]:
    return [{"path": f"img/{i:06d}.jpg", "final": {"boxes": [box(label, i)]}} for i in range(count)]


def run(deps: Deps, project: Project, data: bytes, **options: Any) -> imports.ImportReport:
    options = {"format": ImportFormat.LOUPE_JSONL, "mode": ImportMode.FINAL} | options
    return import_labels(
        deps, project_id=project.id, actor="olive", data=io.BytesIO(data), **options
    )


def stored(deps: Deps, project: Project) -> list[tuple[str, str, str]]:
    """Every item document of the project with its etag: any write shows."""
    found = scan(deps.documents.container(ITEMS), project.id, Query(page_size=500))
    return sorted((d.id, d.etag, json.dumps(d.body, sort_keys=True)) for d in found)


def items(deps: Deps, project: Project) -> dict[str, Item]:
    found = scan(deps.documents.container(ITEMS), project.id, Query(page_size=500))
    return {d.body["path"]: load(Item, d) for d in found}


def test_a_bad_line_after_the_first_batch_refuses_the_whole_file(deps: Deps) -> None:
    project = project_of(deps, 150)
    before = stored(deps, project)
    lines = finals_file(150)
    lines[119] = b'{"path": "img/000119.jpg", "final": {"boxes": ['  # cut off
    lines[139] = {"path": "img/000139.jpg", "final": {"boxes": [box("zebra", 1)]}}
    lines[144] = {"path": "img/000144.jpg", "final": {"boxes": "none"}}
    lines[146] = {"path": "img/000146.jpg", "final": {"boxes": [{"label": "yak"}]}}
    with pytest.raises(InvalidImport) as refused:
        run(deps, project, jsonl(lines))
    found = [(v.field, v.rule) for v in refused.value.violations]
    assert [where for where, _ in found][:3] == ["line 120", "line 140", "line 145"]
    assert {where for where, _ in found[3:]} == {"line 147"}
    assert found[0][1].startswith("is not valid JSON")
    assert "'zebra' is not a label class" in found[1][1]
    assert found[2][1].startswith("boxes: must be a list")
    # A box without coordinates still names its unknown class in the summary.
    assert refused.value.unknown_classes == ["yak", "zebra"] and refused.value.omitted == 0
    assert stored(deps, project) == before
    assert deps.documents.container(IMPORTS).count(project.id) == 0


def test_problems_are_listed_up_to_a_cap_and_counted_beyond(deps: Deps) -> None:
    project = project_of(deps, 1)
    lines: list[Any] = [{"path": f"p{i}.jpg", "final": 5} for i in range(250)]
    with pytest.raises(InvalidImport) as refused:
        run(deps, project, jsonl(lines))
    assert len(refused.value.violations) == 100 and refused.value.omitted == 150
    assert refused.value.violations[99].field == "line 100"
    assert "250 problem(s); the first 100 are listed" in str(refused.value)


def test_an_unknown_coco_category_is_an_error_for_its_image_not_a_dropped_box(deps: Deps) -> None:
    project = project_of(deps, 2)
    first = run(deps, project, jsonl(finals_file(2, "dog")))
    assert first.updated == 2
    before = stored(deps, project)
    coco = {
        "images": [
            {"id": 1, "file_name": "img/000000.jpg", "width": 640, "height": 480},
            {"id": 2, "file_name": "img/000001.jpg", "width": 640, "height": 480},
        ],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 1, "bbox": [0, 0, 64, 48]},
            {"id": 11, "image_id": 1, "category_id": 2, "bbox": [0, 0, 64, 48]},
            {"id": 12, "image_id": 2, "category_id": 7, "bbox": [0, 0, 64, 48]},
        ],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "zebra"}],
    }
    with pytest.raises(InvalidImport) as refused:
        run(deps, project, json.dumps(coco).encode(), format=ImportFormat.COCO)
    found = [(v.field, v.rule) for v in refused.value.violations]
    assert found[0] == ("annotation id 12", "category_id 7 is not in the categories")
    assert found[1][0] == "image id 1, annotation id 11"
    assert "'zebra' is not a label class" in found[1][1]
    assert stored(deps, project) == before  # image 1's final keeps its dog box


def test_unmatched_paths_are_reported_and_skipped_but_a_file_matching_nothing_is_refused(
    deps: Deps,
) -> None:
    project = project_of(deps, 2)
    lines = [*finals_file(2), {"path": "elsewhere/a.jpg", "final": {"boxes": []}}]
    report = run(deps, project, jsonl(lines))
    assert (report.updated, report.unmatched, report.unmatched_paths) == (2, 1, ["elsewhere/a.jpg"])
    before = stored(deps, project)
    moved = [{**line, "path": "data/" + line["path"]} for line in finals_file(2, "dog")]
    with pytest.raises(InvalidImport) as refused:
        run(deps, project, jsonl(moved))
    (problem,) = refused.value.violations
    assert problem.field == "file" and problem.rule.startswith("none of its 2 path(s)")
    assert stored(deps, project) == before


def test_the_same_file_again_changes_nothing(deps: Deps) -> None:
    project = project_of(deps, 5)
    data = jsonl(finals_file(5))
    first = run(deps, project, data)
    assert (first.updated, first.unchanged, first.resumed) == (5, 0, False)
    before = stored(deps, project)
    deps.clock.advance(60)  # type: ignore[attr-defined]  # a ManualClock
    again = run(deps, project, data)
    assert (again.updated, again.unchanged, again.resumed, again.job) == (0, 5, False, first.job)
    assert stored(deps, project) == before  # not even a new annotation time
    job = deps.documents.container(IMPORTS).read(project.id, first.job).body
    assert (job["status"], job["attempts"], job["items"]) == (ImportStatus.APPLIED, 2, 5)


def test_an_import_cut_off_while_writing_is_completed_by_sending_the_file_again(
    deps: Deps,
) -> None:
    project = project_of(deps, 230)
    data = jsonl(finals_file(230))
    crashing = dataclasses.replace(
        deps, documents=FaultyDocuments(deps.documents, "items", crash_after=130)
    )
    with pytest.raises(Crash):
        run(crashing, project, data)
    written = [i for i in items(deps, project).values() if i.final is not None]
    assert len(written) == 130
    report = run(deps, project, data)
    assert (report.resumed, report.updated, report.unchanged) == (True, 100, 130)
    done = items(deps, project)
    assert all(
        i.state is ItemState.LABELED
        and i.final == read_value({"boxes": [box("cat", int(p[4:10]))]})
        for p, i in done.items()
    )
    assert all(len(i.annotations) == 1 for i in done.values())


def test_a_labeler_saving_meanwhile_is_read_again(deps: Deps) -> None:
    project = project_of(deps, 3)
    interfered: list[str] = []

    def labeler_saves_first(container: DocumentContainer, body: JsonDoc) -> None:
        if body["id"] in interfered:
            return
        interfered.append(body["id"])
        current = container.read(body["projectId"], body["id"])
        answer = {"user": "lee", "at": current.body["updatedAt"], "value": {"boxes": []}}
        labeled = current.body | {
            "state": "labeled",
            "final": {"boxes": []},
            "annotations": [answer],
        }
        container.upsert(labeled, if_match=current.etag)

    racing = dataclasses.replace(
        deps, documents=FaultyDocuments(deps.documents, "items", before_write=labeler_saves_first)
    )
    report = run(racing, project, jsonl(finals_file(3)))
    assert report.updated == 3 and len(interfered) == 3
    for item in items(deps, project).values():
        assert item.final is not None and item.final.boxes[0].label == "cat"
        assert sorted(a.user for a in item.annotations) == ["lee", "olive"]  # lee's answer kept
    # As pre-labels, the labeler's answer wins: the item is left as the labeler made it.
    fresh = running_project(deps, name="Other", task_type="image_bounding_box", classes=CLASSES)
    add_items(deps, fresh, 3, media=MEDIA)
    interfered.clear()
    report = run(racing, fresh, jsonl(finals_file(3)), mode=ImportMode.PRELABEL)
    assert (report.updated, report.kept_labeled) == (0, 3)
    assert all(i.prediction is None for i in items(deps, fresh).values())


def test_a_class_change_while_writing_stops_the_import_with_a_conflict(deps: Deps) -> None:
    count = imports.BATCH + 50  # a second batch: the change is seen before it
    project = project_of(deps, count)
    lines = [
        {"path": f"img/{i:06d}.jpg", "final": {"boxes": [box("cat", i % 400)]}}
        for i in range(count)
    ]

    def owner_renames(container: DocumentContainer, body: JsonDoc) -> None:
        projects = deps.documents.container(PROJECTS)
        current = projects.read(project.id, project.id)
        classes = [
            c | {"name": "kitten"} if c["name"] == "cat" else c
            for c in current.body["labelClasses"]
        ]
        projects.upsert(current.body | {"labelClasses": classes}, if_match=current.etag)

    racing = dataclasses.replace(
        deps, documents=FaultyDocuments(deps.documents, "items", before_write=owner_renames)
    )
    with pytest.raises(Conflict, match="label classes changed"):
        run(racing, project, jsonl(lines))
    # One batch at most went in against the old classes; the rest waits for the file again.
    assert len([i for i in items(deps, project).values() if i.final]) <= imports.BATCH
    with pytest.raises(InvalidImport, match="classes the project lacks: cat"):
        run(deps, project, jsonl(lines))


def test_every_item_written_in_bulk_has_its_own_audit_event(deps: Deps) -> None:
    """A thousand items are written at once under one clock reading: their events still have
    an id each (a bulk write of events would silently keep one of two sharing an id)."""
    count = imports.BATCH + 10
    project = project_of(deps, count)
    boxes = [{"boxes": [box("cat", i % 400)]} for i in range(count)]
    lines = [{"path": f"img/{i:06d}.jpg", "final": value} for i, value in enumerate(boxes)]
    report = run(deps, project, jsonl(lines))
    assert report.updated == count
    query = Query(page_size=1000)
    events = [e.body for e in scan(deps.documents.container(EVENTS), project.id, query)]
    imported = [e for e in events if e["action"] == "item.imported.final"]
    assert len(imported) == count
    assert len({e["subject"] for e in imported}) == count
