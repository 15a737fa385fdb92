"""Relations through labeling, consensus and review: an answer keeps its relations, two
labelers who drew the same ones agree, a reviewer fixes them, and renaming a label class
follows into the relation classes' ends."""

from __future__ import annotations

import io
from typing import Any

import pytest

from core.domain.errors import InvalidAnnotation, InvalidInput
from core.domain.exports import ExportFormat
from core.domain.items import Item, ItemState
from core.domain.projects import Project, Role
from core.ports import Deps, Query
from core.services import exports, label_classes, labeling, projects, review, tasks
from core.services.exports import ExportOptions
from core.services.imports import ImportFormat, ImportMode, import_labels
from core.store.collections import ITEMS, scan
from tests.support.labeling import add_items, running_project

TEXT = "Ada Lovelace met Charles Babbage in London ."
SPANS = [
    {"label": "PER", "start": 0, "end": 12},
    {"label": "PER", "start": 17, "end": 32},
    {"label": "LOC", "start": 36, "end": 42},
]
BORN = {"label": "born_in", "from": 0, "to": 36}
MET = {"label": "met", "from": 17, "to": 0}
CREW = {"lee": Role.LABELER, "lou": Role.LABELER, "rita": Role.REVIEWER}


RELATION_CLASSES = [
    {"name": "born_in", "heads": ["PER"], "tails": ["LOC"]},
    {"name": "met", "directed": False},
]


def people(deps: Deps, relations: list[Any] = RELATION_CLASSES, **settings: Any) -> Project:
    project = running_project(
        deps,
        task_type="text_ner",
        classes=("PER", "LOC"),
        members=CREW,
        relationClasses=relations,
        **settings,
    )
    add_items(deps, project, 1, text=TEXT)
    return project


def answer(deps: Deps, project: Project, who: str, *relations: dict[str, Any]) -> Item:
    task = tasks.next_task(deps, project_id=project.id, actor=who)
    return labeling.submit_annotation(
        deps,
        project_id=project.id,
        actor=who,
        item_id=task.items[0].id,
        value={"spans": SPANS, "relations": list(relations)},
    )


def stored(deps: Deps, project: Project, item_id: str) -> dict[str, Any]:
    return deps.documents.container(ITEMS).read(project.id, item_id).body


def test_two_labelers_who_drew_the_same_relations_agree(deps: Deps) -> None:
    project = people(deps, consensus={"minLabelers": 2, "maxLabelers": 3})
    answer(deps, project, "lee", BORN, MET)
    done = answer(deps, project, "lou", MET, BORN)
    assert done.state is ItemState.LABELED
    document = stored(deps, project, done.id)
    assert document["final"]["relations"] == [
        {"label": "met", "from": 0, "to": 17},
        {"label": "born_in", "from": 0, "to": 36},
    ]


def test_a_relation_breaking_the_classes_rules_is_refused(deps: Deps) -> None:
    project = people(deps)
    backwards = {"label": "born_in", "from": 36, "to": 0}
    with pytest.raises(InvalidAnnotation, match=r"value.relations\[0\]: 'born_in' links PER"):
        answer(deps, project, "lee", backwards)


def test_a_reviewer_fixes_the_relations_in_place(deps: Deps) -> None:
    project = people(deps)
    done = answer(deps, project, "lee", MET)
    fixed = review.review_item(
        deps,
        project_id=project.id,
        actor="rita",
        item_id=done.id,
        decision="approve",
        value={"spans": SPANS, "relations": [BORN]},
    )
    assert stored(deps, project, fixed.id)["final"]["relations"] == [BORN]


def test_renaming_a_label_class_renames_it_at_the_relation_classes_ends(deps: Deps) -> None:
    project = people(deps)
    projects.pause_project(deps, project_id=project.id, actor="olive")
    renamed = label_classes.rename_label_class(
        deps, project_id=project.id, actor="olive", old="PER", new="Person"
    )
    assert renamed.value.relation_classes[0].heads == ["Person"]
    assert renamed.value.relation_classes[1].heads is None


def test_a_loupe_jsonl_export_imports_with_its_relations_checked(deps: Deps) -> None:
    project = people(deps, consensus={"minLabelers": 1, "maxLabelers": 1})
    done = answer(deps, project, "lee", BORN, MET)
    _, _, body = exports.open_export(
        deps,
        project_id=project.id,
        actor="olive",
        format=ExportFormat.LOUPE_JSONL,
        options=ExportOptions(),
    )
    data = b"".join(body)
    copy = people(deps, name="People again")
    report = import_labels(
        deps,
        project_id=copy.id,
        actor="olive",
        format=ImportFormat.LOUPE_JSONL,
        data=io.BytesIO(data),
        mode=ImportMode.FINAL,
    )
    assert report.records == 1
    found = scan(deps.documents.container(ITEMS), copy.id, Query(page_size=50))
    (imported,) = [d for d in found if d.body.get("final")]
    assert imported.body["final"] == stored(deps, project, done.id)["final"]
    # The same file into a project whose relation classes lack `met` is refused whole.
    strict = people(deps, [RELATION_CLASSES[0]], name="Births only")
    with pytest.raises(InvalidInput, match="nothing was imported: the file has 1 problem"):
        import_labels(
            deps,
            project_id=strict.id,
            actor="olive",
            format=ImportFormat.LOUPE_JSONL,
            data=io.BytesIO(data),
            mode=ImportMode.FINAL,
        )
