from __future__ import annotations

from typing import Any

import pytest

from core.services.users import create_user, revoke_tokens
from tests.api.conftest import Api

BIRDS: dict[str, Any] = {
    "name": "Birds",
    "taskType": "image_bounding_box",
    "labelClasses": [{"name": "Bird/Gull"}, {"name": "Bird/Tern"}],
    "instructions": {"markdown": "# Draw a box around every bird"},
}


def create(api: Api, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = api.client.post("/api/projects", json=body or BIRDS, headers=api.auth())
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def assert_problem(response: Any, status: int, *words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    for word in words:
        assert word in body["detail"], body["detail"]
    assert "Traceback" not in response.text
    return body


def test_create_get_list(api: Api) -> None:
    created = create(api)
    assert created["status"] == "initializing"
    assert created["labelClasses"][0] == {"name": "Bird/Gull", "key": "1"}
    got = api.client.get(f"/api/projects/{created['id']}", headers=api.auth())
    assert got.status_code == 200
    assert got.headers["etag"] == f'"{created["etag"]}"'
    listed = api.client.get("/api/projects", headers=api.auth()).json()
    assert [p["id"] for p in listed] == [created["id"]]


def test_update_needs_the_current_etag(api: Api) -> None:
    created = create(api)
    url = f"/api/projects/{created['id']}"
    blind = api.client.patch(url, json={"name": "Seabirds"}, headers=api.auth())
    assert_problem(blind, 428, "If-Match")
    first = api.client.patch(
        url, json={"name": "Seabirds"}, headers=api.auth() | {"If-Match": f'"{created["etag"]}"'}
    )
    assert first.status_code == 200 and first.json()["name"] == "Seabirds"
    stale = api.client.patch(
        url, json={"name": "Gulls"}, headers=api.auth() | {"If-Match": f'"{created["etag"]}"'}
    )
    assert_problem(stale, 412, "changed since you read it")
    assert api.client.get(url, headers=api.auth()).json()["name"] == "Seabirds"


def test_label_classes_and_instructions_endpoints(api: Api) -> None:
    created = create(api)
    url = f"/api/projects/{created['id']}"
    got = api.client.get(f"{url}/label-classes", headers=api.auth())
    classes = [*got.json(), {"name": "Bird/Skua", "key": "s"}]
    put = api.client.put(
        f"{url}/label-classes", json=classes, headers=api.auth() | {"If-Match": got.headers["etag"]}
    )
    assert put.status_code == 200, put.text
    assert [c["name"] for c in put.json()] == ["Bird/Gull", "Bird/Tern", "Bird/Skua"]
    instructions = api.client.put(
        f"{url}/instructions",
        json={"url": "https://wiki.example.org/birds"},
        headers=api.auth() | {"If-Match": put.headers["etag"]},
    )
    assert instructions.json() == {"markdown": "", "url": "https://wiki.example.org/birds"}


def test_pause_resume_delete(api: Api) -> None:
    from tests.services.test_projects import run_queue

    created = create(api)
    run_queue(api.deps)
    url = f"/api/projects/{created['id']}"
    assert api.client.post(f"{url}/pause", headers=api.auth()).json()["status"] == "paused"
    assert api.client.post(f"{url}/resume", headers=api.auth()).json()["status"] == "running"
    assert api.client.delete(url, headers=api.auth()).status_code == 204
    assert_problem(api.client.get(url, headers=api.auth()), 404, "does not exist or was deleted")


@pytest.mark.parametrize(
    ("body", "status", "field", "words"),
    [
        ({**BIRDS, "colour": "red"}, 422, "colour", "not a known field"),
        ({**BIRDS, "taskType": 7}, 422, "taskType", ""),
        ({**BIRDS, "incrementalRefresh": "often"}, 422, "incrementalRefresh", ""),
        (
            {**BIRDS, "labelClasses": [{"name": "A"}, {"name": "A/B"}]},
            422,
            "labelClasses[0].name",
            "leaves",
        ),
        (
            {**BIRDS, "labelClasses": [{"name": "a/b/c/d/e/f/g"}]},
            422,
            "labelClasses[0].name",
            "levels deep",
        ),
        ({k: v for k, v in BIRDS.items() if k != "name"}, 422, "name", "required"),
        (
            {**BIRDS, "dataset": {"source": "blob", "container": "Bad!"}},
            422,
            "dataset",
            "container name",
        ),
    ],
)
def test_bad_input_is_a_clear_422(
    api: Api, body: dict[str, Any], status: int, field: str, words: str
) -> None:
    problem = assert_problem(
        api.client.post("/api/projects", json=body, headers=api.auth()), status, words
    )
    assert field in [e["field"] for e in problem["errors"]], problem


def test_malformed_json_is_a_400(api: Api) -> None:
    response = api.client.post(
        "/api/projects",
        content=b'{"name": "x",',
        headers=api.auth() | {"Content-Type": "application/json"},
    )
    assert_problem(response, 400, "not valid JSON")


def test_a_used_name_is_a_409(api: Api) -> None:
    create(api)
    again = api.client.post("/api/projects", json={**BIRDS, "name": "BIRDS"}, headers=api.auth())
    assert_problem(again, 409, "never reused")


def test_tokens_are_required_and_revocable(api: Api) -> None:
    assert_problem(api.client.get("/api/projects"), 401, "Authorization: Bearer")
    assert_problem(
        api.client.get("/api/projects", headers=api.auth("lp_forged")), 401, "unknown or revoked"
    )
    _, token = create_user(api.deps, name="bo")
    assert api.client.get("/api/me", headers=api.auth(token)).json()["id"] == "bo"
    revoke_tokens(api.deps, name="bo")
    assert_problem(api.client.get("/api/me", headers=api.auth(token)), 401)


def test_other_users_cannot_touch_a_project(api: Api) -> None:
    created = create(api)
    _, token = create_user(api.deps, name="mallory")
    url = f"/api/projects/{created['id']}"
    assert_problem(api.client.get(url, headers=api.auth(token)), 403, "not a member")
    assert api.client.get("/api/projects", headers=api.auth(token)).json() == []


def test_unknown_routes_and_methods_are_problems(api: Api) -> None:
    assert_problem(api.client.get("/api/nothing", headers=api.auth()), 404, "/api/openapi.json")
    assert_problem(api.client.put("/api/projects", headers=api.auth()), 405)


def test_openapi_and_health_are_public(api: Api) -> None:
    spec = api.client.get("/api/openapi.json").json()
    assert "/api/projects/{project_id}" in spec["paths"]
    assert "bearerToken" in spec["components"]["securitySchemes"]
    assert api.client.get("/api/health").json()["status"] == "ok"
