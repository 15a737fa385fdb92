"""The OpenAPI document says what the API does, errors included: every route declares each
error status it can answer, with the problem+json `core.http.problems` emits, and no other.

Most of them are read here from the route itself when the document is first built: its
sign-in (401, and 403 for a project's roles or a cookie without the same-site header), the
things its path names (404), its If-Match (412, 428 when required) and If-None-Match (304), its
body (400, 413, 415), its inputs (422) and the rate limit every /api call is under (429). What
the route alone knows, a route says with `conflict` (409) or `forbidden` (a deployment role)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import pairwise
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from pydantic.json_schema import models_json_schema

from core.http import etags
from core.http.context import CSRF_HEADER, CSRF_VALUE, SIGN_IN, SIGNED_LINK
from core.http.problems import PROBLEM_JSON, InvalidProblem, Problem
from core.http.routing import api_routes

Responses = dict[int | str, dict[str, Any]]

SAFE = frozenset({"get", "head", "options"})
SCHEMAS = "#/components/schemas/"

TITLES = {
    304: "Not modified",
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    412: "Precondition failed",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Invalid input",
    428: "Precondition required",
    429: "Too many requests",
}
_NOUNS = {
    "projects": "project",
    "items": "item",
    "media": "rendition",
    "frames": "frame",
    "exports": "export",
    "jobs": "job",
    "members": "member",
    "dead-letters": "dead letter",
    "blobs": "blob",
    "users": "user",
}
"""What a path parameter names, by the path segment before it (`/items/{item_id}`: an item)."""


def conflict(why: str) -> Responses:
    """`responses=` of a route that answers 409, and when."""
    return {409: {"description": why}}


def forbidden(why: str) -> Responses:
    """`responses=` of a route that needs a deployment role (a project's roles are derived)."""
    return {403: {"description": why}}


def install(app: FastAPI) -> None:
    """Have `app.openapi()` (and so /api/openapi.json) say what each route answers."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:  # built once, on first request: generate() caches it
            describe(generate(), api_routes(app.routes))
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def describe(document: dict[str, Any], routes: Iterable[Any]) -> None:
    required_if_match = {
        (method.lower(), route.path_format)
        for route in routes
        if etags.if_match_required in _calls(route.dependant)
        for method in route.methods
    }
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            needs_if_match = (method, path) in required_if_match
            _tidy_parameters(operation, needs_if_match)
            responses = operation["responses"]
            for status, reasons in errors(method, path, operation, needs_if_match).items():
                _declare(responses, status, reasons)
            operation["responses"] = dict(sorted(responses.items()))
    _add_problem_schemas(document)
    _nulls_left_out(document)


def errors(
    method: str, path: str, operation: dict[str, Any], needs_if_match: bool
) -> dict[int, list[str]]:
    """Each error status the operation can answer, with why (a route's own first)."""
    security = {name for requirement in operation.get("security", ()) for name in requirement}
    parameters = operation.get("parameters", [])
    headers = {p["name"].lower() for p in parameters if p["in"] == "header"}
    body = operation.get("requestBody")
    found: dict[int, list[str]] = {}
    for status, declared in operation.get("responses", {}).items():
        if status in ("403", "409"):  # the route's own words (FastAPI's 422 is replaced)
            found[int(status)] = [declared["description"]]

    def add(status: int, why: str) -> None:
        found.setdefault(status, []).append(why)

    if security & SIGN_IN:
        add(401, "not signed in, or the token or session is unknown, revoked or expired")
        if "{project_id}" in path:
            add(403, "you are not a member of the project, or your role in it does not allow this")
        if method not in SAFE:
            add(403, f"a change made with the session cookie lacks `{CSRF_HEADER}: {CSRF_VALUE}`")
    if SIGNED_LINK in security:
        add(403, "the link's signature is missing, wrong or expired, or its holder lost access")
    nouns = _looked_up(path)
    if nouns:
        add(404, f"no such {nouns} (a deleted project is not found either)")
    if "if-none-match" in headers:
        add(304, "the file still has the ETag sent in If-None-Match: keep your copy")
    if "if-match" in headers:
        add(412, "If-Match is not the project's ETag any more: read it again, then retry")
        if not needs_if_match:
            add(409, "sent without If-Match, it met another change to the project: send it again")
    if needs_if_match:
        add(428, "If-Match is missing: send the ETag of your last read")
    if body is not None:
        add(413, "the body is too large (uploads and imports: LOUPE_MAX_UPLOAD_BYTES)")
        if "application/json" in body.get("content", {}):
            add(400, "the body is not JSON, or nests too deep to read")
            add(415, "the body is not sent as `Content-Type: application/json`")
    if parameters or body is not None:
        add(422, "a value breaks a rule; `errors` lists every one")
    add(429, "too many requests from this caller: wait as long as Retry-After says")
    return dict(sorted(found.items()))


def _declare(responses: dict[str, Any], status: int, reasons: list[str]) -> None:
    declared = responses.setdefault(str(status), {})
    declared["description"] = f"{TITLES[status]}: " + "; ".join(reasons)
    if status == 304:
        declared.pop("content", None)
        declared["headers"] = {"ETag": _header("The ETag If-None-Match named")}
        return
    model = InvalidProblem if status == 422 else Problem
    declared["content"] = {PROBLEM_JSON: {"schema": {"$ref": SCHEMAS + model.__name__}}}
    if status == 401:
        declared["headers"] = {"WWW-Authenticate": _header("How to sign in: `Bearer`")}
    elif status == 429:
        declared["headers"] = {
            "Retry-After": _header("Seconds until a request is taken again", "integer")
        }


def _header(description: str, kind: str = "string") -> dict[str, Any]:
    return {"description": description, "required": True, "schema": {"type": kind}}


def _tidy_parameters(operation: dict[str, Any], needs_if_match: bool) -> None:
    for parameter in operation.get("parameters", []):
        # An optional parameter is one left out: `null` is no value a query or header can hold.
        schema = parameter.get("schema", {})
        choices = schema.get("anyOf")
        if choices and {"type": "null"} in choices:
            rest = [choice for choice in choices if choice != {"type": "null"}]
            del schema["anyOf"]
            schema.update(rest[0] if len(rest) == 1 else {"anyOf": rest})
        if needs_if_match and parameter["name"].lower() == "if-match":
            # `*` (any version) or blank is as good as none for a write that must not be blind.
            parameter["required"] = True
            schema["pattern"] = etags.TAG_PATTERN


def _looked_up(path: str) -> str:
    segments = path.split("/")
    nouns = [
        _NOUNS[before]
        for before, segment in pairwise(segments)
        if segment.startswith("{") and before in _NOUNS
    ]
    if len(nouns) < 2:
        return "".join(nouns)
    return ", ".join(nouns[:-1]) + " or " + nouns[-1]


def _add_problem_schemas(document: dict[str, Any]) -> None:
    _, found = models_json_schema(
        [(Problem, "serialization"), (InvalidProblem, "serialization")],
        by_alias=True,
        ref_template=SCHEMAS + "{model}",
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(found.get("$defs", {}))
    # FastAPI's own 422 shape is no answer of this API any more.
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)


def _nulls_left_out(document: dict[str, Any]) -> None:
    """Answers leave out what is None (`response_model_exclude_none`): in a schema only answers
    use, a field that may be null is not required (pydantic marks computed ones required)."""
    schemas = document.get("components", {}).get("schemas", {})
    asked = _refs([op.get("requestBody") for ops in document.get("paths", {}).values()
                   for op in ops.values()], schemas)  # fmt: skip
    for name, schema in schemas.items():
        if name in asked or "required" not in schema:
            continue
        properties = schema.get("properties", {})
        schema["required"] = [
            field for field in schema["required"] if not _nullable(properties.get(field, {}))
        ]


def _nullable(schema: dict[str, Any]) -> bool:
    return any(option.get("type") == "null" for option in schema.get("anyOf", ()))


def _refs(roots: list[Any], schemas: dict[str, Any]) -> set[str]:
    """Names of the component schemas `roots` use, directly or through others."""
    found: set[str] = set()
    pending = list(roots)
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(SCHEMAS):
                name = ref.removeprefix(SCHEMAS)
                if name not in found:
                    found.add(name)
                    pending.append(schemas.get(name))
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)
