"""Idle workers on the SQLite queue back off, and a send on the same machine wakes them."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from core.adapters.local.queue import SqliteWorkQueue
from core.adapters.memory import ManualClock
from core.local.workers import QueueWorker
from core.ports import QueueSpec
from tests.support.deps import memory_deps

SPEC = QueueSpec("jobs")
START = datetime(2026, 1, 1, tzinfo=UTC)


def worker_on(path: Path, handled: threading.Event) -> tuple[QueueWorker, SqliteWorkQueue]:
    deps = memory_deps()
    assert isinstance(deps.clock, ManualClock)
    queue = SqliteWorkQueue(path, deps.clock, {"jobs": SPEC})
    deps.queue = queue
    worker = QueueWorker(deps, [SPEC], lambda *_: handled.set(), poll_s=0.05, idle_poll_s=30.0)
    return worker, queue


def test_a_send_from_another_instance_wakes_a_backed_off_worker(tmp_path: Path) -> None:
    handled = threading.Event()
    worker, queue = worker_on(tmp_path / "q.db", handled)
    sender = SqliteWorkQueue(tmp_path / "q.db", ManualClock(START), {"jobs": SPEC})
    worker.start()
    try:
        time.sleep(1.0)  # idle: the pause has grown past a second
        started = time.monotonic()
        sender.send("jobs", {"n": 1})
        assert handled.wait(5)
        assert time.monotonic() - started < 0.5
    finally:
        started = time.monotonic()
        worker.stop()
        assert time.monotonic() - started < 1.0  # stopping interrupts the long pause
        sender.close()
        queue.close()


def test_a_send_to_another_queue_does_not_wake_a_waiter(tmp_path: Path) -> None:
    clock = ManualClock(START)
    waiter = SqliteWorkQueue(tmp_path / "q.db", clock, {})
    sender = SqliteWorkQueue(tmp_path / "q.db", clock, {})
    try:
        assert not waiter.wait_for_send(["jobs"], 0.05)  # binds its socket
        threading.Timer(0.05, lambda: sender.send("other", {})).start()
        started = time.monotonic()
        assert not waiter.wait_for_send(["jobs"], 0.4)
        assert time.monotonic() - started >= 0.35
        sender.send("jobs", {})
        assert waiter.wait_for_send(["jobs"], 5)
    finally:
        waiter.close()
        sender.close()


def test_a_receiver_that_died_is_forgotten(tmp_path: Path) -> None:
    clock = ManualClock(START)
    gone = SqliteWorkQueue(tmp_path / "q.db", clock, {})
    gone.wait_for_send(["jobs"], 0)
    gone.close()  # its socket file is removed; a killed one would leave it behind
    sender = SqliteWorkQueue(tmp_path / "q.db", clock, {})
    try:
        sender.send("jobs", {})  # no error
    finally:
        sender.close()


def test_stopping_does_not_block_on_a_full_wake_buffer(tmp_path: Path) -> None:
    clock = ManualClock(START)
    waiter = SqliteWorkQueue(tmp_path / "q.db", clock, {})
    sender = SqliteWorkQueue(tmp_path / "q.db", clock, {})
    try:
        waiter.wait_for_send(["jobs"], 0)  # binds its socket, then stays busy: no draining
        for _ in range(500):
            sender.send("jobs", {})
        done = threading.Event()
        threading.Thread(target=lambda: (waiter.interrupt_waits(), done.set())).start()
        assert done.wait(2)
    finally:
        waiter.close()
        sender.close()
