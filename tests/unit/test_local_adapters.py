"""What the local (SQLite, folder) adapters promise beyond the port contracts: index use, WAL,
atomic receives across threads and processes, signed URLs, data surviving a restart. Where the
in-memory adapters share a behaviour, they are checked beside them."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.adapters.clock import SystemClock
from core.adapters.local.blobs import FolderBlobStore
from core.adapters.local.documents import SqliteContainer, SqliteDocumentStore
from core.adapters.local.queue import SqliteWorkQueue
from core.adapters.local.sql import successor
from core.adapters.memory import ManualClock, MemoryDocumentStore, MemoryWorkQueue
from core.domain.errors import Conflict, InvalidInput
from core.ports import (
    ContainerSpec,
    DocumentStore,
    Order,
    Query,
    QueueSpec,
    Where,
    WorkQueue,
)

ITEMS = ContainerSpec("items", "projectId", indexes=(("state", "rank"),))
NEXT_UNLABELED = Query(
    where=(Where("state", "=", "unlabeled"),), order_by=(Order("rank"),), page_size=1
)
START = datetime(2026, 1, 1, tzinfo=UTC)
SPECS = {"work": QueueSpec("work", lock_seconds=30, max_delivery_count=2)}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def sqlite_items(tmp_path: Path) -> Iterator[SqliteContainer]:
    store = SqliteDocumentStore(tmp_path / "docs.sqlite")
    items = store.container(ITEMS)
    items.upsert_many(
        {"id": f"i{i:04d}", "projectId": f"p{i // 1000}", "rank": i % 50, "state": s}
        for i in range(2000)
        for s in ["unlabeled" if i % 3 else "labeled"]
    )
    yield items
    store.close()


@pytest.fixture(params=["memory", "local"])
def documents(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DocumentStore]:
    store: DocumentStore
    if request.param == "memory":
        store = MemoryDocumentStore()
    else:
        store = SqliteDocumentStore(tmp_path / "docs.sqlite")
    yield store
    store.close()


@pytest.fixture(params=["memory", "local"])
def queue(
    request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock
) -> Iterator[WorkQueue]:
    q: WorkQueue
    if request.param == "memory":
        q = MemoryWorkQueue(clock, SPECS)
    else:
        q = SqliteWorkQueue(tmp_path / "queue.sqlite", clock, SPECS)
    yield q
    q.close()


# -- documents ------------------------------------------------------------------------------------


def _uses_index_only(plan: list[str]) -> bool:
    return any("USING INDEX ix_items_" in step for step in plan) and not any(
        step.startswith("SCAN") or "TEMP B-TREE" in step for step in plan
    )


def test_next_task_query_reads_the_index_in_order(sqlite_items: SqliteContainer) -> None:
    explain = sqlite_items.explain
    first = sqlite_items.query("p1", NEXT_UNLABELED)

    assert _uses_index_only(explain("p1", NEXT_UNLABELED))
    assert _uses_index_only(explain("p1", NEXT_UNLABELED, first.continuation))
    # the keyset condition is an index range, not a filter over the rows before it
    assert ">?" in " ".join(explain("p1", NEXT_UNLABELED, first.continuation))
    assert first.documents[0].body["rank"] == 0


def test_descending_order_uses_the_index_too(sqlite_items: SqliteContainer) -> None:
    query = Query(where=NEXT_UNLABELED.where, order_by=(Order("rank", descending=True),))
    first = sqlite_items.query("p1", query)

    for plan in (
        sqlite_items.explain("p1", query),
        sqlite_items.explain("p1", query, first.continuation),
    ):
        # ids ascend within a rank, so SQLite sorts each run of equal ranks, nothing more
        assert any("USING INDEX ix_items_" in step for step in plan)
        assert not any(
            step.startswith("SCAN") or "TEMP B-TREE FOR ORDER BY" in step for step in plan
        )
    assert first.documents[0].body["rank"] == 49


def test_count_with_an_indexed_filter(sqlite_items: SqliteContainer) -> None:
    assert sqlite_items.count("p1", [Where("state", "=", "unlabeled")]) == 667


def test_files_are_in_wal_mode(tmp_path: Path, clock: ManualClock) -> None:
    SqliteDocumentStore(tmp_path / "d.sqlite").close()
    SqliteWorkQueue(tmp_path / "q.sqlite", clock, SPECS).close()

    for name in ("d.sqlite", "q.sqlite"):
        with sqlite3.connect(tmp_path / name) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_second_store_on_the_same_file_sees_committed_data(tmp_path: Path) -> None:
    first = SqliteDocumentStore(tmp_path / "d.sqlite")
    created = first.container(ITEMS).create({"id": "a", "projectId": "p", "v": 1})
    second = SqliteDocumentStore(tmp_path / "d.sqlite")

    items = second.container(ITEMS)
    assert items.read("p", "a").body["v"] == 1
    items.upsert({"id": "a", "projectId": "p", "v": 2}, if_match=created.etag)
    assert first.container(ITEMS).read("p", "a").body["v"] == 2
    first.close()
    second.close()


def test_writes_from_many_threads_all_land(tmp_path: Path) -> None:
    store = SqliteDocumentStore(tmp_path / "d.sqlite")
    items = store.container(ITEMS)

    def write(t: int) -> None:
        for i in range(50):
            items.create({"id": f"{t}-{i}", "projectId": "p", "state": "x"})

    threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert items.count("p") == 200
    store.close()


JSON_TYPES = [
    {"id": "str", "projectId": "p", "v": '{"a":1}'},
    {"id": "obj", "projectId": "p", "v": {"a": 1}},
    {"id": "arr", "projectId": "p", "v": ["a"]},
    {"id": "one", "projectId": "p", "v": 1},
    {"id": "true", "projectId": "p", "v": True},
    {"id": "zero", "projectId": "p", "v": 0},
    {"id": "false", "projectId": "p", "v": False},
    {"id": "null", "projectId": "p", "v": None},
    {"id": "text", "projectId": "p", "v": "abc"},
    {"id": "max", "projectId": "p", "v": "\U0010ffff\U0010ffffx"},
]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (Where("v", "=", '{"a":1}'), ["str"]),
        (Where("v", "=", 1), ["one"]),
        (Where("v", "=", True), ["true"]),
        (Where("v", "in", [0, False]), ["false", "zero"]),
        (Where("v", "in", ['["a"]', None]), ["null"]),
        (Where("v", ">", 0), ["one"]),
        (Where("v", ">=", False), ["false", "true"]),
        (Where("v", "<", "b"), ["text"]),
        (Where("v", ">", "a"), ["max", "str", "text"]),
        (Where("v", "<=", "{"), ["text"]),
        (Where("v", "!=", "abc"), ["max", "str"]),
        (Where("v", "!=", 1), ["zero"]),
        (Where("v", "startswith", ""), ["max", "str", "text"]),
        (Where("v", "startswith", "{"), ["str"]),
        (Where("v", "startswith", "\U0010ffff\U0010ffff"), ["max"]),
        (Where("v", "contains", "a"), ["arr"]),
        (Where("id", "in", ["one", 1]), ["one"]),
        (Where("id", "startswith", "t"), ["text", "true"]),
        (
            Where("projectId", "=", "p"),
            [d["id"] for d in sorted(JSON_TYPES, key=lambda d: d["id"])],
        ),
    ],
    ids=repr,
)
def test_values_of_different_json_types_never_compare(
    documents: DocumentStore, where: Where, expected: list[str]
) -> None:
    items = documents.container(ContainerSpec("things", "projectId", indexes=(("v",),)))
    items.upsert_many(JSON_TYPES)

    assert [d.id for d in items.query("p", Query(where=(where,))).documents] == expected
    assert items.count("p", [where]) == len(expected)


@pytest.mark.parametrize(
    "where",
    [
        Where("v", "!=", None),
        Where("v", "<", None),
        Where("v", "=", {"a": 1}),
        Where("v", "in", "x"),
    ],
    ids=repr,
)
def test_values_no_adapter_can_compare_are_refused(documents: DocumentStore, where: Where) -> None:
    items = documents.container(ITEMS)
    with pytest.raises(InvalidInput):
        items.query("p", Query(where=(where,)))


def test_a_foreign_continuation_token_is_refused(documents: DocumentStore) -> None:
    items = documents.container(ITEMS)
    items.upsert_many({"id": f"i{n}", "projectId": "p", "rank": n} for n in range(3))
    token = items.query("p", Query(order_by=(Order("rank"),), page_size=1)).continuation
    assert token is not None

    with pytest.raises(InvalidInput):
        items.query("p", Query(), "not-a-token")
    with pytest.raises(InvalidInput):
        items.query("p", Query(order_by=(Order("rank", descending=True),)), token)


def test_successor_bounds_every_string_with_the_prefix() -> None:
    assert successor("ab") == "ac"
    assert successor("a\U0010ffff") == "b"
    assert successor("\ud7ff") == "\ue000"
    assert successor("\U0010ffff") is None


# -- queue ----------------------------------------------------------------------------------------


def test_messages_are_delivered_in_send_order(queue: WorkQueue) -> None:
    for n in range(5):
        queue.send("work", {"n": n})

    assert [m.body["n"] for m in queue.receive("work", max_messages=5)] == [0, 1, 2, 3, 4]


def test_abandon_at_the_maximum_dead_letters_at_once(queue: WorkQueue, clock: ManualClock) -> None:
    queue.send("work", {"x": 1})
    clock.advance(31)
    queue.abandon(queue.receive("work")[0])

    queue.abandon(queue.receive("work")[0])

    assert queue.receive("work") == []
    assert [d.reason for d in queue.dead_letters("work")] == ["MaxDeliveryCountExceeded"]


def test_receive_waits_for_a_message_sent_meanwhile(queue: WorkQueue) -> None:
    threading.Timer(0.05, queue.send, args=("work", {"x": 1})).start()

    started = time.monotonic()
    received = queue.receive("work", wait_s=5)

    assert [m.body for m in received] == [{"x": 1}]
    assert time.monotonic() - started < 2


def test_receive_on_an_empty_queue_returns_after_the_wait(queue: WorkQueue) -> None:
    started = time.monotonic()

    assert queue.receive("work", wait_s=0.1) == []
    assert 0.1 <= time.monotonic() - started < 1


def test_naive_scheduled_time_is_refused(queue: WorkQueue) -> None:
    with pytest.raises(InvalidInput):
        queue.send("work", {"x": 1}, scheduled_at=datetime(2026, 1, 1))


def test_messages_survive_a_restart(tmp_path: Path, clock: ManualClock) -> None:
    SqliteWorkQueue(tmp_path / "q.sqlite", clock, SPECS).send("work", {"x": 1})

    again = SqliteWorkQueue(tmp_path / "q.sqlite", clock, SPECS)
    assert [m.body for m in again.receive("work")] == [{"x": 1}]
    again.close()


def test_threads_receiving_together_never_share_a_message(tmp_path: Path) -> None:
    queue = SqliteWorkQueue(tmp_path / "q.sqlite", SystemClock(), {})
    for n in range(200):
        queue.send("work", {"n": n})
    got: list[int] = []

    def drain() -> None:
        while received := queue.receive("work", max_messages=3):
            for message in received:
                got.append(message.body["n"])
                queue.complete(message)

    threads = [threading.Thread(target=drain) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(got) == list(range(200))
    queue.close()


def _drain_in_process(path: str, start: Any, results: Any) -> None:
    queue = SqliteWorkQueue(Path(path), SystemClock(), {})
    got = []
    start.wait()  # both processes begin together, so that they contend
    while received := queue.receive("work"):
        for message in received:
            got.append(message.body["n"])
            time.sleep(0.0005)  # some work, or one process may drain all before the other wakes
            queue.complete(message)
    queue.close()
    results.put(got)


def test_processes_receiving_together_never_share_a_message(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    queue = SqliteWorkQueue(path, SystemClock(), {})
    for n in range(400):
        queue.send("work", {"n": n})
    queue.close()  # no SQLite connection may cross a fork
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(2), context.Queue()

    workers = [
        context.Process(target=_drain_in_process, args=(str(path), start, results))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    got = [results.get(timeout=30) for _ in workers]
    for worker in workers:
        worker.join(timeout=10)

    assert sorted(got[0] + got[1]) == list(range(400))
    assert got[0] and got[1], "both processes should have taken messages"


# -- folder blobs ---------------------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> FolderBlobStore:
    return FolderBlobStore(tmp_path / "blobs")


def test_a_folder_has_no_links_of_its_own(folder: FolderBlobStore) -> None:
    folder.put("data", "a.png", b"x")
    assert folder.url("data", "a.png", expires_in_s=60) is None  # the API serves it


def test_own_files_never_show_in_listings(folder: FolderBlobStore, tmp_path: Path) -> None:
    folder.put("data", "a/x.bin", b"x", content_type="image/webp")
    (tmp_path / "blobs" / "data" / "a" / ".loupe-tmp-left-over").write_bytes(b"crash")

    assert [i.name for i in folder.list("data")] == ["a/x.bin"]
    assert folder.info("data", "a/x.bin").content_type == "image/webp"
    with pytest.raises(InvalidInput):
        folder.put("data", ".loupe-tmp-x", b"x")


def test_content_type_is_guessed_for_files_put_by_hand(
    folder: FolderBlobStore, tmp_path: Path
) -> None:
    (tmp_path / "blobs" / "data" / "in").mkdir(parents=True)
    (tmp_path / "blobs" / "data" / "in" / "cat.jpg").write_bytes(b"jpeg")

    (info,) = folder.list("data", "in/")
    assert (info.name, info.size, info.content_type) == ("in/cat.jpg", 4, "image/jpeg")


def test_a_name_cannot_be_both_a_blob_and_a_folder(folder: FolderBlobStore) -> None:
    folder.put("data", "a/b", b"x")

    with pytest.raises(Conflict):
        folder.put("data", "a", b"x")
    with pytest.raises(Conflict):
        folder.put("data", "a/b/c", b"x")


def test_delete_removes_emptied_folders(folder: FolderBlobStore, tmp_path: Path) -> None:
    folder.put("data", "a/b/c.txt", b"x", content_type="text/x-custom")

    folder.delete("data", "a/b/c.txt")

    assert not (tmp_path / "blobs" / "data" / "a").exists()
    folder.put("data", "a", b"now a blob")
    assert folder.get("data", "a") == b"now a blob"


def test_checkpoint_truncates_the_write_ahead_log(tmp_path: Path) -> None:
    from core.adapters.local.documents import SqliteDocumentStore
    from core.ports import ContainerSpec

    store = SqliteDocumentStore(tmp_path / "d.sqlite")
    docs = store.container(ContainerSpec("c", partition_key="pk"))
    docs.upsert_many({"id": str(n), "pk": "p", "text": "x" * 500} for n in range(2000))
    wal = tmp_path / "d.sqlite-wal"
    assert wal.stat().st_size > 0
    store.checkpoint()
    assert wal.stat().st_size == 0
    assert docs.count("p") == 2000
    store.close()
