"""Every error leaves the API as RFC 9457 problem+json that says what was wrong and what to do.
Domain errors map to statuses here and nowhere else; stack traces stay in the server log."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException

from core.domain.errors import (
    Conflict,
    Forbidden,
    InvalidImport,
    InvalidInput,
    LoupeError,
    NotFound,
    PreconditionFailed,
    Unauthorized,
)
from core.http import etags
from core.http.routing import allowed_methods

log = logging.getLogger("loupe.http")

PROBLEM_JSON = "application/problem+json"


class Problem(BaseModel):
    """What every error answer holds (RFC 9457): what was wrong, and how to fix it."""

    model_config = ConfigDict(extra="forbid")
    type: str = Field(description="Always `about:blank`: the status says what kind of error")
    title: str = Field(description="The status in words, e.g. `Not found`")
    status: int = Field(description="The HTTP status, repeated")
    detail: str = Field(description="What was wrong, and what to do about it")
    instance: str = Field(description="The path that was requested")


class BrokenRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: str = Field(
        description="Where: a path into the body (`labelClasses[2].name`), `query NAME`, "
        "`header NAME`, a place in an imported file (`line 12`), or empty for the whole request"
    )
    rule: str = Field(description="The rule it breaks")


class InvalidProblem(Problem):
    """A 422: every broken rule, not only the first."""

    errors: list[BrokenRule] = Field(description="Each broken rule, in order")
    omitted: int = Field(
        default=0, description="A refused import only: problems found beyond those listed"
    )
    unknown_classes: list[str] = Field(
        default_factory=list,
        alias="unknownClasses",
        description="A refused import only: classes the file names that the project lacks",
    )


_STATUS: list[tuple[type[LoupeError], int, str]] = [
    (NotFound, 404, "Not found"),
    (PreconditionFailed, 412, "Precondition failed"),
    (Conflict, 409, "Conflict"),
    (Unauthorized, 401, "Unauthorized"),
    (Forbidden, 403, "Forbidden"),
    (InvalidInput, 422, "Invalid input"),
]


def problem(
    status: int,
    title: str,
    detail: str,
    request: Request,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """The answer `Problem` (or `InvalidProblem`, with `errors`) describes."""
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    } | extra
    sent = dict(headers or {})
    if status == 401:
        sent["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=sent or None)


def install(app: FastAPI) -> None:
    app.add_exception_handler(LoupeError, _domain_error)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(ValidationError, _model_invalid)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


async def _domain_error(request: Request, error: Exception) -> JSONResponse:
    if (
        isinstance(error, PreconditionFailed)
        and etags.optional(request.headers.get("if-match")) is None
    ):
        # 412 answers a precondition the caller set; without one, a write that lost a race
        # with another is a conflict to send again.
        return problem(409, "Conflict", f"{error}; send the request again", request)
    for kind, status, title in _STATUS:
        if isinstance(error, kind):
            extra: dict[str, Any] = {}
            if isinstance(error, InvalidInput):
                extra["errors"] = [{"field": v.field, "rule": v.rule} for v in error.violations]
            if isinstance(error, InvalidImport):
                title = "File cannot be imported"
                extra |= {"omitted": error.omitted, "unknownClasses": error.unknown_classes}
            return problem(status, title, str(error), request, **extra)
    return problem(400, "Bad request", str(error), request)


async def _request_invalid(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = list(error.errors())
    malformed = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if malformed is not None:
        where = malformed.get("ctx", {}).get("error", "")
        return problem(
            400,
            "Malformed JSON",
            f"the request body is not valid JSON ({where}); check quotes, commas and brackets",
            request,
        )
    sent_as = request.headers.get("content-type", "")
    if (
        sent_as
        and "json" not in sent_as
        and any(tuple(e.get("loc", ())) == ("body",) for e in errors)
    ):
        # FastAPI reads a non-JSON body as bytes and then reports a type error on the whole body.
        return problem(
            415,
            "Unsupported media type",
            "send the body as JSON with 'Content-Type: application/json' "
            f"(it came as {sent_as[:100]!r})",
            request,
        )
    return _invalid(request, [_violation(e, skip_first=True) for e in errors])


async def _model_invalid(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ValidationError)
    return _invalid(request, [_violation(e, skip_first=False) for e in error.errors()])


def _invalid(request: Request, violations: list[dict[str, str]]) -> JSONResponse:
    detail = "; ".join(
        f"{v['field']}: {v['rule']}" if v["field"] else v["rule"] for v in violations
    )
    return problem(422, "Invalid input", detail, request, errors=violations)


def _violation(error: Any, *, skip_first: bool) -> dict[str, str]:
    location = list(error.get("loc", ()))
    if skip_first and location and location[0] in ("body", "query", "path", "header"):
        where = location[0]
        location = location[1:]
        if where in ("query", "header") and location:
            location[0] = f"{where} {location[0]}"
    field = ""
    for part in location:
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
    message = str(error.get("msg", "is invalid"))
    if error.get("type") == "extra_forbidden":
        message = "is not a known field; check its spelling against /api/openapi.json"
    elif error.get("type") == "missing":
        message = "is required"
    return {"field": field, "rule": message.removeprefix("Value error, ")}


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    titles = {
        404: "Not found",
        405: "Method not allowed",
        413: "Content too large",
        428: "Precondition required",
    }
    detail = str(error.detail)
    if error.status_code == 404 and detail == "Not Found":
        detail = f"there is no {request.url.path}; the API is described at /api/openapi.json"
    elif error.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    elif error.status_code == 400 and detail == "There was an error parsing the body":
        return problem(400, "Unreadable JSON", _unreadable(error.__cause__), request)
    headers = dict(error.headers or {})
    if error.status_code == 405:
        # RFC 9110: a 405 lists what the path takes. Starlette names only the methods of the
        # first route it tried, and FastAPI makes one route per method.
        headers["Allow"] = ", ".join(allowed_methods(request))
    title = titles.get(error.status_code, "Error")
    return problem(error.status_code, title, detail, request, headers=headers)


def _unreadable(cause: BaseException | None) -> str:
    """Why FastAPI could not read a body that is valid JSON syntax: Python's parser limits."""
    if isinstance(cause, RecursionError):
        return "the request body nests lists or objects too deeply to read; no request needs that"
    if isinstance(cause, ValueError) and "digits" in str(cause):
        return "a number in the request body has more than 4,300 digits; send a shorter one"
    return "the request body could not be read as UTF-8 JSON; check it against /api/openapi.json"


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    incident = uuid.uuid4().hex[:12]
    log.exception("unhandled error %s on %s %s", incident, request.method, request.url.path)
    return problem(
        500,
        "Internal error",
        f"Loupe failed on this request (incident {incident}); the server log has the details. "
        "Retry, and report the incident id if it persists.",
        request,
        incident=incident,
    )
