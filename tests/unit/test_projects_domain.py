from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from core.domain.datasets import Dataset, DataSource
from core.domain.errors import Conflict, Forbidden, InvalidInput
from core.domain.labels import LabelClass
from core.domain.projects import (
    Project,
    ProjectPatch,
    ProjectSettings,
    ProjectStatus,
    Role,
    apply_patch,
    name_key,
    new_project,
    require_role,
    transition,
)
from core.domain.task_types import MediaKind, TaskType

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def settings(**changes: object) -> ProjectSettings:
    fields: dict[str, object] = {
        "name": "Birds",
        "taskType": "image_bounding_box",
        "labelClasses": [{"name": "Bird/Gull"}, {"name": "Bird/Tern"}],
    }
    return ProjectSettings.model_validate(fields | changes)


def project(status: ProjectStatus = ProjectStatus.INITIALIZING) -> Project:
    made = new_project(settings(), project_id="p1", created_by="ann", now=NOW)
    return made.model_copy(update={"status": status})


@pytest.mark.parametrize("task_type", list(TaskType))
def test_every_task_type_makes_a_project(task_type: TaskType) -> None:
    changes: dict[str, object] = {"taskType": task_type.value}
    if task_type is TaskType.IMAGE_KEYPOINTS:  # its classes need a point template
        changes["labelClasses"] = [{"name": "Bird", "keypoints": {"points": ["head", "tail"]}}]
    made = new_project(settings(**changes), project_id="p", created_by="a", now=NOW)
    assert made.status is ProjectStatus.INITIALIZING
    assert made.task_type.media is (
        MediaKind.TEXT if task_type.value.startswith("text") else MediaKind.IMAGE
    )


def test_creator_is_owner_and_keys_assigned() -> None:
    made = project()
    assert made.members == {"ann": Role.OWNER}
    assert [c.key for c in made.label_classes] == ["1", "2"]


def test_document_round_trip_is_camel_case_without_nulls() -> None:
    doc = project().to_doc()
    assert doc["taskType"] == "image_bounding_box"
    assert "deletedAt" not in doc
    assert Project.model_validate(doc) == project()


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"name": " padded"}, "name"),
        ({"name": ""}, "name"),
        ({"taskType": "video"}, "taskType"),
        ({"labelClasses": []}, "labelClasses"),
        ({"instructions": {"url": "ftp://x"}}, "instructions.url"),
        ({"consensus": {"minLabelers": 3, "maxLabelers": 2}}, "consensus"),
        ({"assist": {"targetPrecision": 1.5}}, "assist.targetPrecision"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_settings_name_the_field(changes: dict[str, object], where: str) -> None:
    with pytest.raises(ValidationError) as raised:
        settings(**changes)
    locations = [".".join(str(p) for p in e["loc"]) for e in raised.value.errors()]
    assert any(loc.startswith(where) for loc in locations), locations


def test_lifecycle() -> None:
    running = transition(project(), ProjectStatus.RUNNING, now=NOW)
    paused = transition(running, ProjectStatus.PAUSED, now=NOW)
    assert transition(paused, ProjectStatus.RUNNING, now=NOW).status is ProjectStatus.RUNNING
    assert transition(project(), ProjectStatus.ERROR, now=NOW, reason="x").status_reason == "x"
    with pytest.raises(Conflict, match="initializing cannot become paused"):
        transition(project(), ProjectStatus.PAUSED, now=NOW)


def test_task_type_and_dataset_fixed_after_initialization() -> None:
    other = Dataset(source=DataSource.BLOB, container="elsewhere", path="**/.")
    patch = ProjectPatch(task_type=TaskType.IMAGE_POLYGON, dataset=other)
    assert apply_patch(project(), patch, now=NOW).task_type is TaskType.IMAGE_POLYGON
    with pytest.raises(InvalidInput) as raised:
        apply_patch(project(ProjectStatus.RUNNING), patch, now=NOW)
    assert {v.field for v in raised.value.violations} == {"taskType", "dataset"}
    same = ProjectPatch(task_type=TaskType.IMAGE_BOUNDING_BOX, name="Seabirds")
    assert apply_patch(project(ProjectStatus.RUNNING), same, now=NOW).name == "Seabirds"


def test_running_project_can_add_but_not_remove_classes() -> None:
    running = project(ProjectStatus.RUNNING)
    added = ProjectPatch(label_classes=[*running.label_classes, LabelClass(name="Bird/Skua")])
    assert len(apply_patch(running, added, now=NOW).label_classes) == 3
    removed = ProjectPatch(label_classes=running.label_classes[:1])
    with pytest.raises(InvalidInput, match="cannot remove 'Bird/Tern'"):
        apply_patch(running, removed, now=NOW)


def test_patch_revalidates_the_whole_project() -> None:
    with pytest.raises(InvalidInput, match="labels are the leaves"):
        apply_patch(
            project(),
            ProjectPatch(label_classes=[LabelClass(name="Bird"), LabelClass(name="Bird/Gull")]),
            now=NOW,
        )


def test_names_compare_without_case_width_or_spacing() -> None:
    fullwidth = "\uff33\uff34\uff32\uff25\uff25\uff34 signs"
    assert name_key("Street  Signs") == name_key("street signs") == name_key(fullwidth)


def test_roles() -> None:
    made = project().model_copy(update={"members": {"ann": Role.OWNER, "bo": Role.LABELER}})
    require_role(made, "ann", Role.OWNER)
    require_role(made, "bo", Role.LABELER)
    with pytest.raises(Forbidden, match="needs the owner role"):
        require_role(made, "bo", Role.OWNER)
    with pytest.raises(Forbidden, match="not a member"):
        require_role(made, "cy", Role.LABELER)
