"""The review workspace and the labeling screen over HTTP: a name checked before a project is
made, the match count and display link of the item list, bulk review with the versions seen,
and tasks kept in hand with the labeler's progress."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from core.domain.projects import Role
from core.http.app import create_app
from core.settings import Settings
from tests.support.deps import memory_deps
from tests.support.labeling import add_items, running_project, users


@dataclass
class World:
    http: TestClient
    tokens: dict[str, str]
    base: str

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
def world() -> Iterator[World]:
    deps = memory_deps()
    tokens = users(deps, "olive", "lee", "rita")
    project = running_project(
        deps, name="Pets", owner="olive", members={"lee": Role.LABELER, "rita": Role.REVIEWER}
    )
    add_items(deps, project, 4)
    app = create_app(lambda: deps, Settings(webui_dir=None))
    with TestClient(app, raise_server_exceptions=False) as http:
        yield World(http, tokens, f"/api/projects/{project.id}")


def test_a_name_is_checked_as_creation_would(world: World) -> None:
    ask = lambda name, who="olive": world.http.get(  # noqa: E731
        f"/api/project-names/{name}", headers=world.auth(who)
    )
    assert ask("Birds").json() == {"name": "Birds", "available": True}
    assert ask("  pETS").status_code == 422  # not a name creation takes
    assert ask("pETS").json()["available"] is False  # case and spacing are ignored
    assert ask("Pets", "lee").status_code == 403  # only creators make projects


def test_tasks_in_hand_progress_and_bulk_review_with_versions(world: World) -> None:
    hand: list[str] = []
    for _ in range(2):
        task = world.http.post(
            f"{world.base}/tasks/next", json={"size": 1, "holding": hand}, headers=world.auth("lee")
        ).json()
        hand.append(task["items"][0]["id"])
    assert len(set(hand)) == 2 and task["progress"] == {"today": 0, "left": 4}
    for item_id in hand:
        saved = world.http.post(
            f"{world.base}/items/{item_id}/annotation",
            json={"value": {"label": "cat"}},
            headers=world.auth("lee"),
        )
        assert saved.status_code == 200, saved.text
    listed = world.http.get(
        f"{world.base}/items?state=labeled&total=true&pageSize=1", headers=world.auth("rita")
    ).json()
    assert listed["total"] == 2 and len(listed["items"]) == 1
    seen = {
        i["id"]: i["etag"]
        for i in world.http.get(
            f"{world.base}/items?state=labeled", headers=world.auth("rita")
        ).json()["items"]
    }
    assert all(i.get("displayUrl", "").endswith("/media/display") for i in listed["items"])
    corrected = world.http.put(  # lee corrects the second after rita looked
        f"{world.base}/items/{hand[1]}/annotation",
        json={"value": {"label": "dog"}},
        headers=world.auth("lee"),
    )
    assert corrected.status_code == 200, corrected.text
    report = world.http.post(
        f"{world.base}/reviews",
        json={"decision": "approve", "items": [{"itemId": i, "etag": e} for i, e in seen.items()]},
        headers=world.auth("rita"),
    ).json()
    assert report["reviewed"] == [hand[0]] and report["more"] is False
    assert [s["itemId"] for s in report["skipped"]] == [hand[1]]
    after = world.http.post(
        f"{world.base}/tasks/next", json={"size": 1}, headers=world.auth("lee")
    ).json()
    assert after["progress"]["today"] == 2 and after["progress"]["left"] == 2
