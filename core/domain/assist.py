"""ML assist's schedule and state: when a project trains next, and what its last cycle decided.

A *cycle* is one pass of featurize → train → validate → infer (→ cluster), started by the
schedule after enough new human labels or by an owner on demand; each step is a `Run`."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import Field

from core.domain.model import DomainModel, Stamp
from core.domain.projects import AssistSettings, Project, ProjectStatus
from core.domain.task_types import TaskType

ASSIST_STATE = "assist"
"""The id of a project's state document in the `assist` container."""

STALE_REQUEST = timedelta(hours=2)
"""A cycle still pending after this is taken as lost (its message dead-lettered): the
schedule may start another."""

AUDIT_EVERY = 10
"""One item in this many is in the reservoir of the random sample: each cycle serves a few of
its items among the pre-labels, without one (`Item.audit`), so that every region of confidence
keeps getting unbiased answers (DESIGN §8); see `core.assist.bands`."""

CLUSTERED_TASKS = frozenset({TaskType.IMAGE_MULTICLASS, TaskType.IMAGE_MULTILABEL})
SHAPE_TASKS = frozenset(
    {
        TaskType.IMAGE_BOUNDING_BOX,
        TaskType.IMAGE_POLYGON,
        TaskType.IMAGE_SEMANTIC_SEGMENTATION,
        TaskType.IMAGE_INSTANCE_SEGMENTATION,
    }
)
"""Task types whose suggestions come from the box head (`core.services.assist_shapes`)."""


def is_audit(item_id: str) -> bool:
    """Whether an item belongs to the random sample: fixed by its id (a hash), so every cycle
    agrees without storing anything."""
    return int(item_id[:8], 16) % AUDIT_EVERY == 0


def unsupported_reason(task_type: TaskType) -> str | None:
    """Why ML assist cannot help this task type, or None when it can."""
    if task_type is TaskType.TEXT_NER:
        return (
            "ML assist suggests classes, boxes, polygons and masks; it has no span model for "
            "NER yet"
        )
    if task_type is TaskType.IMAGE_KEYPOINTS:
        return (
            "ML assist suggests classes, boxes, polygons and masks; it has no keypoint model "
            "yet, so keypoint projects get no suggestions"
        )
    return None


class AssistState(DomainModel):
    id: str = ASSIST_STATE
    project_id: str
    pending: str | None = Field(default=None, description="The cycle queued or running")
    pending_since: Stamp | None = None
    last_cycle: str | None = None
    trained_at_labels: int | None = Field(
        default=None, description="Human labels the last successful training used"
    )
    threshold: float | None = Field(
        default=None, description="The lowest of the class thresholds (the least confidence used)"
    )
    class_thresholds: dict[str, float] = Field(
        default_factory=dict, description="Each class with pre-labels → its threshold"
    )
    coverage: float | None = None
    prelabeled: int = 0
    suggested_before: int = Field(
        default=0, description="Submissions on pre-labeled items when the last cycle ran"
    )
    confirmed_before: int = 0


def next_training_in(settings: AssistSettings, state: AssistState, labels: int) -> int:
    """Human labels still needed before the schedule starts a cycle (0: due now)."""
    if state.trained_at_labels is None:
        return max(0, settings.train_after - labels)
    return max(0, state.trained_at_labels + settings.train_every - labels)


def is_pending(state: AssistState, now: datetime) -> bool:
    return (
        state.pending is not None
        and state.pending_since is not None
        and now - state.pending_since < STALE_REQUEST
    )


def training_due(project: Project, state: AssistState, labels: int, now: datetime) -> bool:
    return (
        project.assist.enabled
        and project.status is ProjectStatus.RUNNING
        and unsupported_reason(project.task_type) is None
        and not is_pending(state, now)
        and next_training_in(project.assist, state, labels) == 0
    )
