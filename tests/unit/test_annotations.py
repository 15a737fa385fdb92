from __future__ import annotations

import itertools
import json
import math
from dataclasses import FrozenInstanceError
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.annotations import (
    MAX_VIOLATIONS,
    AnnotationValue,
    Box,
    BoxSet,
    MultiLabel,
    Polygon,
    PolygonSet,
    SingleLabel,
    Span,
    SpanSet,
    labels_of,
    rename_label,
    validate_annotation,
)
from core.domain.errors import InvalidAnnotation, InvalidInput
from core.domain.task_types import TaskType

LABELS = ("Cat", "Bird", "Animal/Dog")
TEXT_LENGTH = 20


def valid(task_type: TaskType, raw: object) -> AnnotationValue:
    return validate_annotation(task_type, raw, label_names=LABELS, text_length=TEXT_LENGTH)


def problems(task_type: TaskType, raw: object, **options: Any) -> dict[str, str]:
    """The violations as {field path: rule}; fails the test if the value was accepted."""
    options.setdefault("label_names", LABELS)
    options.setdefault("text_length", TEXT_LENGTH)
    with pytest.raises(InvalidAnnotation) as caught:
        validate_annotation(task_type, raw, **options)
    found = {v.field: v.rule for v in caught.value.violations}
    assert len(found) == len(caught.value.violations), "one violation per field expected"
    return found


def box(**fields: object) -> dict[str, object]:
    return {"label": "Cat", "x": 0.1, "y": 0.2, "w": 0.3, "h": 0.4, **fields}


def boxes(*items: object) -> dict[str, object]:
    return {"boxes": list(items)}


def polygon(*points: list[float], label: str = "Cat") -> dict[str, object]:
    return {"polygons": [{"label": label, "points": list(points)}]}


def spans(*items: tuple[str, int, int]) -> dict[str, object]:
    return {"spans": [{"label": label, "start": s, "end": e} for label, s, e in items]}


SQUARE = ([0.1, 0.1], [0.4, 0.1], [0.4, 0.4], [0.1, 0.4])
BOX, POLY, NER = TaskType.IMAGE_BOUNDING_BOX, TaskType.IMAGE_POLYGON, TaskType.TEXT_NER


# --- classification -------------------------------------------------------------------------


@pytest.mark.parametrize("task_type", [TaskType.IMAGE_MULTICLASS, TaskType.TEXT_MULTICLASS])
def test_multiclass_takes_exactly_one_known_class(task_type: TaskType) -> None:
    assert valid(task_type, {"label": "Animal/Dog"}) == SingleLabel("Animal/Dog")


@pytest.mark.parametrize(
    ("raw", "field", "rule_part"),
    [
        ({}, "label", "is required"),
        ({"label": ["Cat"]}, "label", "must be a label class name"),
        ({"label": None}, "label", "must be a label class name"),
        ({"label": "Dog"}, "label", "'Dog' is not a label class of this project; known: Cat, "),
        ({"label": "cat"}, "label", "'cat' is not a label class"),
        ({"label": "Cat", "confidence": 1}, "confidence", "is not a field of image_multiclass"),
        (["Cat"], "", "must be an object with label"),
        ("Cat", "", "must be an object with label"),
    ],
)
def test_multiclass_rules(raw: object, field: str, rule_part: str) -> None:
    assert rule_part in problems(TaskType.IMAGE_MULTICLASS, raw)[field]


def test_unknown_label_lists_the_known_ones_in_project_order() -> None:
    found = problems(TaskType.TEXT_MULTICLASS, {"label": "Dog"}, label_names=["Cat", "Bird"])
    assert found == {"label": "'Dog' is not a label class of this project; known: Cat, Bird"}


def test_a_long_list_of_known_labels_is_shortened() -> None:
    names = [f"class{i}" for i in range(100)]
    rule = problems(TaskType.TEXT_MULTICLASS, {"label": "x"}, label_names=names)["label"]
    assert "class19" in rule
    assert "class20" not in rule
    assert "(80 more)" in rule


def test_a_project_without_classes_says_so() -> None:
    rule = problems(TaskType.IMAGE_MULTICLASS, {"label": "Cat"}, label_names=[])["label"]
    assert "has none yet" in rule


