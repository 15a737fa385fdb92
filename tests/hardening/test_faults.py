"""Killing `loupe serve` outright (SIGKILL to the server and its workers at once, as a power cut
would) at the worst moments, then starting it again on the same data folder:

(a) while 20,000 items are being registered, (b) while 50 labelers ask for and answer tasks over
HTTP, (c) while an export runs. After each restart: no acknowledged (2xx) answer is lost, no
item exists twice, every item is in exactly one state, the export completes (or failed and a
retry completes), the leases of the labelers who vanished return to the queue on expiry
(shortened here with LOUPE_TASK_LEASE_S), and within the recount sweep's interval (shortened
with LOUPE_RECOUNT_S) the dashboard's label distribution and per-labeler answers equal the
items again, whatever counts the kill cut off. The fast version runs in `make test`."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.adapters.local.documents import SqliteDocumentStore
from core.domain.annotations import SingleLabel
from core.domain.datasets import Dataset, DataSource
from core.domain.items import Item, ItemState
from core.domain.projects import ProjectSettings, Role
from core.ports import Query, Where
from core.services import projects
from core.store.collections import EXPORTS, ITEMS, PROJECTS, load, scan
from tests.support.counters import Figures, from_board, from_counters, from_items
from tests.support.deps import local_deps, memory_deps
from tests.support.reliability import Recorder, Row
from tests.support.servers import LoupeProcess, start_loupe

ITEMS_COUNT = int(os.environ.get("HARDENING_ITEMS", "20000"))
LABELERS = 50
LABEL_SECONDS = float(os.environ.get("HARDENING_LABEL_SECONDS", "4"))
LEASE_S = 5
RECOUNT_S = 2
CLASSES = ("pos", "neg", "meh")
# Every item, so that the export runs long enough to be killed in the middle.
EXPORT = {"format": "loupe_jsonl", "options": {"states": ["unlabeled", "labeled", "skipped"]}}
ENV = {
    "LOUPE_TASK_LEASE_S": str(LEASE_S),
    "LOUPE_RECOUNT_S": str(RECOUNT_S),
    "LOUPE_DATASETS": "lake",
    "LOUPE_WORKERS": "2",
    "LOUPE_RATE_LIMIT": "0",
}


@dataclass
class Site:
    folder: Path
    project_id: str
    tokens: dict[str, str]
    server: LoupeProcess | None = None
    kills: list[str] = field(default_factory=list)

    def start(self) -> LoupeProcess:
        self.server = start_loupe(self.folder, "--no-demo", env=ENV)
        self.server.wait_for("Loupe is running", timeout=60)
        return self.server

    def kill(self, moment: str) -> None:
        """SIGKILL the server and its workers together: nobody gets to finish anything."""
        assert self.server is not None
        pids = [self.server.process.pid, *self.server.children()]
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        self.server.process.wait(10)
        self.kills.append(moment)

    def stop(self) -> None:
        if self.server is not None and self.server.process.poll() is None:
            assert self.server.stop(signal.SIGTERM, timeout=30) == 0, "".join(self.server.lines)

    def http(self, user: str = "olive") -> httpx.Client:
        assert self.server is not None
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        return httpx.Client(base_url=self.server.url, headers=headers, timeout=30)

    def items(self) -> list[Item]:
        store = SqliteDocumentStore(self.folder / "documents.sqlite")
        try:
            found = scan(store.container(ITEMS), self.project_id, Query(page_size=1000))
            return [load(Item, document) for document in found]
        finally:
            store.close()

    def export_status(self, export_id: str) -> str:
        store = SqliteDocumentStore(self.folder / "documents.sqlite")
        try:
            return str(store.container(EXPORTS).read(self.project_id, export_id).body["status"])
        finally:
            store.close()

    def counters(self) -> Figures:
        """The dashboard's figures as the counter documents hold them."""
        store = SqliteDocumentStore(self.folder / "documents.sqlite")
        try:
            return from_counters(replace(memory_deps(), documents=store), self.project_id)
        finally:
            store.close()

    def dashboard(self) -> dict[str, Any]:
        with self.http() as http:
            board = http.get(f"/api/projects/{self.project_id}/dashboard")
            assert board.status_code == 200, board.text
            found: dict[str, Any] = board.json()
            return found

    def count(self, *where: Where) -> int:
        store = SqliteDocumentStore(self.folder / "documents.sqlite")
        try:
            return store.container(ITEMS).count(self.project_id, list(where))
        finally:
            store.close()


