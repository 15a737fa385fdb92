"""A unit of the SQLite store: one transaction for all a thread does inside it, all written or
none; taken without waiting, it says at once that another writer holds the store."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from core.adapters.local.documents import SqliteDocumentStore
from core.domain.errors import PreconditionFailed
from core.ports import ContainerSpec, StoreBusy

NOTES = ContainerSpec("notes", partition_key="pk")


def note(n: int, text: str = "first") -> dict[str, object]:
    return {"id": f"n{n}", "pk": "p", "text": text}


def stored(store: SqliteDocumentStore) -> dict[str, object]:
    notes = store.container(NOTES)
    return {n: d.body["text"] for n in ("n1", "n2", "n3") if (d := notes.get("p", n))}


def test_a_unit_writes_everything_or_nothing(tmp_path: Path) -> None:
    store = SqliteDocumentStore(tmp_path / "docs.sqlite")
    notes = store.container(NOTES)
    first = notes.create(note(1))

    def three_writes_then_a_failure() -> None:
        with store.unit():
            notes.create(note(2))
            notes.upsert(note(1, "changed"), if_match=first.etag)
            notes.upsert_many([note(3)])
            raise RuntimeError("failed after three writes")

    with pytest.raises(RuntimeError, match="after three writes"):
        three_writes_then_a_failure()
    assert stored(store) == {"n1": "first"}

    with store.unit():
        notes.create(note(2))
        notes.upsert(note(1, "changed"), if_match=first.etag)
    assert stored(store) == {"n1": "changed", "n2": "first"}
    store.close()


def test_a_failed_write_inside_a_unit_is_undone_alone(tmp_path: Path) -> None:
    store = SqliteDocumentStore(tmp_path / "docs.sqlite")
    notes = store.container(NOTES)
    notes.create(note(1))
    with store.unit():
        notes.create(note(2))
        with pytest.raises(PreconditionFailed):  # a stale version: that write only
            notes.upsert(note(1, "stale"), if_match="an-old-etag")
        notes.create(note(3))
    assert stored(store) == {"n1": "first", "n2": "first", "n3": "first"}
    store.close()


def test_without_waiting_a_held_store_is_busy_at_once_and_nothing_is_done(
    tmp_path: Path,
) -> None:
    store = SqliteDocumentStore(tmp_path / "docs.sqlite")
    notes = store.container(NOTES)
    other = sqlite3.connect(tmp_path / "docs.sqlite", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    ran = []
    started = time.monotonic()
    with pytest.raises(StoreBusy), store.unit(wait=False):
        ran.append(True)
    assert time.monotonic() - started < 1 and not ran

    # The same thread's writes wait for the lock again, as before (up to the busy timeout).
    threading.Timer(0.3, other.execute, ("COMMIT",)).start()
    started = time.monotonic()
    notes.create(note(1))
    assert time.monotonic() - started >= 0.2
    assert stored(store) == {"n1": "first"}
    other.close()
    store.close()


def test_a_container_first_made_in_a_unit_that_fails_is_made_again(tmp_path: Path) -> None:
    store = SqliteDocumentStore(tmp_path / "docs.sqlite")

    def first_use_then_a_failure() -> None:
        with store.unit():
            store.container(NOTES).create(note(1))
            raise RuntimeError("failed after making the table")

    with pytest.raises(RuntimeError, match="making the table"):
        first_use_then_a_failure()
    store.container(NOTES).create(note(2))  # the table the unit made went with it
    assert stored(store) == {"n2": "first"}
    store.close()


def test_a_unit_asking_for_a_container_does_not_wait_on_one_being_made(tmp_path: Path) -> None:
    """One thread holds the store in a unit and asks for a container; another is making a
    container, waiting for the store. Neither may wait on the other (a deadlock until the
    busy timeout)."""
    store = SqliteDocumentStore(tmp_path / "docs.sqlite")
    store.container(NOTES)
    holding, done = threading.Event(), []

    def in_a_unit() -> None:
        with store.unit():
            store.container(NOTES).create(note(1))
            holding.set()
            time.sleep(0.3)  # meanwhile the other thread starts making its container
            store.container(ContainerSpec("later", partition_key="pk")).create(note(2))
        done.append("unit")

    def making() -> None:
        holding.wait(5)
        store.container(ContainerSpec("other", partition_key="pk")).create(note(3))
        done.append("made")

    threads = [threading.Thread(target=in_a_unit), threading.Thread(target=making)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(done) == ["made", "unit"] and time.monotonic() - started < 5
    assert store.container(ContainerSpec("later", partition_key="pk")).get("p", "n2")
    store.close()
