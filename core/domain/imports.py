"""Import jobs: one document per (project, owner, file, options), so that sending the same file
again is recognised, whether the first attempt finished or was cut off while applying."""

from __future__ import annotations

import hashlib
from enum import StrEnum

from pydantic import Field

from core.domain.model import DomainModel, Stamp


class ImportStatus(StrEnum):
    APPLYING = "applying"  # checked, being written: an interruption leaves it here
    APPLIED = "applied"


class ImportJob(DomainModel):
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
    updated: int = Field(default=0, ge=0, description="Items changed by the last attempt")
    started_at: Stamp
    finished_at: Stamp | None = None


def import_job_id(
    project_id: str, actor: str, format: str, mode: str, normalized: bool, sha256: str
) -> str:
    key = "\n".join((project_id, actor, format, mode, str(normalized), sha256))
    return hashlib.sha256(key.encode()).hexdigest()[:32]
