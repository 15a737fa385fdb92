"""An image_keypoints project through the services: labelers' answers validated against their
class's template, consensus by OKS, and ML assist declining the type in its run record."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from core.domain.annotations import KeypointSet
from core.domain.datasets import Dataset
from core.domain.errors import InvalidAnnotation, InvalidInput
from core.domain.exports import ExportFormat
from core.domain.items import Item, ItemState
from core.domain.labels import LabelClass
from core.domain.messages import RunAssist
from core.domain.projects import Role
from core.domain.relabel import ExistingLabels
from core.domain.task_types import TaskType
from core.services import exports, imports, label_classes, labeling, projects, tasks
from core.services.assist import recent_runs
from core.services.assist_cycle import run_assist
from core.services.migrations import migrate_azureml
from core.store.collections import ITEMS, load
from tests.support.deps import memory_deps
from tests.support.labeling import add_items, running_project, users

FACE = {"name": "face", "keypoints": {"points": ["nose", "left_eye", "right_eye"]}}


def face(dx: float = 0.0) -> dict[str, Any]:
    points = [{"x": 0.5 + dx, "y": 0.5, "v": 2}, {"v": 0}, {"x": 0.6 + dx, "y": 0.4, "v": 1}]
    return {"keypoints": [{"label": "face", "points": points}]}


def test_two_labelers_placing_the_same_points_agree() -> None:
    deps = memory_deps()
    users(deps, "olive", "lee", "lou")
    project = running_project(
        deps,
        task_type="image_keypoints",
        labelClasses=[FACE],
        members={"lee": Role.LABELER, "lou": Role.LABELER},
        consensus={"minLabelers": 2, "maxLabelers": 2},
    )
    (item_id,) = add_items(deps, project, 1)
    for who, value in (("lee", face()), ("lou", face(0.003))):
        task = tasks.next_task(deps, project_id=project.id, actor=who).items[0]
        labeling.submit_annotation(
            deps, project_id=project.id, actor=who, item_id=task.id, value=value
        )
    item = load(Item, deps.documents.container(ITEMS).read(project.id, item_id))
    assert item.state is ItemState.LABELED
    assert isinstance(item.final, KeypointSet)
    assert item.final.keypoints[0].points[0].x == pytest.approx(0.5015)
    assert item.final.keypoints[0].points[1].v == 0


def test_an_answer_with_the_wrong_points_is_refused_naming_the_template() -> None:
    deps = memory_deps()
    users(deps, "olive", "lee")
    project = running_project(
        deps, task_type="image_keypoints", labelClasses=[FACE], members={"lee": Role.LABELER}
    )
    add_items(deps, project, 1)
    task = tasks.next_task(deps, project_id=project.id, actor="lee").items[0]
    short = {"keypoints": [{"label": "face", "points": [{"x": 0.5, "y": 0.5, "v": 2}]}]}
    with pytest.raises(InvalidAnnotation) as caught:
        labeling.submit_annotation(
            deps, project_id=project.id, actor="lee", item_id=task.id, value=short
        )
    (problem,) = caught.value.violations
    assert problem.field == "value.keypoints[0].points"
    assert "'face' has 3 (nose, left_eye, right_eye)" in problem.rule


def test_ml_assist_skips_keypoint_projects_and_its_run_says_why() -> None:
    deps = memory_deps()
    project = running_project(deps, task_type="image_keypoints", labelClasses=[FACE])
    run_assist(deps, message=RunAssist(project_id=project.id, cycle="c1"))
    (run,) = recent_runs(deps, project.id)
    assert run.message is not None and "no keypoint model yet" in run.message


def test_azure_ml_had_no_keypoint_projects_to_migrate() -> None:
    deps = memory_deps()
    users(deps, "olive")
    with pytest.raises(InvalidInput, match="Azure ML Data Labeling had no keypoint"):
        migrate_azureml(
            deps,
            actor="olive",
            name="old",
            data=io.BytesIO(b""),
            dataset=Dataset(),
            task_type=TaskType.IMAGE_KEYPOINTS,
        )


def test_a_coco_export_of_the_project_names_each_class_points_and_skeleton() -> None:
    deps = memory_deps()
    users(deps, "olive")
    skeleton = FACE | {"keypoints": FACE["keypoints"] | {"edges": [[0, 1], [0, 2]]}}
    project = running_project(deps, task_type="image_keypoints", labelClasses=[skeleton])
    _, _, chunks = exports.open_export(
        deps,
        project_id=project.id,
        actor="olive",
        format=ExportFormat.COCO,
        options=exports.ExportOptions(),
    )
    (category,) = json.loads(b"".join(chunks))["categories"]
    assert category["keypoints"] == ["nose", "left_eye", "right_eye"]
    assert category["skeleton"] == [[1, 2], [1, 3]]


def test_a_class_added_mid_project_brings_its_template_or_is_refused() -> None:
    deps = memory_deps()
    project = running_project(deps, task_type="image_keypoints", labelClasses=[FACE])
    projects.pause_project(deps, project_id=project.id, actor="olive")
    with pytest.raises(InvalidInput, match="'hand' needs a point template"):
        label_classes.add_label_classes(
            deps,
            project_id=project.id,
            actor="olive",
            classes=[LabelClass(name="hand")],
            existing=ExistingLabels.KEEP,
        )
    hand = LabelClass.model_validate({"name": "hand", "keypoints": {"points": ["wrist"]}})
    added = label_classes.add_label_classes(
        deps, project_id=project.id, actor="olive", classes=[hand], existing=ExistingLabels.KEEP
    )
    assert [c.name for c in added.value.label_classes] == ["face", "hand"]


def test_keypoint_labels_import_from_loupe_jsonl_and_other_formats_say_so() -> None:
    deps = memory_deps()
    project = running_project(deps, task_type="image_keypoints", labelClasses=[FACE])
    (item_id,) = add_items(deps, project, 1)
    path = load(Item, deps.documents.container(ITEMS).read(project.id, item_id)).path
    for format in (imports.ImportFormat.COCO, imports.ImportFormat.AZUREML_JSONL):
        with pytest.raises(InvalidInput, match="does not read keypoints yet"):
            imports.import_labels(
                deps, project_id=project.id, actor="olive", format=format, data=io.BytesIO(b"{}")
            )
    line = json.dumps({"path": path, "final": face()}).encode()
    report = imports.import_labels(
        deps,
        project_id=project.id,
        actor="olive",
        format=imports.ImportFormat.LOUPE_JSONL,
        data=io.BytesIO(line),
        mode=imports.ImportMode.FINAL,
    )
    assert report.updated == 1
    item = load(Item, deps.documents.container(ITEMS).read(project.id, item_id))
    assert isinstance(item.final, KeypointSet) and item.final.keypoints[0].points[1].v == 0
