"""Imports and migrations straight from storage, on every runtime (memory, the local SQLite and
folder adapters, the Azure adapters on Azurite and the Cosmos DB server): the owner gets a link
(a SAS from Azurite, the API's own write link elsewhere), puts the file there, starts the job,
and the import stage checks and writes it in windows. The job document is the progress and the
report; the same file is the same job; every message delivered twice writes nothing twice."""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx
import pytest

from core.domain.datasets import Dataset, DataSource
from core.domain.errors import Forbidden
from core.domain.imports import IMPORT_FILES, ImportStatus, import_file, migration_file
from core.domain.links import Grant
from core.domain.messages import IMPORT_RUN
from core.domain.task_types import TaskType
from core.ports import Deps, Query
from core.services import import_jobs, migration_jobs, stages
from core.services.import_jobs import ImportFile
from core.services.imports import ImportFormat, ImportMode
from core.services.uploads import Transfer, receive_upload
from core.store.collections import ITEMS, scan
from tests.support.labeling import add_items, creator, running_project
from tests.support.media import image_bytes

LIMIT = 1 << 20


def put(deps: Deps, link: Transfer, data: bytes) -> None:
    """What a client does with the link: a PUT to Blob Storage (a SAS), or to the API's own."""
    if link.url.startswith("http"):
        answer = httpx.put(link.url, content=data, headers=link.headers)
        assert answer.status_code == 201, answer.text
        return
    parts = urlsplit(link.url)
    query = dict(parse_qsl(parts.query))
    container, _, name = parts.path.removeprefix("/api/blobs/").partition("/")
    receive_upload(
        deps,
        container=container,
        name=unquote(name),
        grant=Grant(query["p"], query["u"]),
        expires_at=query["exp"],
        sig=query["sig"],
        data=io.BytesIO(data),
    )


def deliver_twice(deps: Deps) -> int:
    """Run the import stage until its queue is empty, each message handled twice (a lock
    lost, a redelivery); the number of messages."""
    handled = 0
    while batch := deps.queue.receive(IMPORT_RUN, max_messages=10):
        for message in batch:
            stages.handle(deps, IMPORT_RUN, message.body)
            stages.handle(deps, IMPORT_RUN, message.body)
            deps.queue.complete(message)
            handled += 1
    return handled


