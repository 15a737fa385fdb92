"""Attributes: declared on label classes (clear 422 rules), carried by every shape and by a
classification answer, checked against the declarations, stored only when given."""

from __future__ import annotations

from typing import Any

import pytest

from core.domain.annotation_json import read_value
from core.domain.annotations import (
    Box,
    BoxSet,
    MultiLabel,
    SingleLabel,
    rename_label,
    validate_annotation,
    without_attributes,
)
from core.domain.attributes import Attribute, AttributeType, AttributeValues, attribute_key
from core.domain.consensus import Verdict, decide
from core.domain.errors import InvalidAnnotation, InvalidInput
from core.domain.keypoints import KeypointTemplate
from core.domain.labels import LabelClass, check_label_classes, declared_attributes
from core.domain.task_types import TaskType

CAR = LabelClass.model_validate(
    {
        "name": "car",
        "attributes": [
            {"name": "occluded", "type": "boolean"},
            {"name": "color", "type": "one_of", "options": ["red", "blue"]},
            {"name": "doors", "type": "number", "min": 2, "max": 5},
            {"name": "note", "type": "text", "maxLength": 10},
        ],
    }
)
CLASSES = [CAR, LabelClass(name="tree")]
NAMES = ("car", "tree")
DECLARED = declared_attributes(CLASSES)


def valid(task_type: TaskType, raw: object) -> Any:
    return validate_annotation(
        task_type, raw, label_names=NAMES, text_length=20, attributes=DECLARED
    )


def problems(task_type: TaskType, raw: object) -> dict[str, str]:
    with pytest.raises(InvalidAnnotation) as caught:
        valid(task_type, raw)
    return {v.field: v.rule for v in caught.value.violations}


