"""Repositories: each aggregate's queries by name, beside the indexes they need. Services call
these instead of spelling document field names (`tests/unit/test_service_shape.py`)."""

from __future__ import annotations

from typing import ClassVar

from core.ports import ContainerSpec, Deps


class ProjectScoped:
    """A repository of one project's documents, all in the container `SPEC`."""

    SPEC: ClassVar[ContainerSpec]

    def __init__(self, deps: Deps, project_id: str) -> None:
        self.container = deps.documents.container(self.SPEC)
        self.project_id = project_id