def test_sending_multilabel_shape_to_multiclass_names_both_fields() -> None:
    found = problems(TaskType.IMAGE_MULTICLASS, {"labels": ["Cat"]})
    assert found["labels"] == "is not a field of image_multiclass annotations; expected label"
    assert found["label"] == "is required"


@pytest.mark.parametrize("task_type", [TaskType.IMAGE_MULTILABEL, TaskType.TEXT_MULTILABEL])
def test_multilabel_is_sorted_so_equal_sets_compare_equal(task_type: TaskType) -> None:
    first = valid(task_type, {"labels": ["Cat", "Animal/Dog"]})
    second = valid(task_type, {"labels": ["Animal/Dog", "Cat"]})
    assert first == second == MultiLabel(("Animal/Dog", "Cat"))


@pytest.mark.parametrize(
    ("raw", "field", "rule_part"),
    [
        ({"labels": []}, "labels", "must name at least one class"),
        ({"labels": "Cat"}, "labels", "must be a list of class names"),
        ({"labels": ["Cat", 3]}, "labels[1]", "must be a label class name"),
        ({"labels": ["Cat", "Bird", "Cat"]}, "labels[2]", "'Cat' is listed twice (also labels[0])"),
        ({"labels": ["Cat", "Fish"]}, "labels[1]", "'Fish' is not a label class"),
        ({"label": "Cat"}, "labels", "is required"),
    ],
)
def test_multilabel_rules(raw: object, field: str, rule_part: str) -> None:
    assert rule_part in problems(TaskType.TEXT_MULTILABEL, raw)[field]


# --- bounding boxes -------------------------------------------------------------------------


def test_valid_boxes_are_kept_as_given() -> None:
    value = valid(BOX, boxes(box(), box(label="Bird", x=0, y=0, w=1, h=1)))
    assert value == BoxSet((Box("Cat", 0.1, 0.2, 0.3, 0.4), Box("Bird", 0.0, 0.0, 1.0, 1.0)))


def test_no_boxes_means_no_objects() -> None:
    assert valid(BOX, {"boxes": []}) == BoxSet(())


@pytest.mark.parametrize(
    ("fields", "field", "rule"),
    [
        ({"w": 0}, "boxes[0].w", "must be > 0 (a box needs a positive width)"),
        ({"w": -0.1}, "boxes[0].w", "must be > 0 (a box needs a positive width)"),
        ({"h": 0}, "boxes[0].h", "must be > 0 (a box needs a positive height)"),
        ({"x": -0.01}, "boxes[0].x", "must be between 0 and 1 (a fraction of the image width, "),
        ({"y": 1.5}, "boxes[0].y", "must be between 0 and 1 (a fraction of the image height, "),
        ({"x": 120}, "boxes[0].x", "must be between 0 and 1 (a fraction of the image width, not"),
        (
            {"x": 0.8, "w": 0.3},
            "boxes[0].w",
            "x + w = 1.1 must be ≤ 1 (the box runs past the right",
        ),
        (
            {"y": 0.9, "h": 0.2},
            "boxes[0].h",
            "y + h = 1.1 must be ≤ 1 (the box runs past the bottom",
        ),
        ({"label": "Dog"}, "boxes[0].label", "'Dog' is not a label class of this project"),
        (
            {"score": 0.9},
            "boxes[0].score",
            "is not a field of a box; expected label, x, y, w, h, slice (optional)",
        ),
    ],
)
def test_box_rules(fields: dict[str, object], field: str, rule: str) -> None:
    assert problems(BOX, boxes(box(**fields)))[field].startswith(rule)


@pytest.mark.parametrize(
    ("bad", "rule"),
    [
        (math.nan, "must be a finite number, not nan"),
        (math.inf, "must be a finite number, not inf"),
        (-math.inf, "must be a finite number, not -inf"),
        (10**400, "must be a finite number"),
        (True, "must be a number"),
        (False, "must be a number"),
        ("0.5", "must be a number"),
        (None, "must be a number"),
        ([0.5], "must be a number"),
    ],
)
@pytest.mark.parametrize("key", ["x", "y", "w", "h"])
def test_box_numbers_must_be_finite_and_not_booleans(key: str, bad: object, rule: str) -> None:
    assert problems(BOX, boxes(box(), box(**{key: bad})))[f"boxes[1].{key}"].startswith(rule)


