"""Outbound events: each publisher delivers what integrations read, and the services announce
a project's status changes, finished exports and finished ML-assist cycles."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from core.adapters.azure.events import ServiceBusTopicPublisher
from core.adapters.local.events import JsonlEventLog
from core.adapters.memory import ManualClock, MemoryEventLog
from core.domain.exports import ExportFormat
from core.domain.messages import EXPORT_RUN
from core.domain.outbound import EXPORT_FINISHED, PROJECT_STATUS
from core.services import exports, projects, stages
from core.services.stages import QUEUE_SPECS
from tests.support.deps import memory_deps
from tests.support.fake_servicebus import FakeServiceBusClient
from tests.support.labeling import running_project

EVENT = {"type": "export.finished", "projectId": "p1", "data": {"exportId": "e1"}}


def test_the_memory_log_drops_a_repeated_event_as_the_topic_would() -> None:
    log = MemoryEventLog()
    log.publish(EVENT, event_id="export.finished:p1:e1", subject="export.finished")
    log.publish(EVENT, event_id="export.finished:p1:e1", subject="export.finished")
    assert log.published == [EVENT]


def test_the_local_log_appends_one_json_line_per_event(tmp_path) -> None:
    path = tmp_path / "events.jsonl"
    for n in range(3):
        log = JsonlEventLog(path)  # several processes append to the same file
        log.publish(EVENT | {"n": n}, event_id=f"e{n}", subject="export.finished")
        log.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["n"] for line in lines] == [0, 1, 2]
    assert lines[0]["id"] == "e0" and lines[0]["subject"] == "export.finished"


def test_the_topic_publisher_sends_with_the_event_id_for_duplicate_detection() -> None:
    clock = ManualClock(datetime(2026, 11, 1, tzinfo=UTC))
    client = FakeServiceBusClient(clock, QUEUE_SPECS)
    publisher = ServiceBusTopicPublisher(client, "project-events")
    publisher.publish(EVENT, event_id="export.finished:p1:e1", subject="export.finished")
    publisher.close()
    (message,) = client.topics["project-events"]
    assert message.message_id == "export.finished:p1:e1"
    assert message.subject == "export.finished"
    assert json.loads(b"".join(message.body)) == EVENT


def test_pausing_a_project_and_finishing_an_export_are_announced() -> None:
    deps = memory_deps()
    project = running_project(deps)
    projects.pause_project(deps, project_id=project.id, actor="olive")
    job = exports.request_export(
        deps,
        project_id=project.id,
        actor="olive",
        format=ExportFormat.CSV,
        options=exports.ExportOptions(),
    )
    while messages := deps.queue.receive(EXPORT_RUN):  # a part, then the join
        for message in messages:
            stages.handle(deps, EXPORT_RUN, message.body)
            deps.queue.complete(message)
    published = deps.events.published
    status = next(e for e in published if e["type"] == PROJECT_STATUS)
    assert status["projectId"] == project.id
    assert status["data"] | {"by": "olive"} == {
        "from": "running", "to": "paused", "by": "olive", "name": project.name,
    }  # fmt: skip
    finished = next(e for e in published if e["type"] == EXPORT_FINISHED)
    assert finished["data"]["status"] == "succeeded"
    assert finished["data"]["exportId"] == job.id
