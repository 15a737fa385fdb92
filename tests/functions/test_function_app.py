"""The Function App as the Functions host sees it: the functions it indexes, their bindings,
and each one called directly with the trigger objects the host would pass."""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import azure.functions as func
import pytest

from core.domain.messages import PROJECT_INIT
from core.domain.projects import ProjectSettings, ProjectStatus
from core.services import projects
from core.services.users import create_user
from functions import context


@pytest.fixture
def function_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ModuleType]:
    monkeypatch.setenv("LOUPE_DATA_DIR", str(tmp_path))
    context.settings.cache_clear()
    context.deps.cache_clear()
    import function_app as module

    yield importlib.reload(module)
    context.deps().close()
    context.settings.cache_clear()
    context.deps.cache_clear()


def functions_of(module: ModuleType) -> dict[str, Any]:
    return {f.get_function_name(): f for f in module.app.get_functions()}


def bindings(function: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(function.get_function_json())["bindings"]
    return found


def test_every_function_is_registered_with_its_bindings(function_app: ModuleType) -> None:
    functions = functions_of(function_app)
    assert set(functions) == {"http_app_func", "project_init"}

    http = {b["direction"]: b for b in bindings(functions["http_app_func"])}
    assert http["IN"]["type"] == "httpTrigger"
    assert http["IN"]["route"] == "/{*route}"
    assert http["IN"]["authLevel"] == "ANONYMOUS"
    assert http["OUT"]["type"] == "http"

    (trigger,) = bindings(functions["project_init"])
    assert trigger["type"] == "serviceBusTrigger"
    assert trigger["queueName"] == PROJECT_INIT
    assert trigger["connection"] == "SERVICEBUS"


def test_project_init_trigger_runs_the_stage(function_app: ModuleType) -> None:
    deps = context.deps()
    settings = ProjectSettings.model_validate(
        {"name": "Docs", "taskType": "text_ner", "labelClasses": [{"name": "PER"}]}
    )
    created = projects.create_project(deps, settings=settings, actor="ann")
    deps.blobs.put("data", f"uploads/{created.value.id}/a.txt", b"Ada Lovelace")
    message = func.ServiceBusMessage(body=json.dumps({"projectId": created.value.id}).encode())

    functions_of(function_app)["project_init"].get_user_function()(message)

    current = projects.get_project(deps, project_id=created.value.id).value
    assert current.status is ProjectStatus.RUNNING


def test_a_bad_message_raises_so_service_bus_retries(function_app: ModuleType) -> None:
    trigger = functions_of(function_app)["project_init"].get_user_function()
    with pytest.raises(Exception, match="projectId"):
        trigger(func.ServiceBusMessage(body=b'{"project": "x"}'))
    with pytest.raises(ValueError, match="not a JSON object"):
        trigger(func.ServiceBusMessage(body=b"[1, 2]"))


def test_http_function_serves_the_api(function_app: ModuleType) -> None:
    _, token = create_user(context.deps(), name="ann")
    http = functions_of(function_app)["http_app_func"].get_user_function()

    def call(method: str, url: str, body: bytes = b"") -> func.HttpResponse:
        request = func.HttpRequest(
            method,
            url,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            body=body,
        )
        # A thread of its own: the browser tests' Playwright keeps an event loop on this one.
        with ThreadPoolExecutor(1) as pool:
            response: func.HttpResponse = pool.submit(asyncio.run, http(request, None)).result()
        return response

    assert json.loads(call("GET", "http://localhost/api/health").get_body())["status"] == "ok"
    created = call(
        "POST",
        "http://localhost/api/projects",
        json.dumps(
            {"name": "Cells", "taskType": "image_polygon", "labelClasses": [{"name": "cell"}]}
        ).encode(),
    )
    assert created.status_code == 201
    assert json.loads(created.get_body())["status"] == "initializing"
    missing = call("GET", "http://localhost/api/projects/nope")
    assert missing.status_code == 404
    assert missing.mimetype == "application/problem+json"
