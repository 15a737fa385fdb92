"""Item documents written before annotation values were typed (one project per task type:
answered by two labelers, approved with a fix, rejected, pre-labeled and prefilled; written by
the code of that time through the same steps as `_written` below) read into typed values and
write back unchanged, and the same steps write the same documents today."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from core.adapters.clock import ManualClock
from core.domain.annotation_json import read_value, stored_labels
from core.domain.annotations import (
    AnnotationValue,
    BoxSet,
    MultiLabel,
    PolygonSet,
    SingleLabel,
    SpanSet,
    labels_of,
)
from core.domain.items import Item, Prediction
from core.domain.projects import Role
from core.domain.task_types import TaskType
from core.services import labeling, review, tasks
from core.store.collections import ITEMS, load
from tests.support.deps import memory_deps
from tests.support.labeling import add_items, running_project, users

BEFORE: dict[str, list[dict[str, Any]]] = json.loads(
    (Path(__file__).parent / "items_before_typed_values.json").read_text()
)
KINDS = {SingleLabel, MultiLabel, BoxSet, PolygonSet, SpanSet}
BEFORE_TYPED = [t for t in TaskType if t.value in BEFORE]
"""The task types that existed before values were typed (later ones have no older documents)."""
TEXT = "Ada Lovelace met  Charles Babbage in London ."
BOX, OTHER = (
    {"label": "dog", "x": 0.1, "y": 0.1, "w": 0.2, "h": 0.3},
    {"label": "cat", "x": 0.01, "y": 0.25, "w": 0.5, "h": 0.75},
)
# Two labelers' answers per task type, some needing normalization (float overshoot at an edge,
# a repeated vertex, spans with whitespace at their ends).
ANSWERS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "image_multiclass": ({"label": "cat"}, {"label": "dog"}),
    "text_multiclass": ({"label": "cat"}, {"label": "cat"}),
    "image_multilabel": ({"labels": ["dog", "cat"]}, {"labels": ["cat", "dog"]}),
    "text_multilabel": ({"labels": ["bird"]}, {"labels": ["cat"]}),
    "image_bounding_box": (
        {"boxes": [OTHER | {"x": 0, "h": 0.7500000001}, BOX]},
        {"boxes": [OTHER, BOX]},
    ),
    "image_polygon": (
        {"polygons": [{"label": "cat", "points": [[0, 0], [1, 0], [1, 0], [0.5, 1]]}]},
        {"polygons": [{"label": "cat", "points": [[0, 0], [1, 0], [0.5, 1.0000000001]]}]},
    ),
    "text_ner": (
        {
            "spans": [
                {"label": "cat", "start": 16, "end": 33},
                {"label": "dog", "start": 0, "end": 13},
            ]
        },
        {
            "spans": [
                {"label": "cat", "start": 18, "end": 33},
                {"label": "dog", "start": 0, "end": 12},
            ]
        },
    ),
}


def _written(task_type: str) -> list[dict[str, Any]]:
    deps = memory_deps(ManualClock(datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)))
    users(deps, "olive", "lee", "lou", "rex")
    crew = {"lee": Role.LABELER, "lou": Role.LABELER, "rex": Role.REVIEWER}
    project = running_project(
        deps, task_type=task_type, members=crew, consensus={"minLabelers": 2, "maxLabelers": 2}
    )
    ids = add_items(deps, project, 4, text=TEXT if task_type.startswith("text") else None)
    first, second = ANSWERS[task_type]
    for who, value in (("lee", first), ("lou", second)):
        for _ in range(3):
            item = tasks.next_task(deps, project_id=project.id, actor=who).items[0]
            labeling.submit_annotation(
                deps, project_id=project.id, actor=who, item_id=item.id, value=value
            )
    container = deps.documents.container(ITEMS)
    answered = [i for i in ids if container.read(project.id, i).body.get("annotations")]
    for item_id, decision in zip(answered, ("approve", "reject"), strict=False):
        review.review_item(
            deps,
            project_id=project.id,
            actor="rex",
            item_id=item_id,
            decision=decision,  # type: ignore[arg-type]
            value=second if decision == "approve" else None,
            note="again" if decision == "reject" else None,
        )
    found = container.read(project.id, next(i for i in ids if i not in answered))
    item = load(Item, found)
    guess = Prediction(
        value=labeling.validated(project, item, first), confidence=0.5, run="c1-infer"
    )
    kept = item.model_copy(
        update={"prediction": guess, "prefill": labeling.validated(project, item, second)}
    )
    container.upsert(kept.to_doc(), if_match=found.etag)
    return [container.read(project.id, i).body for i in ids]


def _comparable(document: dict[str, Any]) -> str:
    """A document without what differs from run to run (ids, and the queue order they set)."""
    kept = {k: v for k, v in document.items() if k not in ("id", "projectId", "rank", "path")}
    kept["comments"] = [{k: v for k, v in c.items() if k != "id"} for c in kept["comments"]]
    return json.dumps(kept, sort_keys=True)


def _values(item: Item) -> list[AnnotationValue | None]:
    found = [a.value for a in item.annotations]
    found += [item.final, item.prefill, item.prediction.value if item.prediction else None]
    for removed in item.removed:
        found += [a.value for a in removed.annotations] + [removed.final]
    return found


@pytest.mark.parametrize("task_type", BEFORE_TYPED)
def test_documents_written_before_read_back_identical(task_type: TaskType) -> None:
    documents = BEFORE[task_type.value]
    items = [Item.model_validate(document) for document in documents]
    assert [item.to_doc() for item in items] == documents
    values = [value for item in items for value in _values(item) if value is not None]
    assert len(values) >= 6 and len({type(value) for value in values}) == 1
    assert {type(value) for value in values} <= KINDS


@pytest.mark.parametrize("task_type", BEFORE_TYPED)
def test_the_same_steps_write_the_same_documents(task_type: TaskType) -> None:
    now = sorted(map(_comparable, _written(task_type.value)))
    assert now == sorted(map(_comparable, BEFORE[task_type.value]))


@pytest.mark.parametrize("task_type", BEFORE_TYPED)
def test_an_items_labels_are_those_of_its_final_value(task_type: TaskType) -> None:
    for document in BEFORE[task_type.value]:
        item = Item.model_validate(document)
        assert item.labels == document["labels"] == list(stored_labels(document.get("final")))
        assert item.labels == list(labels_of(item.final))


def test_a_value_is_told_by_its_one_key() -> None:
    assert read_value({"label": "cat"}) == SingleLabel("cat")
    assert read_value({"boxes": []}) == BoxSet(())
    assert read_value({"polygons": []}) == PolygonSet(())
    with pytest.raises(ValidationError, match="one of label, labels, boxes, polygons, spans"):
        read_value({"shapes": []})
    assert stored_labels({"shapes": []}) == stored_labels(None) == ()
    # A box without coordinates (a broken import) still names its class.
    assert stored_labels({"boxes": [{"label": "cat"}, "x", {"label": 3}]}) == ("cat",)
