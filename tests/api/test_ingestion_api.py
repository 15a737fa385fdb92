"""Uploads streamed over HTTP, refused names and types, roles, and progress."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.domain.datasets import upload_prefix
from core.services import stages
from core.services.users import create_user
from tests.api.conftest import Api
from tests.support.media import image_bytes


def make_project(api: Api, **fields: object) -> str:
    body = {"name": "Up", "taskType": "image_multiclass", "labelClasses": [{"name": "x"}]}
    created = api.client.post("/api/projects", json=body | fields, headers=api.auth())
    assert created.status_code == 201, created.text
    project_id: str = created.json()["id"]
    while messages := api.deps.queue.receive("project-init"):
        for message in messages:
            stages.handle(api.deps, message.queue, message.body)
            api.deps.queue.complete(message)
    return project_id


def test_upload_streams_into_the_project_and_registers_the_item(api: Api) -> None:
    project_id = make_project(api)
    data = image_bytes("PNG", (1200, 900)) + b"\0" * (3 << 20)  # a few chunks long

    def body() -> Iterator[bytes]:
        for i in range(0, len(data), 64 << 10):
            yield data[i : i + (64 << 10)]

    response = api.client.put(
        f"/api/projects/{project_id}/files/trip/day 1/a.png", content=body(), headers=api.auth()
    )
    assert response.status_code == 201, response.text
    uploaded = response.json()
    assert uploaded["bytes"] == len(data)
    (item,) = uploaded["items"]
    assert (item["path"], item["state"]) == ("trip/day 1/a.png", "unlabeled")
    stored = api.deps.blobs.get("data", upload_prefix(project_id) + "trip/day 1/a.png")
    assert stored == data

    again = api.client.put(
        f"/api/projects/{project_id}/files/trip/day 1/a.png", content=data, headers=api.auth()
    )
    assert again.json()["items"][0]["id"] == item["id"]  # the same item, not a second one

    broken = api.client.put(
        f"/api/projects/{project_id}/files/broken.jpg", content=b"oops", headers=api.auth()
    )
    assert broken.status_code == 201
    progress = api.client.get(f"/api/projects/{project_id}/ingestion", headers=api.auth())
    assert progress.status_code == 200 and progress.json()["status"] == "running"
    # Uploaded items count as they arrive: a client polling the progress sees them.
    found = progress.json()
    assert (found["registered"], found["failed"], found["total"]) == (1, 1, 2)


def test_a_bad_file_becomes_an_item_in_error_with_its_reason(api: Api) -> None:
    project_id = make_project(api)
    response = api.client.put(
        f"/api/projects/{project_id}/files/broken.jpg", content=b"oops", headers=api.auth()
    )
    assert response.status_code == 201
    assert response.json()["items"][0]["state"] == "error"
    assert "not a readable image" in response.json()["items"][0]["error"]


@pytest.mark.parametrize(
    "path",
    ["a/%2E%2E/b.png", "a%5Cb.png", "bad%01name.png", "x" * 1021 + ".png"],
    ids=["dot-dot", "backslash", "control", "too-long"],
)
def test_bad_names_are_refused(api: Api, path: str) -> None:
    project_id = make_project(api)
    response = api.client.put(
        f"/api/projects/{project_id}/files/{path}", content=b"x", headers=api.auth()
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert not list(api.deps.blobs.list("data", upload_prefix(project_id)))


def test_types_roles_and_blob_projects_are_checked(api: Api) -> None:
    project_id = make_project(api)
    wrong = api.client.put(
        f"/api/projects/{project_id}/files/notes.txt", content=b"x", headers=api.auth()
    )
    assert wrong.status_code == 422 and "not a file type image projects take" in wrong.text
    _, token = create_user(api.deps, name="bo")
    stranger = api.client.put(
        f"/api/projects/{project_id}/files/a.png", content=b"x", headers=api.auth(token)
    )
    assert stranger.status_code == 403
    assert (
        api.client.put(f"/api/projects/{project_id}/files/a.png", content=b"x").status_code == 401
    )
    lake = make_project(
        api, name="Lake", dataset={"source": "blob", "container": "lake", "path": "x/**"}
    )
    elsewhere = api.client.put(
        f"/api/projects/{lake}/files/a.png", content=b"x", headers=api.auth()
    )
    assert elsewhere.status_code == 409 and "reads container 'lake'" in elsewhere.text