def wait(what: str, check: Callable[[], bool], timeout: float = 60) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    deps = local_deps(tmp_path)
    names = [f"labeler{n:02d}" for n in range(LABELERS)]
    from tests.support.labeling import users

    tokens = users(deps, "olive", *names)
    rows = "".join(json.dumps({"text": f"review number {n}"}) + "\n" for n in range(ITEMS_COUNT))
    deps.blobs.put("lake", "in/reviews.jsonl", rows.encode())
    settings = ProjectSettings.model_validate(
        {
            "name": "Reviews",
            "taskType": "text_multiclass",
            "labelClasses": [{"name": c} for c in CLASSES],
            "dataset": Dataset(source=DataSource.BLOB, container="lake", path="in/**"),
        }
    )
    created = projects.create_project(deps, settings=settings, actor="olive")
    members = {"olive": Role.OWNER, **dict.fromkeys(names, Role.LABELER)}
    with_members = created.value.model_copy(update={"members": members})
    deps.documents.container(PROJECTS).upsert(with_members.to_doc(), if_match=created.etag)
    deps.close()
    made = Site(tmp_path, created.value.id, tokens)
    try:
        yield made
    finally:
        if made.server is not None and made.server.process.poll() is None:
            made.server.stop(signal.SIGKILL)


def check_items(site: Site) -> dict[str, Item]:
    """Exactly the dataset's items, each once, each in one known state."""
    items = site.items()
    assert len(items) == ITEMS_COUNT
    assert len({i.id for i in items}) == ITEMS_COUNT
    assert len({i.path for i in items}) == ITEMS_COUNT, "an item registered twice"
    assert all(isinstance(i.state, ItemState) for i in items)
    return {i.id: i for i in items}


@dataclass
class Labeling:
    acked: dict[str, tuple[str, str]] = field(default_factory=dict)
    """item id → (labeler, label) of every answer the server acknowledged with a 2xx."""
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def label(site: Site, name: str, result: Labeling, stop: threading.Event) -> None:
    base = f"/api/projects/{site.project_id}"
    with site.http(name) as http:
        while not stop.is_set():
            try:
                task = http.post(f"{base}/tasks/next", json={"size": 1})
                if task.status_code != 200:
                    with result.lock:
                        result.errors[f"next {task.status_code}"] += 1
                    continue
                items = task.json()["items"]
                if not items:
                    return
                item_id = items[0]["id"]
                choice = CLASSES[hash(item_id) % 3]
                started = time.monotonic()
                done = http.post(
                    f"{base}/items/{item_id}/annotation", json={"value": {"label": choice}}
                )
                with result.lock:
                    result.latencies.append(time.monotonic() - started)
                    if done.status_code == 200:
                        result.acked[item_id] = (name, choice)
                    else:
                        result.errors[f"submit {done.status_code}"] += 1
            except httpx.TransportError:
                return  # the server is gone: this labeler's session is dead


