"""Dead letters end to end: a stage that keeps failing is dead-lettered with its reason after
its last allowed delivery, its owner sees it over HTTP (a labeler may not), fixes the cause,
re-drives it, and the stage then does its work. Runs on the memory and SQLite adapters with the
embedded runtime's own worker loop."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.domain.messages import EXPORT_RUN, INGEST_DERIVATIVES
from core.domain.projects import Role
from core.http.app import create_app
from core.local.workers import QueueWorker
from core.ports import Deps
from core.services import stages
from core.settings import Settings
from tests.support.deps import local_deps, memory_deps
from tests.support.labeling import add_items, running_project, users
from tests.support.reliability import Recorder, Row


@dataclass
class World:
    deps: Deps
    http: TestClient
    tokens: dict[str, str]
    project_id: str
    worker: QueueWorker

    def as_(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    def drain(self) -> int:
        """Run the stage worker until every queue is empty; how many messages it took."""
        handled = 0
        while self.worker.run_once():
            handled += 1
        return handled


@pytest.fixture(params=["memory", "local"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    deps = memory_deps() if request.param == "memory" else local_deps(tmp_path)
    tokens = users(deps, "olive", "lee", "rita")
    project = running_project(
        deps,
        task_type="text_multiclass",
        owner="olive",
        members={"lee": Role.LABELER, "rita": Role.REVIEWER},
    )
    add_items(deps, project, 5, prefix="t/", text="hello")
    worker = QueueWorker(deps, list(stages.QUEUE_SPECS.values()), stages.handle)
    app = create_app(lambda: deps, Settings(webui_dir=None))
    with TestClient(app, raise_server_exceptions=False) as http:
        yield World(deps, http, tokens, project.id, worker)
    deps.close()


def test_failing_export_is_dead_lettered_listed_and_redriven(
    world: World, reliability: Recorder
) -> None:
    base = f"/api/projects/{world.project_id}"
    job = world.http.post(f"{base}/exports", json={"format": "csv"}, headers=world.as_("rita"))
    assert job.status_code == 202, job.text
    # The cause: the reviewer who asked is removed before the job runs, so every delivery of
    # the export is refused (the job runs with its requester's rights, never more).
    removed = world.http.delete(f"{base}/members/rita", headers=world.as_("olive"))
    assert removed.status_code == 200, removed.text
    # And a message no stage can read, naming the project.
    world.deps.queue.send(INGEST_DERIVATIVES, {"projectId": world.project_id, "itemIds": 7})

    handled = world.drain()

    max_deliveries = stages.QUEUE_SPECS[EXPORT_RUN].max_delivery_count
    deriv_deliveries = stages.QUEUE_SPECS[INGEST_DERIVATIVES].max_delivery_count
    assert handled >= max_deliveries + deriv_deliveries  # every delivery tried, then no more
    listed = world.http.get(f"{base}/dead-letters", headers=world.as_("olive"))
    assert listed.status_code == 200, listed.text
    dead = {d["queue"]: d for d in listed.json()["deadLetters"]}
    assert set(dead) == {EXPORT_RUN, INGEST_DERIVATIVES}
    export_dead = dead[EXPORT_RUN]
    assert export_dead["reason"] == "Forbidden"
    assert "not a member" in export_dead["description"]
    assert export_dead["deliveryCount"] == max_deliveries
    assert export_dead["body"]["exportId"] == job.json()["id"]
    assert dead[INGEST_DERIVATIVES]["reason"] == "ValidationError"
    assert "itemIds" in dead[INGEST_DERIVATIVES]["description"]
    failed = world.http.get(f"{base}/exports/{job.json()['id']}", headers=world.as_("olive"))
    assert failed.json()["status"] == "failed"
    assert "Forbidden" in failed.json()["error"]

    # Owners only: a labeler is refused both, and a stranger's project shows nothing of ours.
    redrive = f"{base}/dead-letters/{EXPORT_RUN}/{export_dead['messageId']}/redrive"
    assert world.http.get(f"{base}/dead-letters", headers=world.as_("lee")).status_code == 403
    assert world.http.post(redrive, headers=world.as_("lee")).status_code == 403
    assert world.http.post(redrive, headers=world.as_("rita")).status_code == 403
    elsewhere = running_project(world.deps, name="Elsewhere", owner="lee")
    other = f"/api/projects/{elsewhere.id}"
    assert world.http.get(f"{other}/dead-letters", headers=world.as_("lee")).json() == {
        "deadLetters": []
    }
    foreign = f"{other}/dead-letters/{EXPORT_RUN}/{export_dead['messageId']}/redrive"
    assert world.http.post(foreign, headers=world.as_("lee")).status_code == 404

    # The cause fixed, the owner re-drives it and the export completes.
    back = world.http.put(
        f"{base}/members/rita", json={"role": "reviewer"}, headers=world.as_("olive")
    )
    assert back.status_code == 200, back.text
    redriven = world.http.post(redrive, headers=world.as_("olive"))
    assert redriven.status_code == 202, redriven.text
    assert world.http.post(redrive, headers=world.as_("olive")).status_code == 404  # once
    world.drain()  # (the other project's init message too)
    done = world.http.get(f"{base}/exports/{job.json()['id']}", headers=world.as_("olive"))
    assert done.json()["status"] == "succeeded", done.text
    assert done.json()["url"]
    left = world.http.get(f"{base}/dead-letters", headers=world.as_("olive")).json()
    assert [d["queue"] for d in left["deadLetters"]] == [INGEST_DERIVATIVES]

    reliability.record(
        Row(
            suite="dead letters",
            test=f"failing export re-driven by its owner ({type(world.deps.queue).__name__})",
            load="1 export job, 1 malformed message",
            faults="export requester removed (Forbidden on every delivery); unreadable body",
            inputs="owner / labeler / reviewer / other project's owner",
            result={
                "deliveries_before_dead_letter": max_deliveries,
                "dead_lettered": len(dead),
                "refused_non_owner": 3,
                "redriven": 1,
                "export_after_redrive": done.json()["status"],
                "lost": 0,
                "5xx": 0,
            },
        )
    )
