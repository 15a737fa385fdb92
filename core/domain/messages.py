"""Work-queue messages. Each names what it works on by id, never carries the data itself, so a
handler always reads the current state and a repeated delivery does no harm."""

from __future__ import annotations

from core.domain.model import DomainModel

PROJECT_INIT = "project-init"


class InitializeProject(DomainModel):
    project_id: str
