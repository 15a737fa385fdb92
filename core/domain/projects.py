"""Projects: what to label, how, and where the project is in its life.

`initializing → running ↔ paused`, and `error` when initialization fails (it can be retried).
The task type and the dataset are fixed once initialization has finished, because every item
and annotation was made for them. Names are unique forever: deletion leaves a tombstone.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field, StrictBool, field_validator, model_validator

from core.domain.datasets import Dataset
from core.domain.errors import Conflict, Forbidden, InvalidInput, Violation
from core.domain.labels import (
    LabelClass,
    check_label_classes,
    check_templates,
    check_templates_kept,
    with_default_keys,
)
from core.domain.model import DomainModel, JsonFloat, JsonInt, Stamp
from core.domain.relabel import PendingRewrite
from core.domain.relations import RelationClass, check_none_removed, check_relation_classes
from core.domain.task_types import TaskType
from core.domain.text_patterns import CONTROL, CONTROL_CHARACTER, SPACE

MAX_NAME_LENGTH = 100
MAX_INSTRUCTIONS = 100_000
NAME_PATTERN = f"^[^{CONTROL}{SPACE}](?:[^{CONTROL}]*[^{CONTROL}{SPACE}])?$"
"""`_clean_name` as a JSON Schema pattern."""
URL_PATTERN = f"^[Hh][Tt][Tt][Pp][Ss\u017f]?://[^{SPACE}/$.?#][^{SPACE}]*$"
"""`_http_url` as a JSON Schema pattern (U+017F, long s, is an `s` to Python's IGNORECASE)."""


class ProjectStatus(StrEnum):
    INITIALIZING = "initializing"
    RUNNING = "running"
    PAUSED = "paused"
    ERROR = "error"


class Role(StrEnum):
    OWNER = "owner"
    REVIEWER = "reviewer"
    LABELER = "labeler"


_TRANSITIONS: dict[ProjectStatus, frozenset[ProjectStatus]] = {
    ProjectStatus.INITIALIZING: frozenset({ProjectStatus.RUNNING, ProjectStatus.ERROR}),
    ProjectStatus.RUNNING: frozenset({ProjectStatus.PAUSED, ProjectStatus.INITIALIZING}),
    ProjectStatus.PAUSED: frozenset({ProjectStatus.RUNNING}),
    ProjectStatus.ERROR: frozenset({ProjectStatus.INITIALIZING}),
}


class Instructions(DomainModel):
    """Shown to labelers: markdown written in Loupe, or a link to a page kept elsewhere."""

    markdown: str = Field(default="", max_length=MAX_INSTRUCTIONS)
    url: str | None = Field(
        default=None, max_length=2048, json_schema_extra={"pattern": URL_PATTERN}
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not re.fullmatch(r"https?://[^\s/$.?#][^\s]*", url, re.IGNORECASE):
            raise ValueError("must be an http:// or https:// address")
        return url


class AssistSettings(DomainModel):
    enabled: StrictBool = False
    backbone: str | None = Field(default=None, description="Model registry name; None: default")
    target_precision: JsonFloat = Field(default=0.95, ge=0.5, le=0.999)
    train_after: JsonInt = Field(
        default=100, ge=10, le=100_000, description="Human labels before the first training"
    )
    train_every: JsonInt = Field(
        default=100, ge=10, le=100_000, description="Human labels between runs"
    )
    active_learning: StrictBool = Field(
        default=False, description="Serve the items the model is least sure of first"
    )


class ConsensusSettings(DomainModel):
    """`maxLabelers` is at least `minLabelers`."""

    min_labelers: JsonInt = Field(default=1, ge=1, le=10)
    max_labelers: JsonInt = Field(default=1, ge=1, le=10)

    @model_validator(mode="after")
    def _ordered(self) -> ConsensusSettings:
        if self.max_labelers < self.min_labelers:
            raise ValueError("maxLabelers must be at least minLabelers")
        return self


DEFAULT_MAX_PIXELS = 178_956_970
"""Pillow's decompression-bomb limit (twice its warning size): about 13,000 × 13,000."""


class IngestSettings(DomainModel):
    """How files become items."""

    item_cap: JsonInt | None = Field(
        default=None, ge=1, description="Keep the first N items in listing order; None: all"
    )
    text_column: str | None = Field(
        default=None,
        min_length=1,
        description="The .csv/.tsv column holding the text; None: 'text', or the only column",
    )
    text_field: str = Field(default="text", min_length=1, description="The .jsonl field")
    max_pixels: JsonInt = Field(
        default=DEFAULT_MAX_PIXELS,
        ge=1,
        le=10_000_000_000,
        description="Larger images (width × height × frames) are refused as decompression bombs",
    )
    dicom_series: StrictBool = Field(
        default=False,
        description="Single-frame DICOM files sharing a SeriesInstanceUID become one item, a "
        "volume of slices (files registered before it was set stay items of their own)",
    )


def _none_yet(classes: list[RelationClass]) -> bool:
    """Projects without relation classes are stored (and shown) as before relations existed."""
    return not classes


class ProjectSettings(DomainModel):
    """What an owner chooses when creating a project."""

    name: str = Field(
        min_length=1,
        max_length=MAX_NAME_LENGTH,
        json_schema_extra={"pattern": NAME_PATTERN},
        description="Unique forever, ignoring case and spacing, even after the project is deleted",
    )
    task_type: TaskType
    label_classes: list[LabelClass] = Field(min_length=1)
    relation_classes: list[RelationClass] = Field(
        default_factory=list,
        exclude_if=_none_yet,
        description="text_ner only: the relations labelers may draw between two spans",
    )
    instructions: Instructions = Instructions()
    dataset: Dataset = Dataset()
    incremental_refresh: StrictBool = True
    assist: AssistSettings = AssistSettings()
    consensus: ConsensusSettings = ConsensusSettings()
    ingest: IngestSettings = IngestSettings()

    @field_validator("name")
    @classmethod
    def _clean_name(cls, name: str) -> str:
        if name != name.strip() or CONTROL_CHARACTER.search(name):
            raise ValueError("must not start or end with spaces or contain control characters")
        return name

    @field_validator("label_classes")
    @classmethod
    def _consistent_classes(cls, classes: list[LabelClass]) -> list[LabelClass]:
        check_label_classes(classes)
        return with_default_keys(classes)

    @model_validator(mode="after")
    def _templates_fit_the_task(self) -> ProjectSettings:
        check_templates(self.label_classes, self.task_type)
        return self

    @model_validator(mode="after")
    def _relations_fit(self) -> ProjectSettings:
        check_relation_classes(self.relation_classes, self.label_classes, self.task_type)
        return self


class Project(ProjectSettings):
    id: str
    status: ProjectStatus = ProjectStatus.INITIALIZING
    status_reason: str | None = None
    members: dict[str, Role] = Field(default_factory=dict)
    created_by: str
    created_at: Stamp
    updated_at: Stamp
    deleted_at: Stamp | None = None
    relabeling: PendingRewrite | None = Field(
        default=None, description="A label-class change still being applied to the items"
    )

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class ProjectPatch(DomainModel):
    """A partial update; fields left out stay as they are."""

    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_NAME_LENGTH,
        json_schema_extra={"pattern": NAME_PATTERN},
    )
    task_type: TaskType | None = None
    label_classes: list[LabelClass] | None = Field(default=None, min_length=1)
    relation_classes: list[RelationClass] | None = None
    instructions: Instructions | None = None
    dataset: Dataset | None = None
    incremental_refresh: StrictBool | None = None
    assist: AssistSettings | None = None
    consensus: ConsensusSettings | None = None
    ingest: IngestSettings | None = None


IMMUTABLE_AFTER_INIT = ("task_type", "dataset")


def name_key(name: str) -> str:
    """The form names are compared in: Unicode-normalized, case-folded, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def new_project(
    settings: ProjectSettings, *, project_id: str, created_by: str, now: datetime
) -> Project:
    return Project(
        **dict(settings),
        id=project_id,
        members={created_by: Role.OWNER},
        created_by=created_by,
        created_at=now,
        updated_at=now,
    )


def apply_patch(project: Project, patch: ProjectPatch, *, now: datetime) -> Project:
    changes = patch.model_dump(exclude_unset=True, exclude_none=True)
    if project.status is not ProjectStatus.INITIALIZING:
        fixed = [
            name
            for name in IMMUTABLE_AFTER_INIT
            if name in changes and _differs(project, name, patch)
        ]
        if fixed:
            raise InvalidInput(
                [
                    Violation(_camel(name), "cannot change after the project is initialized")
                    for name in fixed
                ]
            )
        if patch.label_classes is not None:
            _check_no_class_removed(project.label_classes, patch.label_classes)
            check_templates_kept(project.label_classes, patch.label_classes)
            if project.relabeling is not None and patch.label_classes != project.label_classes:
                raise still_relabeling(project.relabeling)
        if patch.relation_classes is not None:
            check_none_removed(project.relation_classes, patch.relation_classes)
    merged = project.model_dump() | {name: getattr(patch, name) for name in changes}
    merged["updated_at"] = now
    return _revalidate(merged)


def transition(
    project: Project, to: ProjectStatus, *, now: datetime, reason: str | None = None
) -> Project:
    if to is project.status:
        return project
    if to not in _TRANSITIONS[project.status]:
        raise Conflict(f"a project that is {project.status.value} cannot become {to.value}")
    return project.model_copy(update={"status": to, "status_reason": reason, "updated_at": now})


def tombstone(project: Project, *, now: datetime) -> Project:
    return project.model_copy(update={"deleted_at": now, "updated_at": now})


def still_relabeling(pending: PendingRewrite) -> Conflict:
    """One class change at a time: a second one while items are rewritten for the first would
    be applied to some items before the first and to others after it."""
    return Conflict(
        f"the label classes cannot change until {pending.describe()} has been applied to every "
        "item (it runs in the background, batch by batch); try again in a moment"
    )


def _check_no_class_removed(before: list[LabelClass], after: list[LabelClass]) -> None:
    kept = {label.name for label in after}
    removed = [label.name for label in before if label.name not in kept]
    if removed:
        raise InvalidInput.one(
            "labelClasses",
            f"cannot remove {', '.join(map(repr, removed))} after initialization: items may "
            "carry these labels (add new classes instead)",
        )


def _differs(project: Project, name: str, patch: ProjectPatch) -> bool:
    return bool(getattr(project, name) != getattr(patch, name))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _revalidate(fields: dict[str, Any]) -> Project:
    return Project.model_validate(fields)


def require_role(project: Project, user: str, *allowed: Role) -> None:
    """Raise unless `user` holds one of `allowed` in `project` (an owner may do anything)."""
    role = project.members.get(user)
    if role is None:
        raise Forbidden(f"you are not a member of project {project.name!r}")
    if role is not Role.OWNER and role not in allowed:
        raise Forbidden(
            f"this needs the {' or '.join(r.value for r in allowed) or 'owner'} role in "
            f"{project.name!r}; you are {role.value}"
        )