def test_a_missing_box_field_is_required() -> None:
    raw = {"label": "Cat", "x": 0.1, "y": 0.1, "w": 0.1}
    assert problems(BOX, boxes(raw)) == {"boxes[0].h": "is required"}


def test_boxes_must_be_a_list_of_objects() -> None:
    assert problems(BOX, {"boxes": {"0": box()}}) == {"boxes": "must be a list of boxes"}
    assert problems(BOX, boxes(box(), [0.1, 0.2, 0.3, 0.4]))["boxes[1]"].startswith(
        "must be an object with label, x, y, w, h"
    )


def test_float_error_at_the_border_is_clamped_onto_the_image() -> None:
    value = valid(BOX, boxes(box(x=-5e-7, y=0.5, w=0.5, h=0.5 + 5e-7)))
    assert isinstance(value, BoxSet)
    clamped = value.boxes[0]
    assert clamped.x == 0.0
    assert clamped.y + clamped.h <= 1.0
    assert clamped.h == pytest.approx(0.5)


def test_overshoot_beyond_float_error_is_rejected() -> None:
    assert "boxes[0].x" in problems(BOX, boxes(box(x=-2e-6)))
    assert "boxes[0].w" in problems(BOX, boxes(box(x=0.5, w=0.5 + 2e-6)))


def test_integers_are_accepted_as_coordinates() -> None:
    value = valid(BOX, boxes(box(x=0, y=0, w=1, h=1)))
    assert value.to_json()["boxes"][0] == {"label": "Cat", "x": 0.0, "y": 0.0, "w": 1.0, "h": 1.0}


def test_every_broken_rule_is_reported_at_once() -> None:
    found = problems(
        BOX,
        boxes(box(), box(label="Dog", x=math.nan, w=0, extra=1), box(h=True)),
    )
    assert found == {
        "boxes[1].extra": "is not a field of a box; expected label, x, y, w, h, slice (optional)",
        "boxes[1].label": "'Dog' is not a label class of this project; known: Cat, Bird, "
        "Animal/Dog",
        "boxes[1].x": "must be a finite number, not nan",
        "boxes[1].w": "must be > 0 (a box needs a positive width)",
        "boxes[2].h": "must be a number",
    }


def test_violations_are_capped_with_a_note_of_how_many_more() -> None:
    with pytest.raises(InvalidAnnotation) as caught:
        valid(BOX, boxes(*[box(w=0) for _ in range(MAX_VIOLATIONS + 7)]))
    violations = caught.value.violations
    assert len(violations) == MAX_VIOLATIONS + 1
    assert violations[-1].rule == "… and 7 more problems"


def test_the_error_message_names_each_path_and_rule() -> None:
    with pytest.raises(InvalidAnnotation) as caught:
        valid(BOX, boxes(box(), box(), box(w=0)))
    assert isinstance(caught.value, InvalidInput)
    assert str(caught.value) == "boxes[2].w: must be > 0 (a box needs a positive width)"


# --- polygons -------------------------------------------------------------------------------


def test_valid_polygon_keeps_its_points_in_order() -> None:
    value = valid(POLY, polygon(*SQUARE))
    points = ((0.1, 0.1), (0.4, 0.1), (0.4, 0.4), (0.1, 0.4))
    assert value == PolygonSet((Polygon("Cat", points),))


def test_no_polygons_means_no_objects() -> None:
    assert valid(POLY, {"polygons": []}) == PolygonSet(())


def test_a_repeated_closing_point_and_consecutive_copies_are_dropped() -> None:
    value = valid(POLY, polygon(SQUARE[0], *SQUARE, SQUARE[0]))
    assert isinstance(value, PolygonSet)
    assert len(value.polygons[0].points) == 4


