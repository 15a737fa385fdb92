"""Uploads: an owner's file streamed into the project's upload folder, then registered at
once through the same path a blob event takes."""

from __future__ import annotations

from typing import BinaryIO

from core.domain.datasets import DataSource, upload_prefix
from core.domain.errors import Conflict, InvalidInput
from core.domain.items import Item
from core.domain.projects import ProjectStatus, Role, require_role
from core.ports import BlobInfo, Deps
from core.services.projects import get_project
from core.services.refresh import register_blob
from core.services.registration import skip_reason


def upload_file(
    deps: Deps,
    *,
    project_id: str,
    path: str,
    data: BinaryIO,
    actor: str,
    content_type: str | None = None,
) -> tuple[BlobInfo, list[Item]]:
    """Store `data` as `path` of the project's dataset and register it; returns the blob and
    the items it made (several for a row file). Refuses types the project does not take
    before reading any byte."""
    project = get_project(deps, project_id=project_id).value
    require_role(project, actor, Role.OWNER)
    if project.dataset.source is not DataSource.UPLOAD:
        raise Conflict(
            f"project {project.name!r} reads container {project.dataset.container!r}: put files "
            "there (new ones are ingested by themselves), or create a project for uploads"
        )
    if project.status is ProjectStatus.ERROR:
        raise Conflict("the project failed to initialize; fix its dataset, then upload")
    if (reason := skip_reason(project, path)) is not None:
        raise InvalidInput.one("path", f"{path!r}: {reason}")
    name = upload_prefix(project_id) + path
    info = deps.blobs.put(deps.data_container, name, data, content_type=content_type)
    items = register_blob(deps, container=deps.data_container, name=name)
    return info, [i for i in items if i.project_id == project_id]