def car(**attributes: object) -> dict[str, object]:
    return {"label": "car", "x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2, "attributes": attributes}


def declared(*attributes: dict[str, Any]) -> dict[str, str]:
    label = LabelClass.model_validate({"name": "car", "attributes": list(attributes)})
    with pytest.raises(InvalidInput) as caught:
        check_label_classes([label])
    return {v.field: v.rule for v in caught.value.violations}


def test_declarations_that_break_a_rule_are_named_one_by_one() -> None:
    found = declared(
        {"name": "Color", "type": "one_of", "options": []},
        {"name": "color", "type": "one_of", "options": ["red", "red"]},
        {"name": "size", "type": "number", "min": 5, "max": 1},
        {"name": "flag", "type": "boolean", "options": ["x"]},
        {"name": "text", "type": "number", "maxLength": 3},
    )
    assert found == {
        "labelClasses[0].attributes[0].options": "a one_of attribute needs its options",
        "labelClasses[0].attributes[1].name": (
            "'color' repeats labelClasses[0].attributes[0] (attribute names are unique in a "
            "class, ignoring case)"
        ),
        "labelClasses[0].attributes[1].options[1]": "'red' is listed twice",
        "labelClasses[0].attributes[2].min": "5 is greater than max 1",
        "labelClasses[0].attributes[3].options": "only one_of attributes have options",
        "labelClasses[0].attributes[4].maxLength": "only text attributes have maxLength",
    }


def test_a_class_without_attributes_is_stored_as_before() -> None:
    assert LabelClass.model_validate({"name": "tree", "attributes": []}).to_doc() == {
        "name": "tree"
    }
    assert CAR.to_doc()["attributes"][1] == {
        "name": "color",
        "type": "one_of",
        "options": ["red", "blue"],
    }


def test_every_shape_kind_carries_checked_attributes() -> None:
    value = valid(TaskType.IMAGE_BOUNDING_BOX, {"boxes": [car(occluded=True, doors=4)]})
    assert value.boxes[0].attributes == AttributeValues({"doors": 4, "occluded": True})
    assert value.to_json()["boxes"][0]["attributes"] == {"doors": 4, "occluded": True}
    ring = {"label": "car", "points": [[0, 0], [1, 0], [0, 1]], "attributes": {"color": "red"}}
    polygon = valid(TaskType.IMAGE_POLYGON, {"polygons": [ring]})
    assert polygon.to_json()["polygons"][0]["attributes"] == {"color": "red"}
    span = {"label": "car", "start": 0, "end": 3, "attributes": {"note": "ok"}}
    assert valid(TaskType.TEXT_NER, {"spans": [span]}).spans[0].attributes == {"note": "ok"}


def test_each_wrong_attribute_is_its_own_violation_in_one_422() -> None:
    bad = car(occluded="yes", color="green", doors=9, note="far too long", wheels=4)
    found = problems(TaskType.IMAGE_BOUNDING_BOX, {"boxes": [bad]})
    assert found == {
        "boxes[0].attributes.occluded": "must be true or false",
        "boxes[0].attributes.color": "must be one of 'red', 'blue'",
        "boxes[0].attributes.doors": "must be ≤ 5",
        "boxes[0].attributes.note": "has 12 characters; at most 10",
        "boxes[0].attributes.wheels": (
            "is not an attribute of this class (its attributes: color, doors, note, occluded)"
        ),
    }
    tree = {"label": "tree", "x": 0, "y": 0, "w": 1, "h": 1, "attributes": {"occluded": True}}
    assert problems(TaskType.IMAGE_BOUNDING_BOX, {"boxes": [tree]}) == {
        "boxes[0].attributes.occluded": "is not an attribute of this class (its attributes: none)"
    }
    assert problems(TaskType.IMAGE_BOUNDING_BOX, {"boxes": [car(doors=True)]}) == {
        "boxes[0].attributes.doors": "must be a number"
    }


def test_classification_answers_carry_their_chosen_class_attributes() -> None:
    one = valid(TaskType.IMAGE_MULTICLASS, {"label": "car", "attributes": {"color": "blue"}})
    assert one == SingleLabel("car", AttributeValues({"color": "blue"}))
    several = valid(
        TaskType.TEXT_MULTILABEL, {"labels": ["tree", "car"], "attributes": {"doors": 3}}
    )
    assert several == MultiLabel(("car", "tree"), AttributeValues({"doors": 3}))
    assert problems(TaskType.IMAGE_MULTICLASS, {"label": "tree", "attributes": {"doors": 3}}) == {
        "attributes.doors": "is not an attribute of this class (its attributes: none)"
    }


def test_empty_attributes_are_none_and_values_stay_as_before() -> None:
    plain = {"label": "car", "x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2}
    value = valid(TaskType.IMAGE_BOUNDING_BOX, {"boxes": [plain | {"attributes": {}}]})
    assert value.to_json() == {"boxes": [plain]}
    assert read_value({"boxes": [plain]}) == value


def test_stored_attributes_read_back_typed_and_equal() -> None:
    stored = {"boxes": [car(occluded=False, doors=2.5, color="red")]}
    value = read_value(stored)
    assert value == valid(TaskType.IMAGE_BOUNDING_BOX, stored)
    assert value.to_json() == stored
    assert hash(value) == hash(read_value(stored))
    # A boolean and a number are different answers even where Python calls True == 1.
    assert AttributeValues({"a": True}) != AttributeValues({"a": 1})


def test_renaming_a_class_keeps_the_attributes_and_assist_judges_without_them() -> None:
    values = AttributeValues({"occluded": True})
    renamed = rename_label(SingleLabel("car", values), "car", "auto")
    assert renamed == SingleLabel("auto", values)
    boxes = BoxSet((Box("car", 0, 0, 1, 1, values),))
    assert without_attributes(boxes) == BoxSet((Box("car", 0, 0, 1, 1),))


def test_review_filter_keys() -> None:
    assert attribute_key("occluded", True) == "occluded=true"
    assert attribute_key("doors", 4.0) == "doors=4"
    assert attribute_key("color", "red") == "color=red"


def test_attribute_names_and_types_are_checked_by_the_model() -> None:
    with pytest.raises(ValueError, match="type"):
        Attribute.model_validate({"name": "x", "type": "colour"})
    with pytest.raises(ValueError, match="name"):
        Attribute.model_validate({"name": "", "type": "boolean"})


def test_names_and_options_follow_their_schema_patterns_when_parsed() -> None:
    # The route reads the classes before it checks the project's version: a value the OpenAPI
    # pattern refuses must be refused there already (a 422, not a 412 after accepting it).
    for broken in (" color", "co\x0flor", "c" * 51):
        with pytest.raises(ValueError, match="name"):
            Attribute.model_validate({"name": broken, "type": "boolean"})
    with pytest.raises(ValueError, match="an option is 1 to 100 characters"):
        Attribute.model_validate({"name": "c", "type": "one_of", "options": ["red", ""]})


def test_keypoint_instances_carry_attributes_and_their_points_none() -> None:
    hand = {"hand": KeypointTemplate(points=["wrist", "thumb"])}
    declared = {"hand": [Attribute(name="side", type=AttributeType.ONE_OF, options=["left"])]}
    points = [{"x": 0.1, "y": 0.1, "v": 2}, {"x": 0.2, "y": 0.2, "v": 1}]

    def check(raw: object) -> Any:
        return validate_annotation(
            TaskType.IMAGE_KEYPOINTS,
            raw,
            label_names=["hand"],
            templates=hand,
            attributes=declared,
        )

    instance = {"label": "hand", "points": points, "attributes": {"side": "left"}}
    value = check({"keypoints": [instance]})
    assert value.to_json()["keypoints"][0]["attributes"] == {"side": "left"}
    points[0] = points[0] | {"attributes": {"side": "left"}}
    with pytest.raises(InvalidAnnotation) as caught:
        check({"keypoints": [instance | {"points": points}]})
    assert [v.field for v in caught.value.violations] == ["keypoints[0].points[0].attributes"]


def test_masks_carry_checked_attributes_that_consensus_and_renames_keep() -> None:
    painted = {"label": "car", "size": [2, 2], "counts": [1, 3]}  # 3 of 4 pixels painted

    def check(raw: object) -> Any:
        return validate_annotation(
            TaskType.IMAGE_INSTANCE_SEGMENTATION,
            raw,
            label_names=NAMES,
            mask_grid=(2, 2),
            attributes=DECLARED,
        )

    value = check({"masks": [painted | {"attributes": {"occluded": True, "color": "red"}}]})
    stored = value.to_json()["masks"][0]
    assert stored["attributes"] == {"occluded": True, "color": "red"}
    assert read_value(value.to_json()) == value
    assert "attributes" not in check({"masks": [painted]}).to_json()["masks"][0]
    with pytest.raises(InvalidAnnotation) as caught:
        check({"masks": [painted | {"attributes": {"color": "green", "wheels": 4}}]})
    assert sorted(v.field for v in caught.value.violations) == [
        "masks[0].attributes.color",
        "masks[0].attributes.wheels",
    ]
    assert rename_label(value, "car", "auto").to_json()["masks"][0]["attributes"]["color"] == "red"
    assert "attributes" not in without_attributes(value).to_json()["masks"][0]
    two = decide(
        TaskType.IMAGE_INSTANCE_SEGMENTATION, [value, value], min_labelers=2, max_labelers=3
    )
    assert (
        two.verdict is Verdict.AGREED
        and two.final is not None
        and two.final.to_json()["masks"][0]["attributes"]["color"] == "red"
    )
