"""Direct uploads on the embedded runtime: the API checks the role and the path, then signs a
write link for exactly one blob (its own, standing in for the SAS Blob Storage signs on Azure,
same shape); the client PUTs the bytes there and completes. Every way of using a link for
something else is refused."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

from core.domain.datasets import upload_prefix
from core.domain.projects import Role
from core.services import members, stages
from core.services.users import create_user
from tests.api.conftest import Api
from tests.api.test_ingestion_api import make_project
from tests.support.media import image_bytes


def link(api: Api, project_id: str, path: str, size: int = 100, token: str | None = None) -> dict:  # type: ignore[type-arg]
    answer = api.client.post(
        f"/api/projects/{project_id}/uploads",
        json={"path": path, "size": size},
        headers=api.auth(token),
    )
    assert answer.status_code == 201, answer.text
    found: dict = answer.json()  # type: ignore[type-arg]
    return found


def put(api: Api, url: str, data: bytes, headers: dict[str, str] | None = None) -> int:
    parts = urlsplit(url)
    target = parts.path + ("?" + parts.query if parts.query else "")
    return api.client.put(target, content=data, headers=headers or {}).status_code


def test_a_file_goes_up_on_its_link_and_is_registered_on_completion(api: Api) -> None:
    project_id = make_project(api)
    data = image_bytes("PNG", (64, 48))
    given = link(api, project_id, "trip/day 1/a.png", size=len(data))
    assert given["method"] == "PUT" and given["headers"] == {"x-ms-blob-type": "BlockBlob"}
    assert given["path"] == "trip/day 1/a.png" and given["expiresAt"]
    query = dict(parse_qsl(urlsplit(given["url"]).query))
    assert query["sp"] == "w" and query["u"] == "ann" and query["p"] == project_id
    # The link is the credential: no token goes with the bytes.
    assert put(api, given["url"], data, given["headers"]) == 201
    name = upload_prefix(project_id) + "trip/day 1/a.png"
    assert api.deps.blobs.get("data", name) == data
    done = api.client.post(
        f"/api/projects/{project_id}/uploads/complete",
        json={"path": "trip/day 1/a.png"},
        headers=api.auth(),
    )
    assert done.status_code == 200, done.text
    (item,) = done.json()["items"]
    assert (item["path"], item["state"], done.json()["bytes"]) == (
        "trip/day 1/a.png",
        "unlabeled",
        len(data),
    )
    again = api.client.post(
        f"/api/projects/{project_id}/uploads/complete",
        json={"path": "trip/day 1/a.png"},
        headers=api.auth(),
    )
    assert again.json()["items"][0]["id"] == item["id"]  # repeated: the same item


def test_a_file_completed_before_the_project_has_initialized_is_registered_once(
    api: Api,
) -> None:
    """A script creates a project and uploads at once, before the worker has run its
    initialization: the completion registers the file, and the initialization then finds the
    same item rather than a second one."""
    body = {"name": "Up", "taskType": "image_multiclass", "labelClasses": [{"name": "x"}]}
    project_id = api.client.post("/api/projects", json=body, headers=api.auth()).json()["id"]
    assert api.client.get(f"/api/projects/{project_id}", headers=api.auth()).json()["status"] == (
        "initializing"
    )
    data = image_bytes("PNG", (64, 48))
    given = link(api, project_id, "a.png", size=len(data))
    assert put(api, given["url"], data, given["headers"]) == 201
    done = api.client.post(
        f"/api/projects/{project_id}/uploads/complete", json={"path": "a.png"}, headers=api.auth()
    )
    assert [i["path"] for i in done.json()["items"]] == ["a.png"]
    while messages := api.deps.queue.receive("project-init"):
        for message in messages:
            stages.handle(api.deps, message.queue, message.body)
            api.deps.queue.complete(message)
    listed = api.client.get(f"/api/projects/{project_id}/items", headers=api.auth()).json()
    assert [i["id"] for i in listed["items"]] == [done.json()["items"][0]["id"]]
    dashboard = api.client.get(f"/api/projects/{project_id}/dashboard", headers=api.auth()).json()
    assert sum(dashboard["states"].values()) == 1


def test_links_are_refused_where_an_upload_would_be(api: Api) -> None:
    project_id = make_project(api)
    refused = {
        "a labeler": (
            {"path": "a.png", "size": 1},
            "lab",
        ),
        "a type the project does not take": ({"path": "notes.txt", "size": 1}, None),
        "a path that leaves the folder": ({"path": "../x/a.png", "size": 1}, None),
        "over the size limit": ({"path": "big.png", "size": 3 << 30}, None),
    }
    _, labeler = create_user(api.deps, name="lab")
    members.set_member(api.deps, project_id=project_id, actor="ann", user="lab", role=Role.LABELER)
    statuses = {}
    for why, (body, who) in refused.items():
        answer = api.client.post(
            f"/api/projects/{project_id}/uploads",
            json=body,
            headers=api.auth(labeler if who else None),
        )
        statuses[why] = answer.status_code
    assert statuses == {
        "a labeler": 403,
        "a type the project does not take": 422,
        "a path that leaves the folder": 422,
        "over the size limit": 422,
    }
    early = api.client.post(
        f"/api/projects/{project_id}/uploads/complete",
        json={"path": "never.png"},
        headers=api.auth(),
    )
    assert early.status_code == 409 and "has not arrived" in early.json()["detail"]


def test_a_link_writes_its_one_blob_and_nothing_else(api: Api) -> None:
    project_id = make_project(api)
    data = image_bytes("PNG", (32, 32))
    url = link(api, project_id, "a.png")["url"]
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))

    def variant(path: str = parts.path, **changes: str) -> str:
        return path + "?" + urlencode({k: v for k, v in (query | changes).items() if v})

    other_name = parts.path.replace("/a.png", "/b.png")
    attempts = {
        "another file": variant(other_name),
        "a forged signature": variant(sig="0" * 64),
        "a later expiry": variant(exp=str(int(query["exp"]) + 3600)),
        "as a read link": variant(sp=""),
        "another user": variant(u="lab"),
    }
    statuses = {why: put(api, target, data) for why, target in attempts.items()}
    assert set(statuses.values()) <= {403, 422}, statuses
    assert statuses["a forged signature"] == 403 and statuses["another file"] == 403
    assert not api.deps.blobs.exists("data", upload_prefix(project_id) + "b.png")
    # A write link reads nothing.
    assert api.client.get(url.removeprefix("http://127.0.0.1:7071")).status_code == 403
    # A read link (what exports hand out) writes nothing.
    assert put(api, variant(sp=""), data) in {403, 422}
    # Expired: refused.
    api.deps.clock.advance(16 * 60)  # type: ignore[attr-defined]
    assert put(api, url, data) == 403


def test_a_link_dies_with_its_holders_access(api: Api) -> None:
    project_id = make_project(api)
    _, other = create_user(api.deps, name="bob")
    members.set_member(api.deps, project_id=project_id, actor="ann", user="bob", role=Role.OWNER)
    url = link(api, project_id, "a.png", token=other)["url"]
    members.set_member(api.deps, project_id=project_id, actor="ann", user="bob", role=Role.LABELER)
    assert put(api, url, image_bytes("PNG", (8, 8))) == 403
    assert not api.deps.blobs.exists("data", upload_prefix(project_id) + "a.png")
