"""Receive first, derive later: the API's note of foreground work and the derivative workers'
gate (`core.local.foreground`)."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from core.adapters.memory import ManualClock, MemoryWorkQueue
from core.domain.messages import IMPORT_RUN, INGEST_BATCH, INGEST_DERIVATIVES
from core.local.foreground import NoteForeground, Yield, is_foreground, shared_stamp
from core.local.workers import QueueWorker, queue_worker
from core.ports import QueueSpec
from tests.support.deps import memory_deps


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    """On a thread of its own: a browser test's sync Playwright keeps a loop running here."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coroutine).result()


class Stamp:
    def __init__(self, value: float = 0.0) -> None:
        self.value = value


def test_uploads_and_labeling_are_foreground_reads_and_polls_are_not() -> None:
    project = "/api/projects/p1"
    for method, path in [
        ("POST", f"{project}/uploads"),
        ("POST", f"{project}/uploads/complete"),
        ("PUT", f"{project}/files/a/b.jpg"),
        ("PUT", "/api/blobs/data/uploads/p1/a.jpg"),
        ("POST", "/api/programs/projects/p1/uploads"),
        ("POST", f"{project}/tasks/next"),
        ("POST", f"{project}/items/i1/annotation"),
        ("PUT", f"{project}/items/i1/annotation"),
        ("POST", f"{project}/annotations"),
        ("POST", f"{project}/items/i1/skip"),
    ]:
        assert is_foreground(method, path), (method, path)
    for method, path in [
        ("GET", f"{project}/dashboard"),
        ("GET", f"{project}/tasks/last"),
        ("GET", "/api/blobs/data/uploads/p1/a.jpg"),
        ("GET", f"{project}/items/i1/media/thumbnail"),
        ("POST", f"{project}/pause"),
    ]:
        assert not is_foreground(method, path), (method, path)


def test_the_middleware_stamps_foreground_requests_only() -> None:
    stamp = Stamp()
    seen: list[str] = []

    async def app(scope: Any, _receive: Any, _send: Any) -> None:
        seen.append(scope["path"])

    middleware = NoteForeground(app, stamp)
    scope = {"type": "http", "method": "GET", "path": "/api/projects/p/dashboard"}
    run(middleware(scope, None, None))  # type: ignore[arg-type]
    assert stamp.value == 0.0
    before = time.monotonic()
    scope = {"type": "http", "method": "POST", "path": "/api/projects/p/tasks/next"}
    run(middleware(scope, None, None))  # type: ignore[arg-type]
    assert stamp.value >= before
    assert seen == ["/api/projects/p/dashboard", "/api/projects/p/tasks/next"]


def test_derivative_work_waits_for_quiet_but_never_forever() -> None:
    stamp = Stamp(time.monotonic())
    gate = Yield(stamp, quiet_s=0.2, max_wait_s=0.5)
    assert not gate()  # a request just now: wait
    time.sleep(0.25)
    assert gate()  # quiet for 0.2 s: go
    started = time.monotonic()
    taken = 0
    while time.monotonic() - started < 1.2:
        stamp.value = time.monotonic()  # work all the time
        taken += gate()
        time.sleep(0.01)
    assert taken == 2  # one message every half second of waiting, no more


def test_the_stamp_is_shared_with_spawned_processes() -> None:
    stamp = shared_stamp(multiprocessing.get_context("spawn"))
    stamp.value = 12.5
    assert stamp.value == 12.5


def test_derivative_workers_take_only_renditions_and_stage_workers_leave_them() -> None:
    deps = memory_deps()
    stamp = Stamp()
    derivers = queue_worker(deps, "derivatives", stamp)
    stages = queue_worker(deps, "stages", stamp)
    alone = queue_worker(deps, "stages")
    assert list(derivers._specs) == [INGEST_DERIVATIVES]
    assert INGEST_DERIVATIVES not in stages._specs
    assert INGEST_DERIVATIVES in alone._specs  # `loupe worker stages` still serves them all


def test_a_closed_gate_leaves_the_queue_alone() -> None:
    deps = memory_deps()
    assert isinstance(deps.clock, ManualClock)
    spec = QueueSpec("jobs")
    deps.queue = MemoryWorkQueue(deps.clock, {"jobs": spec})
    deps.queue.send("jobs", {"n": 1})
    open_ = [False]
    seen: list[dict[str, Any]] = []
    worker = QueueWorker(deps, [spec], lambda _d, _q, b: seen.append(b), gate=lambda: open_[0])
    assert not worker.run_once()
    assert seen == []
    open_[0] = True
    assert worker.run_once()
    assert seen == [{"n": 1}]


def test_an_import_or_export_job_keeps_the_note_fresh_while_it_runs() -> None:
    deps = memory_deps()
    stamp = Stamp()
    stages = queue_worker(deps, "stages", stamp)
    assert stages._waited is not None
    with stages._waited(IMPORT_RUN):
        time.sleep(1.2)  # longer than the quiet the derivative workers wait for
        assert time.monotonic() - stamp.value < 1.0
    assert time.monotonic() - stamp.value < 0.1
    stamp.value = 0.0
    with stages._waited(INGEST_BATCH):
        pass
    assert stamp.value == 0.0  # registering files is not what someone waits on
