"""SQLite connections live as long as the threads that opened them: servers run requests on
pools whose threads retire when idle, and a connection kept after its thread would hold its
three descriptors (database, log, shared-memory index) for good."""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from core.adapters.clock import ManualClock
from core.adapters.local.connections import Connections
from core.adapters.local.documents import SqliteDocumentStore
from core.adapters.local.queue import SqliteWorkQueue
from core.ports import ContainerSpec, QueueSpec

ITEMS = ContainerSpec("items", "projectId")
THREADS = 40
START = datetime(2026, 1, 1, tzinfo=UTC)


def descriptors_on(folder: Path) -> int:
    """This process's open descriptors on files in `folder`."""
    found = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            found += os.readlink(f"/proc/self/fd/{fd}").startswith(str(folder))
        except OSError:  # closed meanwhile (the listing's own descriptor)
            continue
    return found


def wave(folder: Path, count: int, work: Callable[[int], None]) -> int:
    """Run `work` on `count` threads that all hold their connections at once, then end; the
    descriptors open on the folder while they all worked."""
    all_working = threading.Barrier(count + 1)

    def thread(n: int) -> None:
        work(n)
        all_working.wait()
        all_working.wait()

    threads = [threading.Thread(target=thread, args=(n,)) for n in range(count)]
    for started in threads:
        started.start()
    all_working.wait()
    during = descriptors_on(folder)
    all_working.wait()
    for ended in threads:
        ended.join()
    return during


def test_threads_that_end_give_their_connections_back(tmp_path: Path) -> None:
    documents = SqliteDocumentStore(tmp_path / "documents.sqlite")
    queue = SqliteWorkQueue(tmp_path / "queue.sqlite", ManualClock(START), {})
    items = documents.container(ITEMS)
    queue.send("work", {})  # this thread's connections, as a server's main thread has
    baseline = descriptors_on(tmp_path)

    def request(n: int) -> None:
        items.upsert({"id": f"i{n}", "projectId": "p"})
        queue.send("work", {"n": n})

    during = wave(tmp_path, THREADS, request)
    # Each thread had a connection to each store: database, log and shared-memory files.
    assert during >= baseline + THREADS * 2 * 2
    after = descriptors_on(tmp_path)
    # SQLite keeps a closed connection's database descriptor for the next one to reuse while
    # another connection of the process holds its WAL read lock (closing it would release
    # that lock: POSIX locks belong to the process): at most one per connection closed.
    assert after <= baseline + THREADS * 2 < during
    for _ in range(5):  # later waves of new threads reuse them: no growth
        wave(tmp_path, THREADS, request)
        assert descriptors_on(tmp_path) == after
    assert items.count("p", []) == THREADS  # what they wrote was committed before they went
    documents.close()
    queue.close()
    assert descriptors_on(tmp_path) == 0


def test_many_bursts_of_short_lived_threads_hold_nothing_new(tmp_path: Path) -> None:
    connections = Connections(tmp_path / "db.sqlite")
    connections.get().execute("CREATE TABLE t (n INTEGER)")

    def insert(n: int) -> None:
        connections.get().execute("INSERT INTO t VALUES (?)", (n,))

    wave(tmp_path, 10, insert)
    after_first = descriptors_on(tmp_path)
    for _ in range(30):
        wave(tmp_path, 10, insert)
    assert descriptors_on(tmp_path) == after_first
    assert connections.open_count == 1
    assert connections.get().execute("SELECT count(*) FROM t").fetchone()[0] == 310
    connections.close()
    assert descriptors_on(tmp_path) == 0


def test_a_thread_keeps_one_connection_while_it_lives(tmp_path: Path) -> None:
    connections = Connections(tmp_path / "db.sqlite")
    seen: list[object] = []
    go_on = threading.Event()

    def worker() -> None:
        seen.extend([connections.get(), connections.get()])
        go_on.wait(10)
        seen.append(connections.get())

    thread = threading.Thread(target=worker)
    thread.start()
    while len(seen) < 2:
        threading.Event().wait(0.01)
    assert connections.open_count == 2
    go_on.set()
    thread.join()
    assert seen[0] is seen[1] is seen[2]
    assert connections.open_count == 1
    connections.close()


def test_close_closes_the_connections_of_live_threads(tmp_path: Path) -> None:
    connections = Connections(tmp_path / "db.sqlite")
    opened = threading.Event()
    closed = threading.Event()
    errors: list[BaseException] = []

    def worker() -> None:
        connections.get().execute("SELECT 1")
        opened.set()
        closed.wait(10)
        try:
            connections.get()
        except RuntimeError as error:
            errors.append(error)

    thread = threading.Thread(target=worker)
    thread.start()
    opened.wait(10)
    connections.close()
    assert descriptors_on(tmp_path) == 0 and connections.open_count == 0
    closed.set()
    thread.join()
    assert errors and "closed" in str(errors[0])  # the store stays closed for every thread


def test_a_store_dropped_without_close_still_lets_go_of_its_files(tmp_path: Path) -> None:
    store = SqliteDocumentStore(tmp_path / "documents.sqlite")
    store.container(ITEMS).upsert({"id": "a", "projectId": "p"})
    assert descriptors_on(tmp_path) > 0
    del store
    gc.collect()
    assert descriptors_on(tmp_path) == 0


def test_the_queue_served_by_pools_that_come_and_go_holds_nothing(tmp_path: Path) -> None:
    queue = SqliteWorkQueue(
        tmp_path / "queue.sqlite", ManualClock(START), {"work": QueueSpec("work")}
    )
    counts = []
    for round_ in range(10):
        with ThreadPoolExecutor(8) as pool:  # a new pool each round: new threads, then gone
            list(pool.map(lambda n: queue.send("work", {"n": n}), range(32)))
            taken = list(pool.map(lambda _: queue.receive("work", max_messages=4), range(8)))
        assert sum(len(batch) for batch in taken) == 32, round_
        for batch in taken:
            for message in batch:
                queue.complete(message)
        counts.append(descriptors_on(tmp_path))
    # SQLite keeps a closed connection's descriptor for the next one while others stay open,
    # so the count may rise by one per connection open at once (a pool's 8 threads), but never
    # with each round (leaking connections added 8 a round).
    assert max(counts) - counts[0] <= 8, counts
    queue.close()
    assert descriptors_on(tmp_path) == 0