@pytest.mark.parametrize(
    ("points", "rule"),
    [
        ([[0.1, 0.1], [0.5, 0.5]], "needs at least 3 distinct points, has 2"),
        ([[0.1, 0.1], [0.5, 0.5], [0.1, 0.1]], "needs at least 3 distinct points, has 2"),
        ([], "needs at least 3 distinct points, has 0"),
        ([[0.1, 0.1], [0.2, 0.2], [0.3, 0.3]], "encloses no area (are all points on one line?)"),
        ([[0.0, 0.5], [0.5, 0.5], [1.0, 0.5], [0.5, 0.5 + 1e-15]], "encloses no area"),
    ],
)
def test_polygon_shape_rules(points: list[list[float]], rule: str) -> None:
    assert problems(POLY, polygon(*points))["polygons[0].points"].startswith(rule)


def test_a_small_but_real_polygon_is_accepted() -> None:
    # About one pixel of a 4000 x 3000 image.
    tiny = ([0.5, 0.5], [0.50025, 0.5], [0.50025, 0.50033])
    assert isinstance(valid(POLY, polygon(*tiny)), PolygonSet)


@pytest.mark.parametrize(
    ("point", "field", "rule"),
    [
        (
            [1.2, 0.5],
            "polygons[0].points[1][0]",
            "must be between 0 and 1 (a fraction of the image ",
        ),
        ([0.5, -0.1], "polygons[0].points[1][1]", "must be between 0 and 1"),
        ([math.nan, 0.5], "polygons[0].points[1][0]", "must be a finite number, not nan"),
        ([0.5, True], "polygons[0].points[1][1]", "must be a number"),
        ([0.5], "polygons[0].points[1]", "must be a point [x, y]"),
        ([0.5, 0.5, 0.5], "polygons[0].points[1]", "must be a point [x, y]"),
        ({"x": 0.5, "y": 0.5}, "polygons[0].points[1]", "must be a point [x, y]"),
    ],
)
def test_polygon_point_rules(point: object, field: str, rule: str) -> None:
    raw = polygon(SQUARE[0], point, *SQUARE[2:])  # type: ignore[arg-type]
    assert problems(POLY, raw)[field].startswith(rule)


def test_polygon_points_on_the_border_within_float_error_are_clamped() -> None:
    value = valid(POLY, polygon([-1e-7, 0.0], [1 + 1e-7, 0.0], [1.0, 1.0]))
    assert isinstance(value, PolygonSet)
    assert value.polygons[0].points == ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0))


def test_polygon_fields_are_checked() -> None:
    raw = {"polygons": [{"label": "Fish", "points": "0,0 1,1", "closed": True}]}
    found = problems(POLY, raw)
    assert (
        found["polygons[0].closed"]
        == "is not a field of a polygon; expected label, points, slice (optional)"
    )
    assert found["polygons[0].label"].startswith("'Fish' is not a label class")
    assert found["polygons[0].points"] == "must be a list of [x, y] points"


# --- text spans -----------------------------------------------------------------------------


def test_spans_are_sorted_by_start() -> None:
    value = valid(NER, spans(("Cat", 10, 14), ("Bird", 0, 5), ("Cat", 5, 10)))
    assert value == SpanSet((Span("Bird", 0, 5), Span("Cat", 5, 10), Span("Cat", 10, 14)))


def test_with_the_text_spans_are_trimmed_of_whitespace_and_never_only_whitespace() -> None:
    text = "Ada  met\nBob . "  # whitespace inside, between spans and at the end
    found = validate_annotation(
        NER,
        spans(("Cat", 0, 5), ("Bird", 8, 12), ("Cat", 13, 15)),
        label_names=LABELS,
        text_length=len(text),
        text=text,
    )
    assert found == SpanSet((Span("Cat", 0, 3), Span("Bird", 9, 12), Span("Cat", 13, 14)))
    blank = problems(NER, spans(("Cat", 3, 5)), text_length=len(text), text=text)
    assert blank == {"spans[0]": "covers only whitespace (3–5)"}


def test_no_spans_is_valid() -> None:
    assert valid(NER, {"spans": []}) == SpanSet(())


def test_a_span_may_end_at_the_end_of_the_text() -> None:
    assert valid(NER, spans(("Cat", 0, TEXT_LENGTH))) == SpanSet((Span("Cat", 0, TEXT_LENGTH),))


