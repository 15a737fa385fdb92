"""Relations between spans (text_ner): relation classes in project settings, relations in
answers (named by their spans' starts), and stored values that keep their shape."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from core.domain.annotation_json import read_value
from core.domain.annotations import Relation, Span, SpanSet, rename_label, validate_annotation
from core.domain.errors import InvalidAnnotation, InvalidInput
from core.domain.items import Item
from core.domain.projects import (
    Project,
    ProjectPatch,
    ProjectSettings,
    ProjectStatus,
    apply_patch,
    new_project,
    transition,
)
from core.domain.relations import RelationClass
from core.domain.task_types import TaskType

TEXT = "Ada Lovelace met  Charles Babbage in London ."
ADA, CHARLES, LONDON = (0, 12), (18, 33), (37, 43)
LABELS = ("PER", "LOC")
CLASSES = (
    RelationClass(name="met", directed=False),
    RelationClass(name="born_in", heads=["PER"], tails=["LOC"]),
)
NOW = datetime(2026, 1, 2, tzinfo=UTC)


def span(label: str, where: tuple[int, int]) -> dict[str, Any]:
    return {"label": label, "start": where[0], "end": where[1]}


SPANS = [span("PER", CHARLES), span("LOC", LONDON), span("PER", ADA)]  # any order


def answer(*relations: dict[str, Any], spans: list[dict[str, Any]] = SPANS) -> Any:
    return validate_annotation(
        TaskType.TEXT_NER,
        {"spans": spans, "relations": list(relations)},
        label_names=LABELS,
        text_length=len(TEXT),
        text=TEXT,
        relation_classes=CLASSES,
    )


def problems(*relations: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidAnnotation) as caught:
        answer(*relations)
    return {v.field: v.rule for v in caught.value.violations}


def rel(label: str, head: int, tail: int) -> dict[str, Any]:
    return {"label": label, "from": head, "to": tail}


def test_relations_name_spans_by_their_start_whatever_order_the_spans_come_in() -> None:
    value = answer(rel("born_in", 0, 37), rel("met", 18, 0))
    assert value.spans == (Span("PER", *ADA), Span("PER", *CHARLES), Span("LOC", *LONDON))
    # Undirected: stored with the earlier span first; relations sorted by their ends.
    assert value.relations == (Relation("met", 0, 18), Relation("born_in", 0, 37))
    assert value.to_json()["relations"] == [rel("met", 0, 18), rel("born_in", 0, 37)]


def test_a_span_trimmed_of_whitespace_is_still_named_by_the_start_it_was_sent_with() -> None:
    spans = [span("PER", (17, 33)), span("PER", ADA)]  # 17 is the second of two spaces
    value = answer(rel("met", 17, 0), spans=spans)
    assert value.relations == (Relation("met", 0, 18),)


def test_every_broken_relation_rule_is_named() -> None:
    found = problems(
        rel("met", 0, 0),
        rel("born_in", 37, 0),
        rel("likes", 0, 18),
        rel("met", 5, 18),
        rel("met", 0, 18),
        rel("met", 18, 0),
        {"label": "met", "from": 0},
    )
    assert found == {
        "relations[0]": "links the span at 0–12 to itself",
        "relations[1]": "'born_in' links PER → LOC; this one links LOC → PER",
        "relations[2].label": "'likes' is not a relation class of this project; known: met, "
        "born_in",
        "relations[3].from": "names no span: no span starts at 5 (spans start at 0, 18, 37)",
        "relations[5]": "repeats relations[4] (the same class between the same spans)",
        "relations[6].to": "is required",
    }


def test_a_directed_relation_may_be_drawn_both_ways_between_the_same_spans() -> None:
    classes = (RelationClass(name="knows"),)
    value = validate_annotation(
        TaskType.TEXT_NER,
        {"spans": SPANS, "relations": [rel("knows", 0, 18), rel("knows", 18, 0)]},
        label_names=LABELS,
        text_length=len(TEXT),
        relation_classes=classes,
    )
    assert value == SpanSet(value.spans, (Relation("knows", 0, 18), Relation("knows", 18, 0)))


def test_a_project_without_relation_classes_refuses_relations_and_says_so() -> None:
    with pytest.raises(
        InvalidAnnotation, match="not a relation class of this project; it has none"
    ):
        validate_annotation(
            TaskType.TEXT_NER,
            {"spans": SPANS, "relations": [rel("met", 0, 18)]},
            label_names=LABELS,
            text_length=len(TEXT),
        )


def test_relations_are_refused_where_they_have_no_place() -> None:
    with pytest.raises(InvalidAnnotation, match="relations: is not a field"):
        validate_annotation(
            TaskType.IMAGE_BOUNDING_BOX,
            {"boxes": [], "relations": []},
            label_names=LABELS,
            relation_classes=CLASSES,
        )


def test_stored_values_without_relations_keep_their_shape() -> None:
    plain = {"spans": [span("PER", ADA)]}
    value = read_value(plain)
    assert value == SpanSet((Span("PER", *ADA),)) and value.to_json() == plain
    # An answer sent with an empty list is stored as one sent without.
    assert answer().to_json() == {
        "spans": [span("PER", ADA), span("PER", CHARLES), span("LOC", LONDON)]
    }


def test_an_item_with_relations_reads_back_and_writes_out_identically() -> None:
    value = answer(rel("born_in", 0, 37)).to_json()
    document = Item(
        id="i",
        project_id="p",
        path="a.txt",
        kind="text",
        rank=0.5,
        text=TEXT,
        created_at=NOW,
        updated_at=NOW,
        final=read_value(value),
    ).to_doc()
    assert document["final"] == value
    assert Item.model_validate(document).to_doc() == document


def test_renaming_a_label_class_keeps_the_relations() -> None:
    value = answer(rel("born_in", 0, 37))
    renamed = rename_label(value, "PER", "Person")
    assert isinstance(renamed, SpanSet) and renamed.relations == value.relations
    assert renamed.spans[0].label == "Person"


def settings(**fields: Any) -> ProjectSettings:
    base = {
        "name": "People",
        "taskType": "text_ner",
        "labelClasses": [{"name": n} for n in LABELS],
        "relationClasses": [{"name": "born_in", "heads": ["PER"], "tails": ["LOC"]}],
    }
    return ProjectSettings.model_validate(base | fields)


def rules(**fields: Any) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        settings(**fields)
    return {v.field: v.rule for v in caught.value.violations}


def test_relation_classes_are_declared_with_direction_and_ends() -> None:
    project = settings(
        relationClasses=[
            {"name": "born_in", "heads": ["PER"], "tails": ["LOC"]},
            {"name": "met", "directed": False},
        ]
    )
    born, met = project.relation_classes
    assert (born.directed, met.directed, met.heads) == (True, False, None)
    assert project.to_doc()["relationClasses"][1] == {"name": "met", "directed": False}


def test_relation_class_rules_name_each_problem() -> None:
    assert rules(taskType="text_multiclass") == {
        "relationClasses": "only text_ner projects have relations between spans; this one is "
        "text_multiclass"
    }
    found = rules(
        relationClasses=[
            {"name": "born_in", "heads": ["PER", "ORG"]},
            {"name": "Born_In", "tails": ["LOC", "LOC"]},
        ]
    )
    assert found == {
        "relationClasses[0].heads[1]": "'ORG' is not a label class of this project",
        "relationClasses[1].name": "'Born_In' repeats relationClasses[0] (names are unique, "
        "ignoring case)",
        "relationClasses[1].tails[1]": "'LOC' is listed twice",
    }


def test_projects_without_relation_classes_are_stored_as_before() -> None:
    project = settings(relationClasses=[])
    assert "relationClasses" not in project.to_doc()
    assert ProjectSettings.model_validate(project.to_doc()).relation_classes == []


def running(project_settings: ProjectSettings) -> Project:
    created = new_project(project_settings, project_id="p", created_by="olive", now=NOW)
    return transition(created, ProjectStatus.RUNNING, now=NOW)


def test_after_initialization_relation_classes_are_added_never_removed_or_turned() -> None:
    project = running(settings())
    more = [*project.relation_classes, RelationClass(name="met", directed=False)]
    assert (
        len(apply_patch(project, ProjectPatch(relation_classes=more), now=NOW).relation_classes)
        == 2
    )
    with pytest.raises(InvalidInput, match="cannot remove 'born_in' after initialization"):
        apply_patch(project, ProjectPatch(relation_classes=[]), now=NOW)
    turned = [RelationClass(name="born_in", directed=False)]
    with pytest.raises(InvalidInput, match=r"relationClasses\[0\].directed: cannot change"):
        apply_patch(project, ProjectPatch(relation_classes=turned), now=NOW)
    # Widening an end is fine: answers already stored stay as they are.
    wider = [RelationClass(name="born_in", heads=["PER", "LOC"])]
    assert apply_patch(project, ProjectPatch(relation_classes=wider), now=NOW)
