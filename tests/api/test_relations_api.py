"""Relation classes over HTTP: declared when a text_ner project is created or patched (with
its etag, as label classes are), refused with a 422 that names the field otherwise."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api
from tests.api.test_projects_api import assert_problem, create

PEOPLE: dict[str, Any] = {
    "name": "People",
    "taskType": "text_ner",
    "labelClasses": [{"name": "PER"}, {"name": "LOC"}],
    "relationClasses": [{"name": "born_in", "heads": ["PER"], "tails": ["LOC"]}],
}


def test_relation_classes_are_created_shown_and_patched_with_the_etag(api: Api) -> None:
    created = create(api, PEOPLE)
    assert created["relationClasses"] == [
        {"name": "born_in", "directed": True, "heads": ["PER"], "tails": ["LOC"]}
    ]
    url = f"/api/projects/{created['id']}"
    more = [*created["relationClasses"], {"name": "met", "directed": False}]
    blind = api.client.patch(url, json={"relationClasses": more}, headers=api.auth())
    assert_problem(blind, 428, "If-Match")
    tagged = api.auth() | {"If-Match": f'"{created["etag"]}"'}
    patched = api.client.patch(url, json={"relationClasses": more}, headers=tagged)
    assert patched.status_code == 200, patched.text
    assert [r["name"] for r in patched.json()["relationClasses"]] == ["born_in", "met"]
    stale = api.client.patch(url, json={"relationClasses": []}, headers=tagged)
    assert_problem(stale, 412, "changed since you read it")


def test_a_project_without_relation_classes_shows_none(api: Api) -> None:
    created = create(api, {k: v for k, v in PEOPLE.items() if k != "relationClasses"})
    assert "relationClasses" not in created


def test_broken_relation_classes_are_a_422_naming_the_field(api: Api) -> None:
    cases = [
        ({"taskType": "text_multiclass"}, "only text_ner projects have relations"),
        ({"relationClasses": [{"name": "born_in", "heads": ["ORG"]}]}, "heads[0]"),
        ({"relationClasses": [{"name": "x"}, {"name": "X"}]}, "names are unique"),
        ({"relationClasses": [{"name": " x"}]}, "spaces"),
        ({"relationClasses": [{"name": "x", "directed": "yes"}]}, "directed"),
    ]
    for change, words in cases:
        response = api.client.post("/api/projects", json=PEOPLE | change, headers=api.auth())
        assert_problem(response, 422, words)