def jsonl(*records: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def labeled(deps: Deps, project_id: str) -> dict[str, Any]:
    items = scan(deps.documents.container(ITEMS), project_id, Query())
    return {d.body["path"]: d.body.get("final") for d in items if d.body.get("final")}


def test_an_import_put_into_storage_is_written_in_windows_once(
    deps: Deps,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(import_jobs, "WINDOW", 2)
    project = running_project(deps, classes=("cat", "dog"))
    add_items(deps, project, 5)
    data = jsonl(*[{"path": f"img/{i:06d}.jpg", "final": {"label": "cat"}} for i in range(5)])
    data += jsonl({"path": "elsewhere.jpg", "final": {"label": "dog"}})
    file = ImportFile(
        ImportFormat.LOUPE_JSONL,
        ImportMode.FINAL,
        False,
        hashlib.sha256(data).hexdigest(),
        len(data),
    )
    link, job_id = import_jobs.import_link(
        deps, project_id=project.id, actor="olive", file=file, max_bytes=LIMIT
    )
    put(deps, link, data)
    job = import_jobs.start_import(deps, project_id=project.id, actor="olive", file=file)
    assert (job.id, job.status) == (job_id, ImportStatus.QUEUED)
    assert deliver_twice(deps) == 3  # windows of 2, 2 and 1 items
    done = import_jobs.get_import(deps, project_id=project.id, actor="olive", job_id=job_id)
    assert done.status is ImportStatus.APPLIED
    assert (done.items, done.done, done.updated) == (5, 5, 5)
    assert (done.records, done.unmatched, done.unmatched_paths) == (6, 1, ["elsewhere.jpg"])
    assert len(labeled(deps, project.id)) == 5
    assert not deps.blobs.exists(IMPORT_FILES, import_file(project.id, "olive", file.sha256))
    # The same file again is the same job, answered as it is: no message, nothing written.
    again = import_jobs.start_import(deps, project_id=project.id, actor="olive", file=file)
    assert (again.id, again.status, again.attempts) == (job_id, ImportStatus.APPLIED, 1)
    assert deliver_twice(deps) == 0


def test_a_refused_file_records_every_problem_and_writes_nothing(deps: Deps) -> None:
    project = running_project(deps, classes=("cat", "dog"))
    add_items(deps, project, 2)
    data = jsonl(
        {"path": "img/000000.jpg", "final": {"label": "cat"}},
        {"path": "img/000001.jpg", "final": {"label": "zebra"}},
    )
    file = ImportFile(
        ImportFormat.LOUPE_JSONL, ImportMode.FINAL, False, hashlib.sha256(data).hexdigest(), 9
    )
    link, job_id = import_jobs.import_link(
        deps, project_id=project.id, actor="olive", file=file, max_bytes=LIMIT
    )
    put(deps, link, data)
    import_jobs.start_import(deps, project_id=project.id, actor="olive", file=file)
    deliver_twice(deps)
    job = import_jobs.get_import(deps, project_id=project.id, actor="olive", job_id=job_id)
    assert job.status is ImportStatus.REFUSED and job.unknown_classes == ["zebra"]
    assert [e.field for e in job.errors] == ["line 2"]
    assert job.error is not None and job.error.startswith("nothing was imported")
    assert labeled(deps, project.id) == {}
    # A file whose bytes are not those declared is refused as well.
    other = ImportFile(ImportFormat.LOUPE_JSONL, ImportMode.FINAL, False, "0" * 64, 9)
    link, job_id = import_jobs.import_link(
        deps, project_id=project.id, actor="olive", file=other, max_bytes=LIMIT
    )
    put(deps, link, jsonl({"path": "img/000000.jpg", "final": {"label": "cat"}}))
    import_jobs.start_import(deps, project_id=project.id, actor="olive", file=other)
    deliver_twice(deps)
    job = import_jobs.get_import(deps, project_id=project.id, actor="olive", job_id=job_id)
    assert job.status is ImportStatus.REFUSED and "SHA-256" in job.errors[0].rule
    assert labeled(deps, project.id) == {}


def test_a_migration_put_into_storage_makes_its_project_once(deps: Deps) -> None:
    creator(deps, "olive")
    deps.blobs.put("images", "pets/1.jpg", image_bytes("JPEG", (64, 48)))
    store = "azureml://subscriptions/s/resourcegroups/r/workspaces/w/datastores/d/paths/"
    data = jsonl(
        {"image_url": store + "pets/1.jpg", "label": "cat"},
        {"image_url": store + "pets/2.jpg", "label": "dog"},
    )
    sha = hashlib.sha256(data).hexdigest()
    link = migration_jobs.migration_link(
        deps, actor="olive", sha256=sha, size=len(data), max_bytes=LIMIT
    )
    put(deps, link, data)
    dataset = Dataset(source=DataSource.BLOB, container="images", path="pets/**")
    job = migration_jobs.start_migration(
        deps, actor="olive", name="Moved", dataset=dataset, task_type=None, sha256=sha
    )
    assert deliver_twice(deps) == 1
    done = migration_jobs.get_migration(deps, actor="olive", job_id=job.id)
    assert done.status is ImportStatus.APPLIED and done.project is not None
    assert (done.task_type, done.classes, done.labeled) == (
        TaskType.IMAGE_MULTICLASS.value,
        ["cat", "dog"],
        1,
    )
    assert done.missing_urls == [store + "pets/2.jpg"]
    assert labeled(deps, done.project) == {"pets/1.jpg": {"label": "cat"}}
    assert not deps.blobs.exists(IMPORT_FILES, migration_file("olive", sha))
    same = migration_jobs.start_migration(
        deps, actor="olive", name="Moved", dataset=dataset, task_type=None, sha256=sha
    )
    assert (same.id, same.status, same.project) == (job.id, ImportStatus.APPLIED, done.project)


def test_an_import_link_writes_only_its_holders_file() -> None:
    from tests.support.deps import memory_deps

    deps = memory_deps()
    project = running_project(deps, classes=("cat",))
    running_project(deps, name="Other", owner="sam")
    expires = int(deps.clock.now().timestamp()) + 60

    def use(name: str, grant: Grant) -> None:
        sig = deps.links.url(IMPORT_FILES, name, grant, expires_at=expires, write=True)
        query = dict(parse_qsl(urlsplit(sig).query))
        receive_upload(
            deps,
            container=IMPORT_FILES,
            name=name,
            grant=grant,
            expires_at=str(expires),
            sig=query["sig"],
            data=io.BytesIO(b"x"),
        )

    sha = "ab" * 32
    use(import_file(project.id, "olive", sha), Grant(project.id, "olive"))  # the owner's own
    for name, grant in [
        (import_file(project.id, "olive", sha), Grant(project.id, "sam")),  # another's name
        (import_file(project.id, "sam", sha), Grant(project.id, "sam")),  # not an owner
        (f"{project.id}/x/{sha}", Grant(project.id, "olive")),
        (migration_file("sam", "nothex"), Grant("m", "sam")),
    ]:
        with pytest.raises(Forbidden):
            use(name, grant)
