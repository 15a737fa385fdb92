from __future__ import annotations

import threading
from typing import Any

from core.adapters.memory import ManualClock, MemoryWorkQueue
from core.local.scheduler import Job, Scheduler
from core.local.workers import QueueWorker
from core.ports import Deps, QueueSpec
from tests.support.deps import memory_deps

SPEC = QueueSpec("jobs", lock_seconds=30, max_delivery_count=3)


def deps_with_queue() -> Deps:
    deps = memory_deps()
    assert isinstance(deps.clock, ManualClock)
    deps.queue = MemoryWorkQueue(deps.clock, {"jobs": SPEC})
    return deps


def test_success_completes_the_message() -> None:
    deps = deps_with_queue()
    seen: list[dict[str, Any]] = []
    deps.queue.send("jobs", {"n": 1})
    worker = QueueWorker(deps, [SPEC], lambda _d, _q, body: seen.append(body), poll_s=0)
    assert worker.run_once()
    assert seen == [{"n": 1}]
    assert not worker.run_once()  # completed: gone


def test_failures_retry_then_dead_letter_with_the_reason() -> None:
    deps = deps_with_queue()
    deps.queue.send("jobs", {"n": 1})
    calls = 0

    def broken(_deps: Deps, _queue: str, _body: dict[str, Any]) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("disk on fire")

    worker = QueueWorker(deps, [SPEC], broken, poll_s=0)
    while worker.run_once():
        pass
    assert calls == SPEC.max_delivery_count
    (dead,) = deps.queue.dead_letters("jobs")
    assert dead.reason == "RuntimeError"
    assert dead.description == "disk on fire"
    assert dead.body == {"n": 1}


def test_queues_are_served_in_priority_order() -> None:
    deps = memory_deps()
    assert isinstance(deps.clock, ManualClock)
    urgent, later = QueueSpec("urgent"), QueueSpec("later")
    deps.queue = MemoryWorkQueue(deps.clock, {"urgent": urgent, "later": later})
    deps.queue.send("later", {"n": 1})
    deps.queue.send("urgent", {"n": 2})
    deps.queue.send("urgent", {"n": 3})
    order: list[str] = []
    worker = QueueWorker(deps, [urgent, later], lambda _d, queue, _b: order.append(queue))
    while worker.run_once():
        pass
    assert order == ["urgent", "urgent", "later"]


def test_worker_thread_starts_and_stops() -> None:
    deps = deps_with_queue()
    done = threading.Event()
    worker = QueueWorker(deps, [SPEC], lambda *_: done.set(), poll_s=0.01)
    worker.start()
    deps.queue.send("jobs", {})
    assert done.wait(5)
    worker.stop()


def test_scheduler_runs_jobs_and_survives_a_failing_one() -> None:
    ran = threading.Event()

    def fail() -> None:
        raise RuntimeError("flaky")

    scheduler = Scheduler([Job("fails", 0.01, fail), Job("works", 0.02, ran.set)])
    scheduler.start()
    assert ran.wait(5)
    scheduler.stop()
