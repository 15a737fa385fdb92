"""ML-assist runs as the dashboard lists them: featurization, training, validation, inference."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from core.domain.model import DomainModel, Stamp


class RunKind(StrEnum):
    FEATURIZE = "featurize"
    TRAIN = "train"
    VALIDATE = "validate"
    INFER = "infer"
    CLUSTER = "cluster"


class JobStatus(StrEnum):
    """Where a background job (an ML run, an export) is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Run(DomainModel):
    id: str
    project_id: str
    kind: RunKind
    status: JobStatus = JobStatus.QUEUED
    created_at: Stamp
    started_at: Stamp | None = None
    finished_at: Stamp | None = None
    cycle: str | None = Field(default=None, description="The assist request this run is part of")
    metrics: dict[str, float] = Field(default_factory=dict)
    per_class: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="Metrics of each label class (coverage is uneven)"
    )
    message: str | None = Field(
        default=None, description="What the run decided, e.g. why it emitted no pre-labels"
    )
    error: str | None = None
