"""The Container Apps job's entry: drains one stage queue with the stage handlers, then stops."""

from __future__ import annotations

import pytest

from core import job
from core.domain.messages import INGEST_BATCH, PROJECT_INIT
from core.domain.projects import ProjectSettings
from core.services import projects
from core.services.stages import QUEUE_SPECS
from tests.support.deps import memory_deps
from tests.support.labeling import creator


def test_drain_handles_what_waits_and_stops_when_the_queue_is_empty() -> None:
    deps = memory_deps()
    settings = ProjectSettings.model_validate(
        {"name": "Docs", "taskType": "text_ner", "labelClasses": [{"name": "PER"}]}
    )
    creator(deps, "ann")
    created = projects.create_project(deps, settings=settings, actor="ann")  # project-init
    deps.blobs.put("data", f"uploads/{created.value.id}/a.txt", b"Ada Lovelace")
    assert job.drain(deps, QUEUE_SPECS[PROJECT_INIT], max_messages=10) == 1
    assert deps.queue.receive(PROJECT_INIT) == []
    assert deps.queue.receive(INGEST_BATCH)  # the stage ran: it fanned out a batch
    assert job.drain(deps, QUEUE_SPECS[PROJECT_INIT], max_messages=10) == 0


def test_a_queue_without_a_stage_fails_its_messages() -> None:
    with pytest.raises(LookupError, match="no stage handles queue 'no-such-queue'"):
        job.handle(memory_deps(), "no-such-queue", {"projectId": "p"})


def test_the_queue_must_be_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOUPE_TRAINING_QUEUE", raising=False)
    with pytest.raises(SystemExit):
        job.main([])
