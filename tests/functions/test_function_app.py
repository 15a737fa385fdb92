"""The Function App as the Functions host sees it: the functions it indexes, their bindings,
and each one called directly with the trigger objects the host would pass."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any

import azure.functions as func
import pytest
from pydantic import ValidationError

from core.domain.messages import ASSIST_TRAIN, EXPORT_RUN, IMPORT_RUN, PROJECT_INIT
from core.domain.projects import ProjectSettings, ProjectStatus, Role
from core.domain.relabel import LABEL_CLASSES, RewriteLabels
from core.services import projects
from core.services.dead_letters import list_dead_letters
from core.services.stages import QUEUE_SPECS
from core.services.tasks import next_task
from core.services.users import create_user
from core.store.collections import ITEMS
from functions import context
from tests.support.labeling import add_items, creator, running_project


def functions_of(module: ModuleType) -> dict[str, Any]:
    return {f.get_function_name(): f for f in module.app.get_functions()}


def bindings(function: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(function.get_function_json())["bindings"]
    return found


def test_every_function_is_registered_with_its_bindings(function_app: ModuleType) -> None:
    functions = functions_of(function_app)
    assert set(functions) == {
        "http_app_func",
        "project_init",
        "ingest_batch",
        "ingest_blob",
        "ingest_derivatives",
        "refresh_sweep",
        "label_classes",
        "lease_sweep",
        "label_classes_sweep",
        "training_schedule",
        "recount_sweep",
        "export_run",
        "import_run",
    }

    http = {b["direction"]: b for b in bindings(functions["http_app_func"])}
    assert http["IN"]["type"] == "httpTrigger"
    assert http["IN"]["route"] == "/{*route}"
    assert http["IN"]["authLevel"] == "ANONYMOUS"
    assert http["OUT"]["type"] == "http"

    (trigger,) = bindings(functions["project_init"])
    assert trigger["type"] == "serviceBusTrigger"
    assert trigger["queueName"] == PROJECT_INIT
    assert trigger["connection"] == "SERVICEBUS"
    (export,) = bindings(functions["export_run"])
    assert (export["type"], export["queueName"]) == ("serviceBusTrigger", EXPORT_RUN)
    (imports,) = bindings(functions["import_run"])
    assert (imports["type"], imports["queueName"]) == ("serviceBusTrigger", IMPORT_RUN)


def test_project_init_trigger_runs_the_stage(function_app: ModuleType) -> None:
    deps = context.deps()
    settings = ProjectSettings.model_validate(
        {"name": "Docs", "taskType": "text_ner", "labelClasses": [{"name": "PER"}]}
    )
    creator(deps, "ann")
    created = projects.create_project(deps, settings=settings, actor="ann")
    deps.blobs.put("data", f"uploads/{created.value.id}/a.txt", b"Ada Lovelace")
    message = func.ServiceBusMessage(body=json.dumps({"projectId": created.value.id}).encode())

    functions = functions_of(function_app)  # the host builds them once
    functions["project_init"].get_user_function()(message)
    # The init stage fans out ingest batches; the last one starts the project running.
    (batch,) = deps.queue.receive("ingest-batch")
    batch_message = func.ServiceBusMessage(body=json.dumps(batch.body).encode())
    functions["ingest_batch"].get_user_function()(batch_message)

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


def test_labeling_functions_are_bound_and_run(function_app: ModuleType) -> None:
    functions = functions_of(function_app)
    (sweep,) = bindings(functions["lease_sweep"])
    assert sweep["type"] == "timerTrigger" and sweep["schedule"] == "30 * * * * *"
    (rewrite,) = bindings(functions["label_classes"])
    assert rewrite["type"] == "serviceBusTrigger" and rewrite["queueName"] == LABEL_CLASSES

    deps = context.deps()
    project = running_project(deps, members={"lee": Role.LABELER})
    (only,) = add_items(deps, project, 1)
    next_task(deps, project_id=project.id, actor="lee")
    lease = deps.documents.container(ITEMS).read(project.id, only).body["lease"]
    # The real clock runs on: backdate the lease instead of waiting ten minutes.
    stale = deps.documents.container(ITEMS).read(project.id, only).body
    stale["lease"] = lease | {"until": "2000-01-01T00:00:00.000000Z"}
    deps.documents.container(ITEMS).upsert(stale)
    functions["lease_sweep"].get_user_function()(None)
    assert "lease" not in deps.documents.container(ITEMS).read(project.id, only).body

    message = RewriteLabels(
        project_id=project.id, actor="olive", before=deps.clock.now(), old="cat", new="kitten"
    )
    body = json.dumps(message.to_doc()).encode()
    functions["label_classes"].get_user_function()(func.ServiceBusMessage(body=body))


def test_training_schedule_timer_queues_a_cycle_for_a_due_project(
    function_app: ModuleType,
) -> None:
    deps = context.deps()
    project = running_project(
        deps, classes=("cat", "dog"), assist={"enabled": True, "trainAfter": 10}
    )
    ids = add_items(deps, project, 10)
    labeled = deps.documents.container(ITEMS)
    for item_id in ids:
        document = labeled.read(project.id, item_id).body
        labeled.upsert(document | {"state": "labeled", "final": {"label": "cat"}})
    timer = functions_of(function_app)["training_schedule"].get_user_function()
    timer(None)
    (message,) = deps.queue.receive(ASSIST_TRAIN)
    assert message.body["projectId"] == project.id
    timer(None)  # pending: not twice
    assert deps.queue.receive(ASSIST_TRAIN) == []


class _Delivered(func.ServiceBusMessage):
    """A message as the host hands it over on its `count`-th delivery."""

    def __init__(self, body: bytes, count: int, message_id: str) -> None:
        super().__init__(body=body)
        self._count, self._id = count, message_id

    @property
    def delivery_count(self) -> int:
        return self._count

    @property
    def message_id(self) -> str:
        return self._id


def test_the_last_failed_delivery_keeps_its_error_for_the_dead_letter(
    function_app: ModuleType,
) -> None:
    deps = context.deps()
    project = running_project(deps)
    trigger = functions_of(function_app)["export_run"].get_user_function()
    body = {"projectId": project.id}  # no exportId: the stage refuses it every time
    deps.queue.send(EXPORT_RUN, body, message_id="m-1")
    last = QUEUE_SPECS[EXPORT_RUN].max_delivery_count
    for count in range(1, last + 1):
        with pytest.raises(ValidationError):
            trigger(_Delivered(json.dumps(body).encode(), count, "m-1"))
    # The host gives up with Service Bus's generic reason ...
    (message,) = deps.queue.receive(EXPORT_RUN)
    deps.queue.dead_letter(message, reason="MaxDeliveryCountExceeded", description="")
    # ... and the owner still sees why.
    (dead,) = list_dead_letters(deps, project_id=project.id, actor="olive")
    assert dead.reason == "ValidationError" and "exportId" in dead.description
