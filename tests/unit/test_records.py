"""Items, runs, audit events, export jobs and tokens as they are stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from core.domain.events import audit_event
from core.domain.exports import ExportFormat, ExportJob
from core.domain.items import Item, MediaFacts, item_id
from core.domain.runs import JobStatus, Run, RunKind
from core.domain.task_types import MediaKind
from core.domain.users import User, token_hash

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def test_item_ids_are_stable_per_project_and_path() -> None:
    assert item_id("p1", "a/b.jpg") == item_id("p1", "a/b.jpg")
    assert item_id("p1", "a/b.jpg") != item_id("p2", "a/b.jpg")
    assert len(item_id("p1", "x")) == 32


def test_item_round_trips_and_checks_its_facts() -> None:
    item = Item(
        id="i",
        project_id="p",
        path="a.png",
        kind=MediaKind.IMAGE,
        rank=0.5,
        media=MediaFacts(format="png", bytes=10, width=4, height=3),
        created_at=NOW,
        updated_at=NOW,
    )
    assert Item.model_validate(item.to_doc()) == item
    with pytest.raises(ValidationError, match="rank"):
        Item.model_validate(item.to_doc() | {"rank": 1.5})
    with pytest.raises(ValidationError, match="width"):
        MediaFacts(format="png", bytes=1, width=0)


def test_audit_event_ids_sort_by_time() -> None:
    first = audit_event(token="ff", project_id="p", at=NOW, actor="a", action="x.done", subject="p")
    later = audit_event(
        token="00",
        project_id="p",
        at=NOW + timedelta(microseconds=1),
        actor="a",
        action="x.done",
        subject="p",
    )
    assert first.id < later.id


def test_runs_and_exports_start_queued() -> None:
    run = Run(id="r", project_id="p", kind=RunKind.TRAIN, created_at=NOW)
    job = ExportJob(
        id="e", project_id="p", format=ExportFormat.COCO, created_by="a", created_at=NOW
    )
    assert run.status is job.status is JobStatus.QUEUED
    assert Run.model_validate(run.to_doc()) == run
    assert ExportJob.model_validate(job.to_doc()) == job


def test_user_names_and_token_hashes() -> None:
    User(id="ann.lee@lab", created_at=NOW)
    with pytest.raises(ValidationError, match="user names"):
        User(id="../root", created_at=NOW)
    assert token_hash("lp_x") == token_hash("lp_x") != token_hash("lp_y")
    assert "lp_x" not in token_hash("lp_x")
