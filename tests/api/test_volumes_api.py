"""Volumes over HTTP: DICOM slices uploaded one by one into a project that groups series become
one item served as frames; a box names the slice it is on, and a slice the item lacks is a 422
that says how many it has."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.http.app import create_app
from core.settings import Settings
from tests.api.test_serving import World
from tests.support.assist import drain
from tests.support.deps import local_deps
from tests.support.labeling import creator
from tests.support.labeling import users as make_users
from tests.support.media import series_slice

SERIES = "1.2.826.0.1.3680043.2.1125.99.1"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    deps = local_deps(tmp_path)
    tokens = make_users(deps, "olive")
    creator(deps, "olive")
    app = create_app(lambda: deps, Settings(webui_dir=None))
    with TestClient(app, raise_server_exceptions=False) as client:
        made = client.post(
            "/api/projects",
            json={
                "name": "Scans",
                "taskType": "image_bounding_box",
                "labelClasses": [{"name": "lesion"}],
                "ingest": {"dicomSeries": True},
            },
            headers={"Authorization": f"Bearer {tokens['olive']}"},
        )
        assert made.status_code == 201, made.text
        assert made.json()["ingest"]["dicomSeries"] is True
        world = World(deps, client, tokens, made.json()["id"])
        drain(deps)
        yield world
    deps.close()


def test_uploaded_slices_are_one_item_and_a_shape_names_its_slice(world: World) -> None:
    base = f"/api/projects/{world.project}"
    ids = set()
    for n in (2, 0, 1):  # one request per file, out of order
        sent = world.client.put(
            f"{base}/files/ct/{n}.dcm",
            content=series_slice(SERIES, z=5.0 * n, value=100 * n),
            headers=world.auth("olive") | {"Content-Type": "application/dicom"},
        )
        assert sent.status_code == 201, sent.text
        ids.update(item["id"] for item in sent.json()["items"])
    drain(world.deps)
    assert len(ids) == 1
    task = world.client.post(f"{base}/tasks/next", json={}, headers=world.auth("olive")).json()
    (item,) = task["items"]
    assert item["frames"] == 3 and item["framesUrl"] == f"{base}/items/{item['id']}/media/frames"
    frame = world.client.get(f"{item['framesUrl']}/2/display", headers=world.auth("olive"))
    assert frame.status_code == 200 and frame.headers["content-type"].startswith("image/")

    box = {"label": "lesion", "x": 0.1, "y": 0.1, "w": 0.5, "h": 0.5}
    url = f"{base}/items/{item['id']}/annotation"
    bad = world.client.post(
        url, json={"value": {"boxes": [box | {"slice": 3}]}}, headers=world.auth("olive")
    )
    assert bad.status_code == 422
    [error] = bad.json()["errors"]
    assert error["field"] == "value.boxes[0].slice"
    assert "the item has 3 slices, numbered 0 to 2" in error["rule"]
    done = world.client.post(
        url, json={"value": {"boxes": [box | {"slice": 2}]}}, headers=world.auth("olive")
    )
    assert done.status_code == 200, done.text
    assert done.json()["mine"] == {"boxes": [box | {"slice": 2}]}


def test_dicom_series_is_a_true_or_false_setting(world: World) -> None:
    refused = world.client.post(
        "/api/projects",
        json={
            "name": "Bad",
            "taskType": "image_bounding_box",
            "labelClasses": [{"name": "a"}],
            "ingest": {"dicomSeries": "yes"},
        },
        headers=world.auth("olive"),
    )
    assert refused.status_code == 422
    assert "dicomSeries" in refused.text
