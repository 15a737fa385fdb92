"""Next task and submit on the embedded store run on the event loop while the store is free,
and wait for another writer in the thread pool, where the event loop keeps serving others."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from core.domain.items import ItemState
from core.domain.projects import Role
from core.http.app import create_app
from core.ports import Deps
from core.services.worklog import read_item
from core.settings import Settings
from tests.support.deps import local_deps
from tests.support.labeling import add_items, running_project, users


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[tuple[TestClient, Deps, str, dict[str, str]]]:
    deps = local_deps(tmp_path)
    token = users(deps, "olive", "lee")["lee"]
    project = running_project(deps, members={"lee": Role.LABELER})
    add_items(deps, project, 3)
    app = create_app(lambda: deps, Settings(webui_dir=None, data_dir=tmp_path))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, deps, f"/api/projects/{project.id}", {"Authorization": f"Bearer {token}"}
    deps.close()


def test_labeling_on_a_free_store(embedded: tuple[TestClient, Deps, str, dict[str, str]]) -> None:
    client, deps, base, auth = embedded
    task = client.post(f"{base}/tasks/next", json={"size": 1}, headers=auth)
    assert task.status_code == 200, task.text
    item_id = task.json()["items"][0]["id"]
    saved = client.post(
        f"{base}/items/{item_id}/annotation", json={"value": {"label": "cat"}}, headers=auth
    )
    assert saved.status_code == 200, saved.text
    assert read_item(deps, base.rsplit("/", 1)[1], item_id).value.state is ItemState.LABELED


def test_a_held_store_holds_up_the_request_not_the_server(
    embedded: tuple[TestClient, Deps, str, dict[str, str]], tmp_path: Path
) -> None:
    client, deps, base, auth = embedded
    item_id = client.post(f"{base}/tasks/next", json={"size": 1}, headers=auth).json()["items"][0][
        "id"
    ]
    other = sqlite3.connect(
        tmp_path / "documents.sqlite", isolation_level=None, check_same_thread=False
    )
    other.execute("BEGIN IMMEDIATE")  # another process's long write, say
    answered: list[httpx.Response] = []

    def submit() -> None:
        url = f"{base}/items/{item_id}/annotation"
        answered.append(client.post(url, json={"value": {"label": "cat"}}, headers=auth))

    waiting = threading.Thread(target=submit)
    waiting.start()
    time.sleep(0.3)
    started = time.monotonic()
    assert client.get("/api/health").status_code == 200  # the event loop is free
    assert time.monotonic() - started < 0.5
    assert not answered  # the submit waits for the lock
    other.execute("COMMIT")
    waiting.join(10)
    assert answered and answered[0].status_code == 200, answered
    assert read_item(deps, base.rsplit("/", 1)[1], item_id).value.state is ItemState.LABELED
    other.close()