@pytest.mark.parametrize(
    ("item", "field", "rule"),
    [
        (("Cat", 5, 5), "spans[0].end", "must be > start (5); a span covers at least one"),
        (("Cat", 6, 5), "spans[0].end", "must be > start (6)"),
        (("Cat", -1, 5), "spans[0].start", "must be ≥ 0 and < 20, the length of the text"),
        (("Cat", 20, 21), "spans[0].start", "must be ≥ 0 and < 20"),
        (("Cat", 0, 21), "spans[0].end", "must be ≥ 1 and ≤ 20, the length of the text"),
        (("Dog", 0, 3), "spans[0].label", "'Dog' is not a label class of this project"),
    ],
)
def test_span_rules(item: tuple[str, int, int], field: str, rule: str) -> None:
    assert problems(NER, spans(item))[field].startswith(rule)


@pytest.mark.parametrize("bad", [1.0, 1.5, True, "1", None, math.nan])
def test_span_offsets_are_whole_numbers(bad: object) -> None:
    raw = {"spans": [{"label": "Cat", "start": bad, "end": 4}]}
    assert problems(NER, raw) == {"spans[0].start": "must be a whole number (a character offset)"}


def test_overlapping_spans_name_each_other() -> None:
    found = problems(NER, spans(("Cat", 0, 5), ("Bird", 3, 8)))
    assert found == {"spans[1]": "overlaps spans[0] (0–5)"}


def test_overlaps_are_reported_with_the_submitted_indices() -> None:
    found = problems(NER, spans(("Cat", 12, 15), ("Bird", 2, 14), ("Cat", 0, 1)))
    assert found == {"spans[0]": "overlaps spans[1] (2–14)"}


def test_a_long_span_is_reported_against_every_span_inside_it() -> None:
    found = problems(NER, spans(("Cat", 0, 19), ("Bird", 2, 4), ("Bird", 6, 8)))
    assert found == {
        "spans[1]": "overlaps spans[0] (0–19)",
        "spans[2]": "overlaps spans[0] (0–19)",
    }


def test_identical_spans_overlap() -> None:
    assert "spans[1]" in problems(NER, spans(("Cat", 0, 5), ("Cat", 0, 5)))


def test_touching_spans_do_not_overlap() -> None:
    assert isinstance(valid(NER, spans(("Cat", 0, 5), ("Bird", 5, 8))), SpanSet)


def test_span_fields_are_checked() -> None:
    raw = {"spans": [{"label": "Cat", "start": 0, "end": 3, "text": "The"}, "0-3"]}
    found = problems(NER, raw)
    assert found["spans[0].text"] == "is not a field of a span; expected label, start, end"
    assert found["spans[1]"] == "must be an object with label, start, end"


def test_an_empty_text_has_room_for_no_span() -> None:
    assert "spans[0].start" in problems(NER, spans(("Cat", 0, 1)), text_length=0)
    assert valid(NER, {"spans": []}) == SpanSet(())


def test_ner_without_text_length_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="text_length"):
        validate_annotation(NER, {"spans": []}, label_names=LABELS)


# --- shape of values: JSON, labels, renames -------------------------------------------------

SAMPLES: list[tuple[TaskType, dict[str, Any]]] = [
    (TaskType.IMAGE_MULTICLASS, {"label": "Cat"}),
    (TaskType.TEXT_MULTILABEL, {"labels": ["Animal/Dog", "Bird"]}),
    (BOX, boxes(box(), box(label="Bird", x=0.5, y=0.5, w=0.25, h=0.5), box())),
    (POLY, {"polygons": [{"label": "Bird", "points": [list(p) for p in SQUARE]}]}),
    (NER, spans(("Cat", 0, 3), ("Bird", 4, 9), ("Cat", 10, 12))),
]


@pytest.mark.parametrize(("task_type", "raw"), SAMPLES)
def test_normalized_values_round_trip_through_json(
    task_type: TaskType, raw: dict[str, Any]
) -> None:
    value = valid(task_type, raw)
    document = json.loads(json.dumps(value.to_json()))
    assert document == raw
    assert valid(task_type, document) == value


