"""Attributes over HTTP: declared with the classes (a broken declaration is one 422 naming each
rule), set on shapes when labeling (a wrong value is a 422 naming the attribute), kept in the
stored answer, found again by the review filter; labelers split on an attribute send the item
to review."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.domain.items import Item, ItemState
from core.domain.projects import Role
from core.http.app import create_app
from core.services import labeling, tasks
from core.settings import Settings
from core.store.collections import ITEMS, load
from tests.support.deps import memory_deps
from tests.support.labeling import add_items, running_project, users

CLASSES = [
    {
        "name": "car",
        "attributes": [
            {"name": "occluded", "type": "boolean"},
            {"name": "color", "type": "one_of", "options": ["red", "blue"]},
        ],
    },
    {"name": "tree"},
]


@dataclass
class World:
    http: TestClient
    tokens: dict[str, str]
    base: str

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def box(self, item_id: str, **attributes: Any) -> Any:
        car = {"label": "car", "x": 0.1, "y": 0.1, "w": 0.5, "h": 0.5, "attributes": attributes}
        return self.http.post(
            f"{self.base}/items/{item_id}/annotation",
            json={"value": {"boxes": [car]}},
            headers=self.auth("lee"),
        )


@pytest.fixture
def world() -> Iterator[World]:
    deps = memory_deps()
    tokens = users(deps, "olive", "lee", "rita")
    project = running_project(
        deps,
        task_type="image_bounding_box",
        members={"lee": Role.LABELER, "rita": Role.REVIEWER},
        labelClasses=CLASSES,
    )
    add_items(deps, project, 3)
    app = create_app(lambda: deps, Settings(webui_dir=None))
    with TestClient(app, raise_server_exceptions=False) as http:
        yield World(http, tokens, f"/api/projects/{project.id}")


def test_a_broken_declaration_is_one_422_naming_each_rule(world: World) -> None:
    classes = [
        {
            "name": "car",
            "attributes": [
                {"name": "size", "type": "number", "min": 3, "max": 1},
                {"name": "kind", "type": "one_of", "options": []},
            ],
        }
    ]
    made = world.http.post(
        "/api/projects",
        json={"name": "Cars", "taskType": "image_bounding_box", "labelClasses": classes},
        headers=world.auth("olive"),
    )
    assert made.status_code == 422
    text = made.text
    assert "labelClasses[0].attributes[0].min" in text and "greater than max" in text
    assert "labelClasses[0].attributes[1].options" in text and "needs its options" in text


def test_attributes_are_checked_kept_and_filtered_on(world: World) -> None:
    ids = []
    for _ in range(3):
        task = world.http.post(
            f"{world.base}/tasks/next", json={"size": 1, "holding": ids}, headers=world.auth("lee")
        ).json()
        ids.append(task["items"][0]["id"])
    wrong = world.box(ids[0], occluded="yes", color="green", wheels=4)
    assert wrong.status_code == 422
    fields = {v["field"]: v["rule"] for v in wrong.json()["errors"]}
    assert fields == {
        "value.boxes[0].attributes.occluded": "must be true or false",
        "value.boxes[0].attributes.color": "must be one of 'red', 'blue'",
        "value.boxes[0].attributes.wheels": (
            "is not an attribute of this class (its attributes: color, occluded)"
        ),
    }
    assert world.box(ids[0], occluded=True, color="red").status_code == 200
    assert world.box(ids[1], occluded=False).status_code == 200
    assert world.box(ids[2]).status_code == 200
    item = world.http.get(f"{world.base}/items/{ids[0]}", headers=world.auth("rita")).json()
    assert item["final"]["boxes"][0]["attributes"] == {"color": "red", "occluded": True}

    def found(attribute: str) -> set[str]:
        listed = world.http.get(
            f"{world.base}/items", params={"attribute": attribute}, headers=world.auth("rita")
        )
        assert listed.status_code == 200, listed.text
        return {i["id"] for i in listed.json()["items"]}

    assert found("occluded=true") == {ids[0]}
    assert found("occluded") == {ids[0], ids[1]}
    assert found("color=blue") == set()
    counted = world.http.post(
        f"{world.base}/reviews",
        json={"decision": "approve", "filter": {"attribute": "occluded=false"}},
        headers=world.auth("rita"),
    )
    assert counted.status_code == 200, counted.text
    assert found("occluded=false") == {ids[1]}


def test_two_labelers_split_on_an_attribute_send_the_item_to_review() -> None:
    deps = memory_deps()
    users(deps, "olive", "lee", "lou")
    project = running_project(
        deps,
        task_type="image_bounding_box",
        members={"lee": Role.LABELER, "lou": Role.LABELER},
        labelClasses=CLASSES,
        consensus={"minLabelers": 2, "maxLabelers": 2},
    )
    (item_id,) = add_items(deps, project, 1)
    car = {"label": "car", "x": 0.1, "y": 0.1, "w": 0.5, "h": 0.5}
    for who, occluded in (("lee", True), ("lou", False)):
        task = tasks.next_task(deps, project_id=project.id, actor=who)
        assert [i.id for i in task.items] == [item_id]
        value = {"boxes": [car | {"attributes": {"occluded": occluded, "color": "red"}}]}
        labeling.submit_annotation(
            deps, project_id=project.id, actor=who, item_id=item_id, value=value
        )
    item = load(Item, deps.documents.container(ITEMS).read(project.id, item_id))
    assert item.state is ItemState.NEEDS_REVIEW and item.final is None
    assert [a.agreed for a in item.annotations] == [False, False]