@pytest.mark.slow
def test_sigkill_during_init_labeling_and_export(site: Site, reliability: Recorder) -> None:
    # (a) Killed while the 20,000 items are being registered.
    site.start()
    wait("registration to begin", lambda: site.count() > 0, timeout=60)
    registered_at_kill = site.count()
    site.kill("init")
    site.start()
    with site.http() as http:
        progress = f"/api/projects/{site.project_id}/ingestion"
        wait(
            "the project to run",
            lambda: http.get(progress).json()["status"] == "running",
            timeout=120,
        )
        assert http.get(progress).json()["registered"] == ITEMS_COUNT
    items = check_items(site)
    assert all(i.state is ItemState.UNLABELED for i in items.values())

    # (b) Killed while 50 labelers work over HTTP.
    result = Labeling()
    stop = threading.Event()
    threads = [
        threading.Thread(target=label, args=(site, name, result, stop))
        for name in site.tokens
        if name != "olive"
    ]
    for thread in threads:
        thread.start()
    time.sleep(LABEL_SECONDS)
    site.kill("labeling")
    stop.set()
    for thread in threads:
        thread.join(30)
    leased_at_kill = site.count(Where("lease.until", "exists"))
    assert result.acked, "no answer was acknowledged before the kill"
    # A 409 is a correct answer (a lease that ran out under load: the stale answer refused);
    # anything else is not.
    assert not [kind for kind in result.errors if not kind.endswith("409")], result.errors
    counted_at_kill = site.counters()
    site.start()
    restarted = time.monotonic()
    items = check_items(site)
    lost = [
        item_id
        for item_id, (who, choice) in result.acked.items()
        if items[item_id].state is not ItemState.LABELED
        or [(a.user, a.value) for a in items[item_id].annotations] != [(who, SingleLabel(choice))]
    ]
    assert not lost, f"{len(lost)} acknowledged answers lost or changed: {lost[:5]}"
    labeled = sum(1 for i in items.values() if i.state is ItemState.LABELED)
    unacked = labeled - len(result.acked)  # committed, but the answer never reached its labeler
    assert 0 <= unacked <= LABELERS
    expiry = wait(
        "dead sessions' leases to expire",
        lambda: site.count(Where("lease.until", "exists")) == 0,
        timeout=LEASE_S + 30,
    )
    # The dashboard: what the kill cut off between items and counters, corrected by the sweep.
    truth = from_items(items.values())
    drift_at_kill = truth.drift(counted_at_kill)
    recounted = wait(
        "the dashboard to equal the items",
        lambda: from_board(site.dashboard()) == truth,
        timeout=120,  # 100k items: a scan every ten times its length, two to correct
    )
    recount_s = time.monotonic() - restarted
    board = site.dashboard()
    shown = {p["user"]: p for p in board["labelers"]}
    # Every answer held was a submission here (no rejections), lost counts restored included.
    assert {u: p["submitted"] for u, p in shown.items()} == truth.answers
    with site.http("labeler00") as http:  # the queue hands out work again
        again = http.post(f"/api/projects/{site.project_id}/tasks/next", json={"size": 1})
        assert again.status_code == 200 and again.json()["items"]

    # (c) Killed while an export runs.
    with site.http() as http:
        job = http.post(f"/api/projects/{site.project_id}/exports", json=EXPORT)
        assert job.status_code == 202, job.text
    time.sleep(0.5)  # a worker has taken it (they poll every 0.2 s); writing takes longer
    site.kill("export")
    at_kill = site.export_status(job.json()["id"])
    site.start()
    export_url = f"/api/projects/{site.project_id}/exports/{job.json()['id']}"
    with site.http() as http:
        wait(
            "the export to finish",
            lambda: http.get(export_url).json()["status"] in ("succeeded", "failed"),
            timeout=60,
        )
        outcome = http.get(export_url).json()
        retried = 0
        if outcome["status"] == "failed":  # failed and retryable: a new request completes
            retried = 1
            job = http.post(f"/api/projects/{site.project_id}/exports", json=EXPORT)
            export_url = f"/api/projects/{site.project_id}/exports/{job.json()['id']}"
            wait("the retry", lambda: http.get(export_url).json()["status"] == "succeeded")
            outcome = http.get(export_url).json()
        assert outcome["status"] == "succeeded", outcome
        rows = httpx.get(outcome["url"], timeout=60).text.strip().splitlines()
    assert len(rows) == ITEMS_COUNT  # one line per item, whatever its state
    assert sum(1 for row in rows if '"final"' in row) == labeled
    site.stop()

    reliability.record(
        Row(
            suite="faults",
            test="SIGKILL of loupe serve during init, labeling and export",
            load=(
                f"{ITEMS_COUNT:,} items; {LABELERS} labelers over HTTP for {LABEL_SECONDS:g} s; "
                f"an export of all {ITEMS_COUNT:,} items"
            ),
            faults="SIGKILL of server and workers: mid-registration, mid-labeling, mid-export",
            inputs=(
                f"lease {LEASE_S} s (LOUPE_TASK_LEASE_S), recount every {RECOUNT_S} s "
                "(LOUPE_RECOUNT_S), 2 workers"
            ),
            result={
                "registered_at_kill": registered_at_kill,
                "acked": len(result.acked),
                "committed_unacked": unacked,
                "conflicts_409": sum(n for k, n in result.errors.items() if k.endswith("409")),
                "lost": len(lost),
                "duplicated": 0,
                "5xx": sum(n for k, n in result.errors.items() if k.split()[-1].startswith("5")),
                "leased_at_kill": leased_at_kill,
                "lease_release_s": round(expiry, 1),
                "export_at_kill": at_kill,
                "export": f"succeeded after {'retry' if retried else 'restart'}",
                "labeled": labeled,
                "dashboard_labels": ", ".join(f"{k} {n}" for k, n in truth.labels.items()),
                "dashboard_equal_to_items_after_restart_s": round(recount_s, 1),
            },
        )
    )
    reliability.record(
        Row(
            suite="Security: counter drift",
            test="dashboard figures vs the items after SIGKILL mid-labeling",
            load=f"{LABELERS} labelers over HTTP for {LABEL_SECONDS:g} s on {ITEMS_COUNT:,} items",
            faults="SIGKILL between items' writes and their counters' writes",
            inputs=(
                "label distribution, per-labeler answers and agreement, compared with counts "
                f"from the items; recount every {RECOUNT_S} s"
            ),
            result={
                "labeled": labeled,
                "drift_at_kill": drift_at_kill,
                "drift_after_recount": truth.drift(from_board(board)),
                "recount_s_after_restart": round(recount_s, 1),
                "wait_after_leases_s": round(recounted, 1),
            },
        )
    )


def test_a_restart_releases_the_dead_runtimes_locks_at_once(tmp_path: Path) -> None:
    """What lets (a) finish in seconds rather than after the five-minute ingestion lock: the
    killed runtime's locks are released by the next start, their delivery still counted."""
    from datetime import UTC, datetime

    from core.adapters.clock import ManualClock
    from core.adapters.local.queue import SqliteWorkQueue
    from core.local import recovery
    from core.ports import QueueSpec

    clock = ManualClock(datetime(2026, 11, 1, tzinfo=UTC))
    queue = SqliteWorkQueue(tmp_path / "queue.sqlite", clock, {"q": QueueSpec("q", 300, 5)})
    queue.send("q", {"n": 1})
    (held,) = queue.receive("q")
    assert queue.receive("q") == []
    (tmp_path / recovery.PIDS).write_text(json.dumps({"runtime": 2**22 + 7, "workers": []}))

    assert recovery.recover(tmp_path, queue) == 1

    (again,) = queue.receive("q")
    assert (again.message_id, again.delivery_count) == (held.message_id, 2)
    queue.close()
