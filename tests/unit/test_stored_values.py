"""Item documents written before annotation values were typed (one project per task type:
answered by two labelers, approved with a fix, rejected, pre-labeled and prefilled; made by
the code of that time) read into typed values and write back unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from core.domain.annotation_json import read_value, stored_labels
from core.domain.annotations import AnnotationValue, BoxSet, PolygonSet, SingleLabel, labels_of
from core.domain.items import Item
from core.domain.task_types import TaskType

BEFORE: dict[str, list[dict[str, Any]]] = json.loads(
    (Path(__file__).parent / "items_before_typed_values.json").read_text()
)


def _values(item: Item) -> list[AnnotationValue]:
    found = [a.value for a in item.annotations]
    found += [item.final, item.prefill, item.prediction.value if item.prediction else None]
    for removed in item.removed:
        found += [a.value for a in removed.annotations] + [removed.final]
    return [value for value in found if value is not None]


@pytest.mark.parametrize("task_type", list(TaskType))
def test_documents_written_before_read_back_identical(task_type: TaskType) -> None:
    documents = BEFORE[task_type.value]
    items = [Item.model_validate(document) for document in documents]
    assert [item.to_doc() for item in items] == documents
    values = [value for item in items for value in _values(item)]
    assert len(values) >= 6
    kinds = {type(value) for value in values}
    assert len(kinds) == 1 and kinds <= set(AnnotationValue.__args__)  # type: ignore[attr-defined]


@pytest.mark.parametrize("task_type", list(TaskType))
def test_an_items_labels_are_its_final_values(task_type: TaskType) -> None:
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
    assert stored_labels({"boxes": [{"label": "cat"}]}) == ()  # no box: a broken import
