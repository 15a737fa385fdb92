"""image_keypoints: class templates, the values labelers submit, how they read back from stored
JSON, and how consensus matches instances by object keypoint similarity."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from core.domain.annotation_json import read_value, stored_labels
from core.domain.annotations import (
    Keypoint,
    KeypointInstance,
    KeypointSet,
    labels_of,
    rename_label,
    validate_annotation,
)
from core.domain.consensus import Verdict, decide
from core.domain.errors import InvalidAnnotation, InvalidInput
from core.domain.keypoints import DEFAULT_SIGMA, KeypointTemplate, oks
from core.domain.labels import LabelClass, keypoint_templates
from core.domain.projects import ProjectPatch, ProjectSettings, ProjectStatus, apply_patch
from core.domain.projects import new_project as make_project
from core.domain.task_types import TaskType

KP = TaskType.IMAGE_KEYPOINTS
FACE = {"points": ["nose", "left_eye", "right_eye"], "edges": [[0, 1], [0, 2]]}
CLASSES = [
    LabelClass.model_validate({"name": "face", "keypoints": FACE}),
    LabelClass.model_validate({"name": "hand", "keypoints": {"points": ["wrist", "thumb"]}}),
]
TEMPLATES = keypoint_templates(CLASSES)


def valid(raw: object) -> Any:
    return validate_annotation(KP, raw, label_names=("face", "hand"), templates=TEMPLATES)


def problems(raw: object) -> dict[str, str]:
    with pytest.raises(InvalidAnnotation) as caught:
        valid(raw)
    return {v.field: v.rule for v in caught.value.violations}


def face(*points: dict[str, Any], label: str = "face") -> dict[str, Any]:
    return {"label": label, "points": list(points)}


NOSE, LEFT, RIGHT = (
    {"x": 0.5, "y": 0.5, "v": 2},
    {"x": 0.4, "y": 0.4, "v": 1},
    {"x": 0.6, "y": 0.4, "v": 2},
)


def settings(classes: list[dict[str, Any]], task_type: str = "image_keypoints") -> Any:
    return ProjectSettings.model_validate(
        {"name": "p", "taskType": task_type, "labelClasses": classes}
    )


# --- templates ------------------------------------------------------------------------------


def test_a_template_names_points_in_order_with_edges_between_them() -> None:
    template = settings([{"name": "face", "keypoints": FACE}]).label_classes[0].keypoints
    assert template is not None
    assert template.points == ["nose", "left_eye", "right_eye"]
    assert template.edges == [(0, 1), (0, 2)]
    assert template.sigma_list() == (DEFAULT_SIGMA,) * 3


@pytest.mark.parametrize(
    ("template", "rule_part"),
    [
        ({"points": []}, "at least 1 item"),
        ({"points": ["nose", "Nose"]}, "repeats point 0"),
        ({"points": ["nose", " eye"]}, "starts or ends with spaces"),
        ({"points": ["a", "b"], "edges": [[0, 2]]}, "edge 0-2 names a point that does not exist"),
        ({"points": ["a", "b"], "edges": [[1, 1]]}, "joins a point to itself"),
        ({"points": ["a", "b"], "edges": [[0, 1], [1, 0]]}, "edge 1-0 is listed twice"),
        ({"points": ["a", "b"], "sigmas": [0.1]}, "has 1 sigmas for 2 points"),
        ({"points": ["a"], "sigmas": [0]}, "sigmas must be > 0"),
    ],
)
def test_a_broken_template_is_refused_saying_what_is_wrong(
    template: dict[str, Any], rule_part: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        settings([{"name": "face", "keypoints": template}])
    assert rule_part in str(caught.value)
    assert caught.value.errors()[0]["loc"][:3] == ("labelClasses", 0, "keypoints")


def test_every_keypoint_class_has_a_template_and_no_other_task_takes_one() -> None:
    with pytest.raises(InvalidInput) as missing:
        settings([{"name": "face", "keypoints": FACE}, {"name": "cat"}])
    assert [v.field for v in missing.value.violations] == ["labelClasses[1].keypoints"]
    assert "needs a point template" in missing.value.message
    with pytest.raises(InvalidInput) as unused:
        settings([{"name": "face", "keypoints": FACE}], task_type="image_bounding_box")
    assert "only image_keypoints projects use point templates" in unused.value.message


def test_a_template_is_fixed_once_labeling_started_but_classes_can_be_added() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    project = make_project(
        settings([{"name": "face", "keypoints": FACE}]), project_id="p", created_by="o", now=now
    ).model_copy(update={"status": ProjectStatus.PAUSED})
    changed = {"name": "face", "keypoints": {"points": ["nose"]}}
    with pytest.raises(InvalidInput, match="cannot change the point template of 'face'"):
        apply_patch(project, ProjectPatch.model_validate({"labelClasses": [changed]}), now=now)
    added = [{"name": "face", "keypoints": FACE}, {"name": "hand", "keypoints": {"points": ["w"]}}]
    patched = apply_patch(project, ProjectPatch.model_validate({"labelClasses": added}), now=now)
    assert [c.name for c in patched.label_classes] == ["face", "hand"]


def test_old_projects_without_templates_still_load() -> None:
    old = settings([{"name": "cat"}], task_type="image_bounding_box")
    assert old.label_classes[0].keypoints is None
    assert "keypoints" not in old.label_classes[0].to_doc()


# --- values ---------------------------------------------------------------------------------


def test_a_value_has_one_point_per_template_point_in_order() -> None:
    value = valid({"keypoints": [face(NOSE, LEFT, {"v": 0})]})
    assert value == KeypointSet(
        (
            KeypointInstance(
                "face",
                (Keypoint(0.5, 0.5, 2), Keypoint(0.4, 0.4, 1), Keypoint(0.0, 0.0, 0)),
            ),
        )
    )
    # Absent points are stored at 0, 0 whatever place was sent.
    again = valid({"keypoints": [face(NOSE, LEFT, {"x": 0.3, "y": 0.3, "v": 0})]})
    assert again == value
    assert value.to_json()["keypoints"][0]["points"][2] == {"x": 0.0, "y": 0.0, "v": 0}
    assert valid({"keypoints": []}) == KeypointSet(())


@pytest.mark.parametrize(
    ("instance", "field", "rule_part"),
    [
        (face(NOSE, LEFT), "keypoints[0].points", "has 2 points; 'face' has 3 (nose, left_eye"),
        (face(NOSE, LEFT, RIGHT | {"v": 3}), "keypoints[0].points[2].v", "0 (absent), 1"),
        (face(NOSE, LEFT, RIGHT | {"v": True}), "keypoints[0].points[2].v", "0 (absent), 1"),
        (face(NOSE, LEFT, RIGHT | {"x": 640}), "keypoints[0].points[2].x", "not pixels"),
        (face(NOSE, LEFT, {"x": 0.1, "v": 2}), "keypoints[0].points[2].y", "is required"),
        (face(NOSE, LEFT, RIGHT, label="body"), "keypoints[0].label", "'body' is not a label"),
        (face({"v": 0}, {"v": 0}, {"v": 0}), "keypoints[0].points", "are all absent"),
        ({"label": "face"}, "keypoints[0].points", "is required"),
    ],
)
def test_a_broken_value_is_refused_saying_where_and_why(
    instance: dict[str, Any], field: str, rule_part: str
) -> None:
    found = problems({"keypoints": [instance]})
    assert field in found and rule_part in found[field], found


def test_keypoint_values_read_back_from_stored_json_and_follow_renames() -> None:
    value = valid({"keypoints": [face(NOSE, LEFT, RIGHT), face(NOSE, NOSE, label="hand")]})
    assert read_value(value.to_json()) == value
    assert labels_of(value) == ("face", "hand") == stored_labels(value.to_json())
    renamed = rename_label(value, "hand", "paw")
    assert labels_of(renamed) == ("face", "paw")


# --- consensus ------------------------------------------------------------------------------


def instance(dx: float = 0.0, label: str = "face", absent: int | None = None) -> KeypointInstance:
    points = [Keypoint(0.5 + dx, 0.5, 2), Keypoint(0.4 + dx, 0.4, 1), Keypoint(0.6 + dx, 0.4, 2)]
    if absent is not None:
        points[absent] = Keypoint(0.0, 0.0, 0)
    return KeypointInstance(label, tuple(points))


def test_oks_is_one_for_the_same_points_and_falls_with_distance() -> None:
    sigmas = (DEFAULT_SIGMA,) * 3
    same = oks(instance().points, instance().points, sigmas)
    near = oks(instance().points, instance(0.01).points, sigmas)
    far = oks(instance().points, instance(0.2).points, sigmas)
    assert same == pytest.approx(1.0) and 0.5 < near < 1.0 and far < 0.01
    # A point only one labeler placed counts as a miss.
    assert oks(instance().points, instance(absent=2).points, sigmas) == pytest.approx(2 / 3)
    # Wider sigmas (a point placed less precisely) forgive more.
    assert oks(instance().points, instance(0.01).points, (0.2,) * 3) > near


def agree(*answers: KeypointSet, sigmas: dict[str, tuple[float, ...]] | None = None) -> Any:
    return decide(KP, list(answers), min_labelers=2, max_labelers=3, sigmas=sigmas)


def test_consensus_matches_instances_by_oks_and_averages_their_points() -> None:
    a = KeypointSet((instance(), instance(0.3)))
    b = KeypointSet((instance(0.302), instance(0.004)))  # the same two objects, in another order
    out = agree(a, b)
    assert out.verdict is Verdict.AGREED and out.agreed == (True, True)
    assert isinstance(out.final, KeypointSet) and len(out.final.keypoints) == 2
    first = out.final.keypoints[0].points[0]
    assert first.x == pytest.approx(0.502) and first.v == 2
    # The visibility of a point is the labelers' majority; a tie reads occluded.
    assert out.final.keypoints[0].points[1].v == 1


def test_instances_too_far_apart_are_not_the_same_object() -> None:
    out = agree(KeypointSet((instance(),)), KeypointSet((instance(0.1),)))
    assert out.verdict is Verdict.PENDING  # two singletons split evenly: ask a third labeler
    third = agree(
        KeypointSet((instance(),)), KeypointSet((instance(0.1),)), KeypointSet((instance(),))
    )
    assert third.verdict is Verdict.AGREED and third.agreed == (True, False, True)


def test_the_templates_sigmas_decide_how_close_is_the_same() -> None:
    a, b = KeypointSet((instance(),)), KeypointSet((instance(0.05),))
    assert agree(a, b).verdict is Verdict.PENDING
    loose = agree(a, b, sigmas={"face": (0.5, 0.5, 0.5)})
    assert loose.verdict is Verdict.AGREED


def test_a_point_most_labelers_left_out_is_absent_in_the_final_value() -> None:
    out = agree(
        KeypointSet((instance(absent=2),)),
        KeypointSet((instance(absent=2),)),
        KeypointSet((instance(),)),
    )
    assert isinstance(out.final, KeypointSet)
    assert out.final.keypoints[0].points[2] == Keypoint(0.0, 0.0, 0)


def test_templates_are_pydantic_models_with_the_api_shape() -> None:
    template = KeypointTemplate.model_validate({"points": ["a", "b"], "edges": [[0, 1]]})
    assert template.to_doc() == {"points": ["a", "b"], "edges": [[0, 1]]}
