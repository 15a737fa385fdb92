"""Import jobs: one document per (project, owner, file, options), so that sending the same file
again is recognised, whether the first attempt finished or was cut off while applying.

A file put straight into storage (`POST .../imports/files`, then `.../imports/jobs`) is checked
and applied by the import stage: the job document is then also the import's progress and its
report, which the caller polls. Migrations from Azure ML Data Labeling are jobs of the same
kind, kept in their creator's own partition (there is no project until the file is read)."""

from __future__ import annotations

import hashlib
from enum import StrEnum

from pydantic import Field

from core.domain.model import DomainModel, Stamp

IMPORT_FILES = "imports"
"""The blob container import and migration files are put into (a Loupe container: no dataset
may read it). Names: `<project id>/<owner key>/<sha256>` and `migrations/<creator key>/<sha256>`."""


class ImportStatus(StrEnum):
    QUEUED = "queued"  # the file is stored; the import stage will check it
    APPLYING = "applying"  # checked, being written: an interruption leaves it here
    APPLIED = "applied"
    REFUSED = "refused"  # the file has problems (`errors`): nothing was written
    FAILED = "failed"  # writing stopped (`error`): start it again to finish


FINAL = frozenset({ImportStatus.APPLIED, ImportStatus.REFUSED})


class FileProblem(DomainModel):
    """One problem of a refused file: where (`line 12`), and the rule it breaks."""

    field: str
    rule: str


class JobReport(DomainModel):
    """What a stage-run job found, beside its status."""

    errors: list[FileProblem] = Field(default_factory=list, description="A refused file's first")
    omitted: int = Field(default=0, ge=0, description="Problems found beyond those listed")
    unknown_classes: list[str] = Field(default_factory=list)
    error: str | None = Field(
        default=None, description="Why the file was refused, or why writing stopped (failed)"
    )


class ImportJob(JobReport):
    id: str
    project_id: str
    actor: str
    format: str
    mode: str
    normalized: bool
    sha256: str = Field(description="Of the file's bytes")
    status: ImportStatus = ImportStatus.APPLYING
    attempts: int = Field(default=1, ge=1)
    items: int = Field(default=0, ge=0, description="Items the file sets (matched and valid)")
    updated: int = Field(
        default=0,
        ge=0,
        description="Items changed by the last attempt (a stage-run job: items set as the file "
        "says, written now or found so)",
    )
    started_at: Stamp
    finished_at: Stamp | None = None
    source: str | None = Field(default=None, description="The file's blob (direct imports)")
    done: int = Field(default=0, ge=0, description="Items of `items` written so far")
    records: int = 0
    unchanged: int = 0
    unmatched: int = 0
    unmatched_paths: list[str] = Field(default_factory=list)
    without_labels: int = 0
    kept_labeled: int = 0
    resumed: bool = False


class MigrationJob(JobReport):
    """A migration from an Azure ML labels export put into storage, run by the import stage."""

    id: str
    project_id: str = Field(description="The creator's partition (`migration_partition`)")
    actor: str
    name: str
    container: str | None = None
    path: str = ""
    task_type: str | None = None
    sha256: str
    source: str
    status: ImportStatus = ImportStatus.QUEUED
    attempts: int = Field(default=1, ge=1)
    started_at: Stamp
    finished_at: Stamp | None = None
    project: str | None = Field(default=None, description="The project made, once it is")
    classes: list[str] = Field(default_factory=list)
    records: int = 0
    items: int = 0
    labeled: int = 0
    unlabeled_records: int = 0
    missing: int = 0
    missing_urls: list[str] = Field(default_factory=list)


def import_job_id(
    project_id: str, actor: str, format: str, mode: str, normalized: bool, sha256: str
) -> str:
    key = "\n".join((project_id, actor, format, mode, str(normalized), sha256))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def actor_key(actor: str) -> str:
    """A user's part of a blob name or partition: plain characters whatever their id holds."""
    return hashlib.sha256(actor.encode()).hexdigest()[:24]


def import_file(project_id: str, actor: str, sha256: str) -> str:
    return f"{project_id}/{actor_key(actor)}/{sha256}"


def migration_partition(actor: str) -> str:
    return f"migrations-{actor_key(actor)}"


def migration_file(actor: str, sha256: str) -> str:
    return f"migrations/{actor_key(actor)}/{sha256}"


def migration_job_id(
    actor: str, name: str, container: str | None, path: str, task_type: str | None, sha256: str
) -> str:
    key = "\n".join((actor, name, container or "", path, task_type or "", sha256))
    return hashlib.sha256(key.encode()).hexdigest()[:32]
