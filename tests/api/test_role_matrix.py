"""Every endpoint × every kind of caller: anonymous, labeler, reviewer, owner, and the owner of
another project. Endpoints are discovered from the app's routes, so a new one fails this test
until its access rule is written down here."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from core.adapters.local.blobs import FolderBlobStore
from core.domain.datasets import upload_prefix
from core.domain.links import Grant
from core.domain.projects import Role
from core.http.app import create_app
from core.ports import Deps
from core.settings import Settings
from tests.support.deps import memory_deps
from tests.support.labeling import add_items, running_project, users
from tests.support.media import image_bytes

PUBLIC, SIGNED_IN, MEMBER, REVIEWER, OWNER = "public", "signed-in", "member", "reviewer", "owner"
CREATOR, ADMIN = "creator", "admin"
PERSONAS = ("anonymous", "labeler", "reviewer", "owner", "stranger", "admin")
ALLOWED = {
    PUBLIC: set(PERSONAS),
    SIGNED_IN: {"labeler", "reviewer", "owner", "stranger", "admin"},
    CREATOR: {"owner", "stranger", "admin"},  # olive and sam hold the creator role
    ADMIN: {"admin"},
    MEMBER: {"labeler", "reviewer", "owner"},
    REVIEWER: {"reviewer", "owner"},
    OWNER: {"owner"},
}
BOX = {"label": "cat"}
SHA = "ab" * 32

# (method, path) → (who may call it, a valid request body)
RULES: dict[tuple[str, str], tuple[str, Any]] = {
    ("GET", "/api/health"): (PUBLIC, None),
    ("GET", "/api/me"): (SIGNED_IN, None),
    ("POST", "/api/session"): (SIGNED_IN, None),
    ("DELETE", "/api/session"): (PUBLIC, None),
    ("GET", "/api/users"): (ADMIN, None),
    ("PUT", "/api/users/{name}/roles/{role}"): (ADMIN, None),
    ("DELETE", "/api/users/{name}/roles/{role}"): (ADMIN, None),
    # A signed link: the signature names who may use it (tests/api/test_serving.py).
    ("GET", "/api/blobs/{container}/{name:path}"): (PUBLIC, None),
    # A write link (POST .../uploads made it for the owner): the link is the credential.
    ("PUT", "/api/blobs/{container}/{name:path}"): (PUBLIC, b"x"),
    ("GET", "/api/projects/{project_id}/items/{item_id}/media/{rendition}"): (MEMBER, None),
    ("GET", "/api/projects/{project_id}/items/{item_id}/media/frames/{frame}/{rendition}"): (
        MEMBER,
        None,
    ),
    ("POST", "/api/projects"): (
        CREATOR,
        {"name": "New", "taskType": "text_ner", "labelClasses": [{"name": "PER"}]},
    ),
    ("GET", "/api/projects"): (SIGNED_IN, None),
    ("GET", "/api/project-names/{name}"): (CREATOR, None),
    ("GET", "/api/projects/{project_id}"): (MEMBER, None),
    ("PATCH", "/api/projects/{project_id}"): (OWNER, {"incrementalRefresh": False}),
    ("DELETE", "/api/projects/{project_id}"): (OWNER, None),
    ("POST", "/api/projects/{project_id}/pause"): (OWNER, None),
    ("POST", "/api/projects/{project_id}/resume"): (OWNER, None),
    ("GET", "/api/projects/{project_id}/label-classes"): (MEMBER, None),
    ("PUT", "/api/projects/{project_id}/label-classes"): (
        OWNER,
        [{"name": "cat"}, {"name": "dog"}, {"name": "bird"}, {"name": "fox"}],
    ),
    ("GET", "/api/projects/{project_id}/instructions"): (MEMBER, None),
    ("PUT", "/api/projects/{project_id}/instructions"): (OWNER, {"markdown": "Look closely"}),
    ("GET", "/api/projects/{project_id}/ingestion"): (REVIEWER, None),
    ("PUT", "/api/projects/{project_id}/files/{path:path}"): (OWNER, b"text"),
    ("POST", "/api/projects/{project_id}/uploads"): (OWNER, {"path": "img/new.jpg", "size": 10}),
    ("POST", "/api/projects/{project_id}/uploads/complete"): (
        OWNER,
        {"path": "img/000000.jpg"},
    ),
    # labeling
    ("POST", "/api/projects/{project_id}/tasks/next"): (MEMBER, {"size": 1}),
    ("POST", "/api/projects/{project_id}/tasks/renew"): (MEMBER, {"itemIds": ["{item_id}"]}),
    ("POST", "/api/projects/{project_id}/tasks/release"): (MEMBER, {"itemIds": ["{item_id}"]}),
    ("GET", "/api/projects/{project_id}/tasks/last"): (MEMBER, None),
    ("POST", "/api/projects/{project_id}/items/{item_id}/annotation"): (MEMBER, {"value": BOX}),
    ("PUT", "/api/projects/{project_id}/items/{item_id}/annotation"): (MEMBER, {"value": BOX}),
    ("POST", "/api/projects/{project_id}/annotations"): (
        MEMBER,
        {"answers": [{"itemId": "{item_id}", "value": BOX}]},
    ),
    ("POST", "/api/projects/{project_id}/items/{item_id}/skip"): (MEMBER, {"reason": "blurry"}),
    # review
    ("GET", "/api/projects/{project_id}/items"): (REVIEWER, None),
    ("GET", "/api/projects/{project_id}/items/{item_id}"): (REVIEWER, None),
    ("POST", "/api/projects/{project_id}/items/{item_id}/review"): (
        REVIEWER,
        {"decision": "reject"},
    ),
    ("POST", "/api/projects/{project_id}/reviews"): (
        REVIEWER,
        {"decision": "approve", "items": [{"itemId": "{item_id}"}]},
    ),
    ("POST", "/api/projects/{project_id}/items/{item_id}/comments"): (REVIEWER, {"text": "why?"}),
    ("GET", "/api/projects/{project_id}/items/{item_id}/history"): (REVIEWER, None),
    ("GET", "/api/projects/{project_id}/feedback"): (MEMBER, None),
    ("GET", "/api/projects/{project_id}/dashboard"): (REVIEWER, None),
    # management
    ("GET", "/api/projects/{project_id}/members"): (OWNER, None),
    ("PUT", "/api/projects/{project_id}/members/{member}"): (OWNER, {"role": "reviewer"}),
    ("DELETE", "/api/projects/{project_id}/members/{member}"): (OWNER, None),
    ("POST", "/api/projects/{project_id}/assignments"): (
        OWNER,
        {"labeler": "lee", "pathPrefix": "img/"},
    ),
    ("POST", "/api/projects/{project_id}/assignments/release"): (OWNER, {"labeler": "lee"}),
    ("POST", "/api/projects/{project_id}/label-classes/add"): (
        OWNER,
        {"classes": [{"name": "fox"}], "existingLabels": "keep"},
    ),
    ("POST", "/api/projects/{project_id}/label-classes/rename"): (
        OWNER,
        {"from": "cat", "to": "kitten"},
    ),
    # export and import
    ("GET", "/api/projects/{project_id}/export"): (REVIEWER, None),
    ("POST", "/api/projects/{project_id}/exports"): (REVIEWER, {"format": "coco"}),
    ("GET", "/api/projects/{project_id}/exports"): (REVIEWER, None),
    ("GET", "/api/projects/{project_id}/exports/{export_id}"): (REVIEWER, None),
    ("POST", "/api/projects/{project_id}/imports"): (
        OWNER,
        b'{"path": "img/000000.jpg", "final": {"label": "cat"}}\n',
    ),
    # direct imports: a link to put the file, then the import stage (no file has arrived
    # here, so an owner's start is a 422; the job is not found: 404)
    ("POST", "/api/projects/{project_id}/imports/files"): (OWNER, {"sha256": SHA, "size": 10}),
    ("POST", "/api/projects/{project_id}/imports/jobs"): (OWNER, {"sha256": SHA}),
    ("GET", "/api/projects/{project_id}/imports/jobs/{job_id}"): (OWNER, None),
    # migration from Azure ML (its query names the project: see MIGRATION)
    ("POST", "/api/migrations/azureml"): (CREATOR, b'{"text": "a row", "label": "x"}\n'),
    ("POST", "/api/migrations/azureml/files"): (CREATOR, {"sha256": SHA, "size": 10}),
    ("POST", "/api/migrations/azureml/jobs"): (CREATOR, {"sha256": SHA, "name": "M"}),
    # one's own migrations only: another's job id is not found
    ("GET", "/api/migrations/azureml/jobs/{job_id}"): (SIGNED_IN, None),
    # ML assist
    ("GET", "/api/projects/{project_id}/assist"): (REVIEWER, None),
    ("POST", "/api/projects/{project_id}/assist/train"): (OWNER, None),
    ("GET", "/api/models"): (SIGNED_IN, None),
    # dead letters
    ("GET", "/api/projects/{project_id}/dead-letters"): (OWNER, None),
    ("POST", "/api/projects/{project_id}/dead-letters/{queue}/{message_id}/redrive"): (
        OWNER,
        None,
    ),
}


def endpoints() -> list[tuple[str, str]]:
    """(method, path) of every API route, included routers walked into (FastAPI may wrap them;
    the docs routes, which have no dependencies, are Starlette's and public)."""
    app = create_app(memory_deps, Settings(webui_dir=None))
    found: set[tuple[str, str]] = set()

    def walk(routes: list[Any]) -> None:
        for route in routes:
            if hasattr(route, "effective_candidates"):
                walk(route.effective_candidates())
            elif isinstance(route, APIRoute) or hasattr(route, "dependant"):
                found.update((method, route.path) for method in route.methods)

    walk(app.routes)
    return sorted(found)


def test_every_endpoint_has_an_access_rule() -> None:
    found = set(endpoints())
    missing = found - set(RULES)
    assert not missing, f"write the access rule of these endpoints into RULES: {sorted(missing)}"
    assert not set(RULES) - found, "RULES names endpoints that no longer exist"


@dataclass
class World:
    client: TestClient
    deps: Deps
    tokens: dict[str, str]
    values: dict[str, str]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    deps = memory_deps()
    # A folder blob store, so signed blob URLs are served by the app itself.
    deps.blobs = FolderBlobStore(tmp_path)
    tokens = users(deps, "ada", "lee", "rita", "olive", "sam")  # the first user is the admin
    project = running_project(
        deps, owner="olive", members={"lee": Role.LABELER, "rita": Role.REVIEWER}
    )
    running_project(deps, name="Elsewhere", owner="sam")
    (item,) = add_items(deps, project, 1)
    deps.blobs.put("data", "x.txt", b"x")
    deps.blobs.put("data", upload_prefix(project.id) + "img/000000.jpg", image_bytes("JPEG"))
    values = {"project_id": project.id, "item_id": item, "member": "lee", "container": "data"}
    values |= {"name:path": "x.txt", "path:path": "x/a.txt", "export_id": "none"}
    values |= {"rendition": "display", "frame": "0", "name": "sam", "role": "creator"}
    values |= {"queue": "export-run", "message_id": "none", "job_id": "none"}
    app = create_app(lambda: deps, Settings(webui_dir=None, secret="s"))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield World(client, deps, tokens, values)


CALLER = {"labeler": "lee", "reviewer": "rita", "owner": "olive", "stranger": "sam", "admin": "ada"}


def fill(template: Any, values: dict[str, str]) -> Any:
    if isinstance(template, str):
        for key, value in values.items():
            template = template.replace("{" + key + "}", value)
        return template
    if isinstance(template, list):
        return [fill(t, values) for t in template]
    if isinstance(template, dict):
        return {k: fill(v, values) for k, v in template.items()}
    return template


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(("method", "path"), endpoints())
def test_role_matrix(world: World, method: str, path: str, persona: str) -> None:
    rule, body = RULES[(method, path)]
    url = fill(path, world.values)
    if path == "/api/migrations/azureml":
        url += f"?name=Migrated+by+{persona}"
    headers = {}
    if persona != "anonymous":
        headers["Authorization"] = f"Bearer {world.tokens[CALLER[persona]]}"
    if method == "PATCH" or path.endswith(("/label-classes", "/instructions")):
        headers["If-Match"] = world.client.get(
            fill("/api/projects/{project_id}", world.values),
            headers={"Authorization": f"Bearer {world.tokens['olive']}"},
        ).headers["ETag"]
    if path.startswith("/api/blobs"):
        expires = int(world.deps.clock.now().timestamp()) + 60
        write = method == "PUT"
        name = upload_prefix(world.values["project_id"]) + "img/new.jpg" if write else "x.txt"
        url = world.deps.links.url(
            "data",
            name,
            Grant(world.values["project_id"], "olive"),
            expires_at=expires,
            write=write,
        )
    kwargs: dict[str, Any] = {"headers": headers}
    if isinstance(body, bytes):
        kwargs["content"] = body
    elif body is not None:
        kwargs["json"] = fill(body, world.values)
    response = world.client.request(method, url, **kwargs)
    assert response.status_code < 500, response.text
    if persona in ALLOWED[rule]:
        assert response.status_code not in (401, 403), (rule, response.text)
    elif persona == "anonymous":
        assert response.status_code == 401, response.text
    else:
        assert response.status_code == 403, response.text
