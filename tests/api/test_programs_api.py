"""The programs' way in: `/api/programs/...` is the whole API for a token sent in
`X-Loupe-Token` (what the Static Web App in front of Azure lets through to the token check,
and leaves alone, where it overwrites `Authorization`). A call there is the token's and
nothing else's: a principal header, a session cookie or an `Authorization` header is ignored."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from core.domain.principals import HEADER
from core.http.app import create_app
from core.services.users import create_user
from core.settings import Settings
from tests.api.conftest import Api
from tests.api.test_ingestion_api import make_project
from tests.support.deps import memory_deps
from tests.support.media import image_bytes


def principal(name: str) -> str:
    body = {"identityProvider": "aad", "userId": "u-" + name, "userDetails": name}
    body["userRoles"] = ["anonymous", "authenticated"]  # type: ignore[assignment]
    return base64.b64encode(json.dumps(body).encode()).decode()


@pytest.fixture
def behind() -> Iterator[tuple[TestClient, str]]:
    """The API as the Function App runs it: behind a Static Web App."""
    deps = memory_deps()
    _, token = create_user(deps, name="ann")
    app = create_app(lambda: deps, Settings(webui_dir=None, behind_static_web_app=True))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, token


def test_a_token_in_its_header_signs_in_on_the_programs_prefix(
    behind: tuple[TestClient, str],
) -> None:
    client, token = behind
    me = client.get("/api/programs/me", headers={"X-Loupe-Token": token})
    assert me.status_code == 200 and me.json()["id"] == "ann"
    # The Static Web App's principal, a cookie and its own Authorization are not the caller.
    forged = {
        "X-Loupe-Token": token,
        HEADER: principal("mallory@contoso.com"),
        "Authorization": "Bearer something-the-front-door-set",
        "Cookie": "loupe_session=whatever",
    }
    assert client.get("/api/programs/me", headers=forged).json()["id"] == "ann"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {HEADER: principal("mallory@contoso.com")},
        {"Cookie": "loupe_session=lp_x"},
        {"X-Loupe-Token": "lp_not-a-token"},
    ],
    ids=["nothing", "a principal header", "a cookie", "an unknown token"],
)
def test_nothing_but_a_valid_token_signs_in_there(
    behind: tuple[TestClient, str], headers: dict[str, str]
) -> None:
    client, _ = behind
    assert client.get("/api/programs/me", headers=headers).status_code == 401


def test_the_bearer_header_itself_is_not_read_there(behind: tuple[TestClient, str]) -> None:
    client, token = behind
    answer = client.get("/api/programs/me", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401  # on Azure it is the front door's, never the caller's


def test_every_route_is_there_with_its_path_as_sent(api: Api) -> None:
    project_id = make_project(api)
    headers = {"X-Loupe-Token": api.token}
    put = api.client.put(
        f"/api/programs/projects/{project_id}/files/trip/day%201/a.png",
        content=image_bytes("PNG", (8, 8)),
        headers=headers,
    )
    assert put.status_code == 201, put.text
    assert put.json()["items"][0]["path"] == "trip/day 1/a.png"
    listed = api.client.get("/api/programs/projects", headers=headers)
    assert [p["id"] for p in listed.json()] == [project_id]
    assert api.client.get("/api/programsx/projects", headers=headers).status_code == 404
