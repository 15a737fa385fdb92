"""The OpenAPI document declares what each route can answer: no route slips through without its
422, 401 and 429, every error is the problem+json the API emits, and the routes that need no
sign-in are exactly the public ones of the role matrix."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from core.domain.errors import PreconditionFailed
from core.http import problems
from core.http.app import create_app
from core.http.context import SIGN_IN, SIGNED_LINK, already_signed_in, current_user
from core.http.openapi import TITLES
from core.http.problems import PROBLEM_JSON, InvalidProblem, Problem
from core.http.routing import api_routes
from core.settings import Settings
from tests.api.conftest import Api
from tests.api.test_role_matrix import PUBLIC, RULES
from tests.support.deps import memory_deps

Operation = tuple[str, str, dict[str, Any]]


def operations() -> list[Operation]:
    document = create_app(memory_deps, Settings(webui_dir=None)).openapi()
    return [
        (method.upper(), path, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


def signs_in(operation: dict[str, Any]) -> bool:
    return any(SIGN_IN & set(requirement) for requirement in operation.get("security", ()))


@pytest.mark.parametrize(("method", "path", "operation"), operations())
def test_every_route_declares_its_refusals(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    answers = operation["responses"]
    assert "429" in answers, "every /api call is rate limited"
    assert "Retry-After" in answers["429"]["headers"]
    if operation.get("parameters") or "requestBody" in operation:
        assert "422" in answers, "a route with inputs can refuse them"
    if signs_in(operation):
        assert "401" in answers
        assert "WWW-Authenticate" in answers["401"]["headers"]
    if "{project_id}" in path and signs_in(operation):
        assert "403" in answers and "404" in answers  # membership, and the lookup
    for status, answer in answers.items():
        if status.startswith("4"):
            schema = "InvalidProblem" if status == "422" else "Problem"
            assert answer["content"] == {
                PROBLEM_JSON: {"schema": {"$ref": f"#/components/schemas/{schema}"}}
            }, f"{status} is problem+json"
            assert answer["description"].split(":")[0] in TITLES.values()


def test_routes_open_without_sign_in_are_the_public_ones() -> None:
    open_routes = {
        (method, path)
        for method, path, operation in operations()
        if not signs_in(operation) and SIGNED_LINK not in _schemes(operation)
    }
    public = {
        (method, path.replace(":path}", "}"))
        for (method, path), (rule, _) in RULES.items()
        if rule == PUBLIC and not path.startswith("/api/blobs/")
    }
    assert open_routes == public
    blobs = next(op for m, p, op in operations() if p.startswith("/api/blobs/"))
    assert _schemes(blobs) == {SIGNED_LINK}, "a signed link is its own credential"


def _schemes(operation: dict[str, Any]) -> set[str]:
    return {name for requirement in operation.get("security", ()) for name in requirement}


def test_writes_that_need_if_match_say_so() -> None:
    for method, path, operation in operations():
        headers = {p["name"].lower(): p for p in operation.get("parameters", [])}
        if "428" in operation["responses"]:
            assert headers["if-match"]["required"], (method, path)
            assert "412" in operation["responses"]
        elif "if-match" in headers:
            assert not headers["if-match"]["required"]
            assert {"409", "412"} <= set(operation["responses"]), (method, path)


def test_files_are_declared_as_what_they_are() -> None:
    by_route = {(m, p): op for m, p, op in operations()}
    media = by_route[("GET", "/api/projects/{project_id}/items/{item_id}/media/{rendition}")]
    assert "304" in media["responses"]
    kinds = set(media["responses"]["200"]["content"])
    assert {"image/jpeg", "image/png", "application/octet-stream"} <= kinds
    assert "application/json" not in kinds
    download = by_route[("GET", "/api/projects/{project_id}/export")]["responses"]["200"]
    assert {"application/zip", "application/x-ndjson"} <= set(download["content"])
    upload = by_route[("PUT", "/api/projects/{project_id}/files/{path}")]
    assert "413" in upload["responses"] and "415" not in upload["responses"]
    created = by_route[("POST", "/api/projects")]["responses"]["201"]["headers"]
    assert {"ETag", "Location"} <= set(created)


VALUE_KINDS = {
    "SingleLabel",
    "MultiLabel",
    "BoxSet",
    "PolygonSet",
    "SpanSet",
    "KeypointSet",
    "MaskSet",
}


def test_answers_are_one_shape_per_kind_wherever_they_travel() -> None:
    """What a labeler sends and gets back (answers, pages, reviews, prefills, pre-labels and
    finals) is the union of the value kinds, never a bare object."""
    schemas = create_app(memory_deps, Settings(webui_dir=None)).openapi()["components"]["schemas"]

    def kinds(field: dict[str, Any]) -> set[str]:
        union = next((part for part in field.get("anyOf", [field]) if "oneOf" in part), {})
        return {ref["$ref"].rsplit("/", 1)[1] for ref in union.get("oneOf", [])}

    fields = {
        "AnswerIn": ["value"],
        "PageAnswer": ["value"],
        "ReviewIn": ["value"],
        "TaskItem": ["prefill", "mine"],
        "Prediction": ["value"],
        "Annotation": ["value"],
        "ItemView": ["final", "prefill"],
    }
    for model, names in fields.items():
        for name in names:
            assert kinds(schemas[model]["properties"][name]) == VALUE_KINDS, (model, name)
    assert schemas["Box"]["required"] == ["label", "x", "y", "w", "h"]


def test_problems_are_what_the_schema_says(api: Api) -> None:
    unknown = api.client.get("/api/projects/nope", headers=api.auth())
    Problem.model_validate(unknown.json())
    invalid = api.client.post("/api/projects", json={"name": ""}, headers=api.auth())
    assert invalid.status_code == 422
    InvalidProblem.model_validate(invalid.json())
    anonymous = api.client.get("/api/me")
    assert anonymous.headers["content-type"] == PROBLEM_JSON
    Problem.model_validate(anonymous.json())
    with pytest.raises(ValueError, match="errors"):
        Problem.model_validate(invalid.json())  # `errors` is no field of other problems


def test_a_405_allows_every_method_of_the_path(api: Api) -> None:
    refused = api.client.put("/api/projects", headers=api.auth())
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, POST"
    member = api.client.post("/api/projects/p/members/lee", headers=api.auth())
    assert member.headers["allow"] == "DELETE, PUT"


def test_if_match_of_no_version_is_missing(api: Api) -> None:
    for sent in ("*", " * ", "**", ""):
        answer = api.client.put(
            "/api/projects/p/instructions",
            json={"markdown": "x"},
            headers=api.auth() | {"If-Match": sent},
        )
        assert answer.status_code == 428, sent


def test_a_lost_race_is_412_only_against_the_callers_if_match() -> None:
    app = FastAPI()
    problems.install(app)

    @app.post("/write")
    def write(request: Request) -> None:
        raise PreconditionFailed("document 'p' was changed by someone else")

    client = TestClient(app)
    assert client.post("/write", headers={"If-Match": '"abc"'}).status_code == 412
    raced = client.post("/write")
    assert raced.status_code == 409
    assert "send the request again" in raced.json()["detail"]
    assert client.post("/write", headers={"If-Match": "*"}).status_code == 409


def test_every_route_taking_the_signed_in_user_is_signed_in_first() -> None:
    """`SignedIn` takes the user the router's sign-in found: a route given it under a router
    that does not sign in would fail every call, so the wiring is checked here, route by
    route, rather than by the first user to call it."""

    def calls(dependant: Any) -> list[Any]:
        return [d.call for d in dependant.dependencies]

    app = create_app(memory_deps, Settings(webui_dir=None))
    taking = [r for r in api_routes(app.routes) if already_signed_in in deep_calls(r.dependant)]
    assert taking, "the labeling routes take SignedIn"
    for route in taking:
        first = calls(route.dependant)
        assert current_user in first, route.path
        assert first.index(current_user) < first.index(already_signed_in), route.path


def deep_calls(dependant: Any) -> set[Any]:
    found = set()
    for sub in dependant.dependencies:
        found |= {sub.call} | deep_calls(sub)
    return found