@pytest.mark.parametrize(
    ("task_type", "raw", "labels"),
    [
        (*SAMPLES[0], ("Cat",)),
        (*SAMPLES[1], ("Animal/Dog", "Bird")),
        (*SAMPLES[2], ("Cat", "Bird")),
        (*SAMPLES[3], ("Bird",)),
        (*SAMPLES[4], ("Cat", "Bird")),
        (BOX, {"boxes": []}, ()),
    ],
)
def test_labels_of_lists_each_label_once(
    task_type: TaskType, raw: dict[str, Any], labels: tuple[str, ...]
) -> None:
    assert labels_of(valid(task_type, raw)) == labels


@pytest.mark.parametrize(("task_type", "raw"), SAMPLES)
def test_rename_label_follows_the_class_everywhere(
    task_type: TaskType, raw: dict[str, Any]
) -> None:
    value = valid(task_type, raw)
    renamed = rename_label(value, "Cat", "Felis")
    assert "Cat" not in labels_of(renamed)
    assert ("Felis" in labels_of(renamed)) == ("Cat" in labels_of(value))
    assert rename_label(renamed, "Felis", "Cat") == value


def test_rename_keeps_everything_but_the_label() -> None:
    value = valid(NER, spans(("Cat", 0, 3), ("Bird", 4, 9)))
    assert rename_label(value, "Bird", "Animal/Bird") == SpanSet(
        (Span("Cat", 0, 3), Span("Animal/Bird", 4, 9))
    )


def test_renaming_onto_a_label_already_chosen_keeps_it_once() -> None:
    value = valid(TaskType.IMAGE_MULTILABEL, {"labels": ["Cat", "Bird"]})
    assert rename_label(value, "Cat", "Bird") == MultiLabel(("Bird",))


def test_values_are_immutable() -> None:
    value = valid(BOX, boxes(box()))
    assert isinstance(value, BoxSet)
    with pytest.raises(FrozenInstanceError):
        value.boxes[0].x = 0.5  # type: ignore[misc]


# --- properties -----------------------------------------------------------------------------

unit = st.floats(min_value=0, max_value=1, allow_nan=False)


@st.composite
def box_inside_image(draw: st.DrawFn) -> dict[str, object]:
    x, y = draw(unit), draw(unit)
    w = draw(st.floats(min_value=0, max_value=1 - x, exclude_min=True)) if x < 1 else None
    h = draw(st.floats(min_value=0, max_value=1 - y, exclude_min=True)) if y < 1 else None
    if w is None or h is None:  # a box cannot start on the far border
        x, w, y, h = 0.0, 1.0, 0.0, 1.0
    return {"label": draw(st.sampled_from(LABELS)), "x": x, "y": y, "w": w, "h": h}


@given(st.lists(box_inside_image(), max_size=8))
def test_any_box_inside_the_image_is_accepted_unchanged(items: list[dict[str, object]]) -> None:
    value = valid(BOX, {"boxes": items})
    assert value.to_json() == {"boxes": items}


@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "label": st.sampled_from(LABELS),
                "x": st.floats(-1e-6, 1 + 1e-6),
                "y": st.floats(-1e-6, 1 + 1e-6),
                "w": st.floats(1e-7, 1 + 1e-6),
                "h": st.floats(1e-7, 1 + 1e-6),
            }
        ),
        max_size=4,
    )
)
def test_accepted_boxes_lie_inside_the_image(items: list[dict[str, object]]) -> None:
    try:
        value = valid(BOX, {"boxes": items})
    except InvalidAnnotation:
        return
    assert isinstance(value, BoxSet)
    for accepted in value.boxes:
        assert accepted.x >= 0
        assert accepted.y >= 0
        assert accepted.w > 0
        assert accepted.h > 0
        assert accepted.x + accepted.w <= 1
        assert accepted.y + accepted.h <= 1


@given(st.lists(st.integers(0, TEXT_LENGTH), unique=True, max_size=10), st.randoms())
def test_non_overlapping_spans_in_any_order_are_accepted_sorted(cuts: list[int], rng: Any) -> None:
    edges = sorted(cuts)
    items = [("Cat", a, b) for a, b in itertools.pairwise(edges)]
    rng.shuffle(items)
    value = valid(NER, spans(*items))
    assert isinstance(value, SpanSet)
    assert [(s.start, s.end) for s in value.spans] == sorted((a, b) for _, a, b in items)
