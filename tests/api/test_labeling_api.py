"""The labeling workflow and Static Web Apps sign-in over HTTP."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from core.domain.projects import Role
from core.http.app import create_app
from core.ports import Deps
from core.settings import Settings
from tests.support.deps import memory_deps
from tests.support.labeling import add_items, running_project, users


def principal(name: str, *roles: str) -> str:
    data = {"identityProvider": "aad", "userId": "u1", "userDetails": name, "userRoles": roles}
    return base64.b64encode(json.dumps(data).encode()).decode()


def client_for(deps: Deps, *, behind_swa: bool) -> TestClient:
    settings = Settings(webui_dir=None, behind_static_web_app=behind_swa)
    return TestClient(create_app(lambda: deps, settings), raise_server_exceptions=False)


def test_client_principal_is_refused_unless_behind_a_static_web_app() -> None:
    deps = memory_deps()
    header = {"x-ms-client-principal": principal("ann@contoso.com", "authenticated")}
    with client_for(deps, behind_swa=False) as client:
        refused = client.get("/api/me", headers=header)
        assert (
            refused.status_code == 401 and "LOUPE_BEHIND_STATIC_WEB_APP" in refused.json()["detail"]
        )
    with client_for(deps, behind_swa=True) as client:
        assert client.get("/api/me", headers=header).json()["id"] == "ann@contoso.com"
        anonymous = {"x-ms-client-principal": principal("ann@contoso.com", "anonymous")}
        assert client.get("/api/me", headers=anonymous).status_code == 401
        garbage = client.get("/api/me", headers={"x-ms-client-principal": "%%%"})
        assert garbage.status_code == 401 and "base64" in garbage.json()["detail"]
        assert client.get("/api/projects", headers=header).json() == []


def test_settings_read_the_static_web_app_flag() -> None:
    assert Settings.from_env({"LOUPE_BEHIND_STATIC_WEB_APP": "true"}).behind_static_web_app
    assert not Settings.from_env({}).behind_static_web_app
    with pytest.raises(ValueError, match="true or false"):
        Settings.from_env({"LOUPE_BEHIND_STATIC_WEB_APP": "maybe"})


@pytest.fixture
def labeled() -> Iterator[tuple[TestClient, dict[str, dict[str, str]], str, list[str]]]:
    deps = memory_deps()
    tokens = users(deps, "olive", "lee", "lou")
    project = running_project(
        deps, owner="olive", members={"lee": Role.LABELER, "lou": Role.LABELER}
    )
    ids = add_items(deps, project, 3)
    auth = {name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()}
    with client_for(deps, behind_swa=False) as client:
        yield client, auth, f"/api/projects/{project.id}", ids


def test_label_skip_review_and_dashboard_over_http(
    labeled: tuple[TestClient, dict[str, dict[str, str]], str, list[str]],
) -> None:
    client, auth, base, ids = labeled
    task = client.post(f"{base}/tasks/next", json={}, headers=auth["lee"]).json()
    (item,) = task["items"]
    assert item["id"] == ids[0] and task["leaseUntil"]
    assert item["url"] == f"{base}/items/{ids[0]}/media/display"  # served to members only
    bad = client.post(
        f"{base}/items/{item['id']}/annotation",
        json={"value": {"label": "cow"}},
        headers=auth["lee"],
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "value.label"
    done = client.post(
        f"{base}/items/{item['id']}/annotation",
        json={"value": {"label": "cat"}},
        headers=auth["lee"],
    )
    assert done.status_code == 200 and done.json()["mine"] == {"label": "cat"}
    assert client.get(f"{base}/tasks/last", headers=auth["lee"]).json() == {"itemId": ids[0]}
    # A labeler reads nothing beyond labeling: no lists, no other answers.
    assert client.get(f"{base}/items", headers=auth["lee"]).status_code == 403
    listed = client.get(f"{base}/items?state=labeled", headers=auth["olive"]).json()
    assert [i["id"] for i in listed["items"]] == [ids[0]]
    board = client.get(f"{base}/dashboard", headers=auth["olive"]).json()
    assert board["states"]["labeled"] == 1 and board["labels"] == {"cat": 1}
    client.post(f"{base}/pause", headers=auth["olive"])
    paused = client.post(f"{base}/tasks/next", json={}, headers=auth["lou"])
    assert paused.status_code == 409 and "paused" in paused.json()["detail"]
    assert paused.headers["content-type"] == "application/problem+json"
