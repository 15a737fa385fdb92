"""Uploads: an owner's file into the project's upload folder, then registered at once through
the same path a blob event takes. Two ways in, one set of checks:

- direct (`upload_link`, then `complete_upload`): the API checks the caller's role and the path,
  then signs a short-lived link to PUT exactly that one blob: a user delegation SAS on Azure, so
  the bytes go from the client to Blob Storage and never through the API; the embedded runtime
  answers with a write link of its own, of the same shape (a URL to PUT to, the headers to
  send). The file is registered by its blob event on Azure, or by the completion call, which
  answers with its items;
- through the API (`upload_file`): the request body itself, streamed to storage."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import BinaryIO

from core.domain.datasets import DataSource, upload_prefix
from core.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.domain.imports import IMPORT_FILES, import_file, migration_file
from core.domain.items import Item
from core.domain.links import Grant
from core.domain.projects import Project, ProjectStatus, Role, require_role
from core.ports import BlobInfo, Deps
from core.services import capacity
from core.services.projects import get_project
from core.services.refresh import register_for
from core.services.registration import skip_reason
from core.services.serving import signs_in
from core.services.users import require_creator
from core.store.collections import ITEMS

TRANSFER_S = 900
"""How long a link to write a file lives: long enough to start a large PUT (a PUT begun before
it expires may finish after), short enough that a leaked link is soon worth nothing."""
_SHA256 = re.compile(r"[0-9a-f]{64}")
BLOCK_BLOB = {"x-ms-blob-type": "BlockBlob"}
"""The header Blob Storage's Put Blob requires; the embedded runtime takes it too."""


@dataclass(frozen=True)
class Transfer:
    """Where to PUT one file: `url` with `headers`, before `expires_at`."""

    url: str
    expires_at: datetime
    method: str = "PUT"
    headers: dict[str, str] = field(default_factory=lambda: dict(BLOCK_BLOB))


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
    project = _writable_project(deps, project_id, path, actor)
    _has_room(deps, project)
    name = upload_prefix(project_id) + path
    info = deps.blobs.put(deps.data_container, name, data, content_type=content_type)
    return info, register_for(deps, project, name)


def upload_link(
    deps: Deps, *, project_id: str, path: str, actor: str, size: int, max_bytes: int
) -> Transfer:
    """A link to PUT `path` of the project's uploads, after the checks `upload_file` makes and
    before any byte moves; a declared `size` over `max_bytes` is refused here."""
    _has_room(deps, _writable_project(deps, project_id, path, actor))
    check_size(size, max_bytes, "put it in a blob container a project reads instead")
    name = upload_prefix(project_id) + path
    return write_link(deps, deps.data_container, name, Grant(project_id, actor))


def check_size(size: int, max_bytes: int, instead: str) -> None:
    if size > max_bytes:
        raise InvalidInput.one(
            "size",
            f"the file is {size:,} bytes; uploads may be at most {max_bytes:,} bytes "
            f"(LOUPE_MAX_UPLOAD_BYTES): {instead}",
        )


def write_link(deps: Deps, container: str, name: str, grant: Grant) -> Transfer:
    """A short-lived link to PUT exactly blob `name` (the caller has checked who may): a user
    delegation SAS where the blob store signs its own, else the API's own write link, made
    for `grant` and checked again when it is used (`receive_upload`)."""
    expires = deps.clock.now() + timedelta(seconds=TRANSFER_S)
    url = deps.blobs.write_url(container, name, expires_in_s=TRANSFER_S)
    if url is None:
        url = deps.links.url(
            container, name, grant, expires_at=int(expires.timestamp()), write=True
        )
    return Transfer(url=url, expires_at=expires)


def complete_upload(
    deps: Deps, *, project_id: str, path: str, actor: str
) -> tuple[BlobInfo, list[Item]]:
    """Register a file PUT on its link (again: a blob event may have done it already, and ids
    are hashes of the path, so it is the same items); its blob and items."""
    project = _writable_project(deps, project_id, path, actor)
    name = upload_prefix(project_id) + path
    try:
        info = deps.blobs.info(deps.data_container, name)
    except NotFound:
        raise Conflict(
            f"{path!r} has not arrived: PUT the file to the link POST .../uploads gave, then "
            "complete it"
        ) from None
    # The project is at hand: no blob dataset reads the uploads folder (refused at start), so
    # its file is registered in it alone, without looking the project up again.
    return info, register_for(deps, project, name)


def receive_upload(
    deps: Deps,
    *,
    container: str,
    name: str,
    grant: Grant,
    expires_at: str,
    sig: str,
    data: BinaryIO,
) -> BlobInfo:
    """A PUT on a write link of the API's own (the embedded runtime's stand-in for a SAS): the
    signature must be a write link's for exactly this blob and unexpired, its holder must still
    sign in and own the project, and the blob must be a file of that project's uploads (or
    the holder's own import file: `core.services.import_files`)."""
    if not deps.links.verify(container, name, grant, expires_at, sig, deps.clock.now(), write=True):
        raise Forbidden("this link is invalid or has expired; ask the API for a fresh one")
    if not signs_in(deps, grant.user):
        raise Forbidden(f"this link was made for {grant.user!r}, who can no longer sign in")
    if container == IMPORT_FILES:
        _check_import_file(deps, name, grant)
        return deps.blobs.put(container, name, data)
    folder = upload_prefix(grant.project_id)
    if container != deps.data_container or not name.startswith(folder):
        raise Forbidden("this link does not name a file of its project's uploads")
    try:
        _writable_project(deps, grant.project_id, name.removeprefix(folder), grant.user)
    except NotFound:
        raise Forbidden("this link's project is gone") from None
    return deps.blobs.put(container, name, data)


def _check_import_file(deps: Deps, name: str, grant: Grant) -> None:
    """An import file's link: its holder's own file, of a project they still own (or, for a
    migration, while they may still create projects)."""
    sha256 = name.rpartition("/")[2]
    if name.startswith("migrations/"):
        mine = migration_file(grant.user, sha256)
    else:
        mine = import_file(grant.project_id, grant.user, sha256)
    if name != mine or not _SHA256.fullmatch(sha256):
        raise Forbidden("this link does not name an import file of its holder")
    if name.startswith("migrations/"):
        require_creator(deps, grant.user)
        return
    try:
        project = get_project(deps, project_id=grant.project_id).value
    except NotFound:
        raise Forbidden("this link's project is gone") from None
    require_role(project, grant.user, Role.OWNER)


def _writable_project(deps: Deps, project_id: str, path: str, actor: str) -> Project:
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
    return project


def _has_room(deps: Deps, project: Project) -> None:
    """A project at its item cap takes no more files: refused before any byte moves."""
    if capacity.room(deps, project) == 0:
        found = capacity.capacity(deps, project, deps.documents.container(ITEMS).count(project.id))
        raise Conflict(f"uploads are refused: {found.warning}")
