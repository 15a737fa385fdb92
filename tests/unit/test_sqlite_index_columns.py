"""The SQLite document store keeps each indexed field in a column it fills at write time, and
opens files written with the older expression indexes: it adds the columns, fills them once,
and answers queries as before."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from core.adapters.local.documents import SqliteContainer, SqliteDocumentStore
from core.adapters.local.sql import column_name, count_sql, index_name
from core.adapters.memory import MemoryDocumentStore
from core.domain.items import ItemState
from core.ports import Order, Query, Where
from core.store.collections import ITEMS, scan
from core.store.repositories.items import ItemFilter, Items

LANE = ("lane", "rank")
LANE_QUERY = Query(where=(Where("lane", "=", "open"),), order_by=(Order("rank"),), page_size=7)
QUERIES = [
    LANE_QUERY,
    Query(where=(Where("state", "=", "unlabeled"),), order_by=(Order("rank"),), page_size=5),
    Query(where=(Where("lease.until", "<", 30),), page_size=4),
    Query(where=(Where("assignee", "missing"),), order_by=(Order("rank"),), page_size=9),
    Query(where=(Where("state", "=", "labeled"),), order_by=(Order("updatedAt", True),)),
    Query(where=(Where("path", "startswith", "a/1"),), order_by=(Order("path"),), page_size=3),
]


def body(n: int) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": f"i{n:03d}",
        "projectId": "p",
        "path": f"a/{n}.jpg",
        "state": "labeled" if n % 3 == 0 else "unlabeled",
        "rank": n % 17 + (0.5 if n % 5 == 0 else 0),
        "updatedAt": f"2026-01-{n % 28 + 1:02d}",
        "createdAt": "2026-01-01",
    }
    if n % 3:  # waiting for a labeler (a labeled item has no lane)
        doc["lane"] = "open" if n % 2 else "partial"
    if n % 4 == 0:
        doc["lease"] = {"until": n % 60}
    if n % 7 == 0:
        doc["assignee"] = True if n % 2 else f"u{n % 3}"
    return doc


def old_file(path: Path, bodies: list[dict[str, Any]]) -> None:
    """A file as the store wrote it before: expression indexes over the JSON bodies."""
    with sqlite3.connect(path) as conn:
        conn.execute(
            'CREATE TABLE "items" (pk TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL,'
            " etag TEXT NOT NULL, PRIMARY KEY (pk, id))"
        )
        for fields in ITEMS.indexes:
            digest = hashlib.sha256("\0".join(fields).encode()).hexdigest()[:12]
            columns = ", ".join(f"json_extract(body, '$.{f}')" for f in fields)
            conn.execute(f'CREATE INDEX "ix_items_{digest}" ON "items" (pk, {columns}, id)')
        conn.executemany(
            'INSERT INTO "items" VALUES (?, ?, ?, ?)',
            [(b["projectId"], b["id"], json.dumps(b), f"e{b['id']}") for b in bodies],
        )


def ids(container: Any, query: Query) -> list[str]:
    return [d.body["id"] for d in scan(container, "p", query)]


def test_an_old_file_opens_answers_the_same_and_takes_new_writes(tmp_path: Path) -> None:
    bodies = [body(n) for n in range(120)]
    old_file(tmp_path / "docs.sqlite", bodies)
    memory = MemoryDocumentStore().container(ITEMS)
    memory.upsert_many(bodies)

    store = SqliteDocumentStore(tmp_path / "docs.sqlite")
    items = store.container(ITEMS)
    for query in QUERIES:
        assert ids(items, query) == ids(memory, query), query

    changed = [{**body(n), "lane": "open", "rank": -n} for n in range(120, 130)]
    items.upsert_many(changed)
    memory.upsert_many(changed)
    first = items.read("p", "i000")
    items.upsert({**first.body, "lane": "open", "rank": -1000}, if_match=first.etag)
    memory.upsert({**first.body, "lane": "open", "rank": -1000})
    for query in QUERIES:
        assert ids(items, query) == ids(memory, query), query
    assert ids(items, LANE_QUERY)[0] == "i000"
    store.close()

    with sqlite3.connect(tmp_path / "docs.sqlite") as conn:
        indexes = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'index'").fetchall()
    assert not any("json_extract" in (sql or "") for (sql,) in indexes)
    # opened again: nothing left to add, the same answers
    store = SqliteDocumentStore(tmp_path / "docs.sqlite")
    for query in QUERIES:
        assert ids(store.container(ITEMS), query) == ids(memory, query), query
    store.close()


def test_the_lane_query_reads_the_column_index_in_order(tmp_path: Path) -> None:
    store = SqliteDocumentStore(tmp_path / "docs.sqlite")
    items = store.container(ITEMS)
    items.upsert_many(body(n) for n in range(300))
    first = items.query("p", LANE_QUERY)
    for plan in (
        items.explain("p", LANE_QUERY),
        items.explain("p", LANE_QUERY, first.continuation),
    ):
        text = " ".join(plan)
        assert "USING INDEX ix_items_" in text, plan
        assert "(pk=? AND $.lane=?" in text, plan
        assert not any(s.startswith("SCAN") or "TEMP B-TREE" in s for s in plan), plan
    store.close()


def test_an_insert_does_not_parse_the_body_per_index(tmp_path: Path) -> None:
    store = SqliteDocumentStore(tmp_path / "docs.sqlite")
    store.container(ITEMS)
    with sqlite3.connect(tmp_path / "docs.sqlite") as conn:
        indexes = conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'items'"
        ).fetchall()
    made = [sql for (sql,) in indexes if sql]
    assert len(made) == len(ITEMS.indexes)
    assert not any("body" in sql for sql in made)
    store.close()


def test_sparse_fields_are_indexed_only_where_present_and_their_queries_use_it(
    tmp_path: Path,
) -> None:
    store = SqliteDocumentStore(tmp_path / "docs.sqlite")
    items = store.container(ITEMS)
    items.upsert_many(body(n) for n in range(300))
    expired = Query(where=(Where("lease.until", "<", 30),), order_by=(Order("lease.until"),))
    reserved = Query(where=(Where("assignee", "=", "u1"),), order_by=(Order("rank"),))
    waiting = (expired, ("lease.until",)), (reserved, ("assignee", "rank")), (LANE_QUERY, LANE)
    for query, fields in waiting:
        plan = items.explain("p", query)
        assert f"USING INDEX {index_name(ITEMS, fields)} " in " ".join(plan), plan
        assert not any("TEMP B-TREE" in step for step in plan), plan
    with sqlite3.connect(tmp_path / "docs.sqlite") as conn:
        conn.execute("ANALYZE")  # sqlite_stat1: an index's entries lead its stat
        entries = dict(conn.execute("SELECT idx, CAST(stat AS INTEGER) FROM sqlite_stat1"))
        for fields in (("lease.until",), ("assignee", "rank"), LANE):
            (having,) = conn.execute(
                f"SELECT COUNT(*) FROM items WHERE {column_name(fields[0])} IS NOT NULL"
            ).fetchone()
            assert entries[index_name(ITEMS, fields)] == having < 300
        assert entries[index_name(ITEMS, ("createdAt",))] == 300
    store.close()


def test_a_file_with_full_indexes_on_sparse_fields_opens_with_partial_ones(tmp_path: Path) -> None:
    bodies = [body(n) for n in range(120)]
    memory = MemoryDocumentStore().container(ITEMS)
    memory.upsert_many(bodies)
    before = SqliteDocumentStore(tmp_path / "docs.sqlite")
    before.container(replace(ITEMS, sparse=())).upsert_many(bodies)
    before.close()

    store = SqliteDocumentStore(tmp_path / "docs.sqlite")
    items = store.container(ITEMS)
    for query in QUERIES:
        assert ids(items, query) == ids(memory, query), query
    store.close()
    with sqlite3.connect(tmp_path / "docs.sqlite") as conn:
        made = {
            name: sql
            for name, sql in conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            )
        }
    assert set(made) == {index_name(ITEMS, fields) for fields in ITEMS.indexes}
    partial = {name for name, sql in made.items() if "IS NOT NULL" in sql}
    sparse = {index_name(ITEMS, f) for f in (("lease.until",), ("assignee", "rank"), LANE)}
    assert partial == sparse


def test_each_item_query_of_the_repository_reads_its_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Indexes go only where queries need them: each query the Items repository makes with a
    condition reads the index made for it (dropping one, or making it partial, must not leave
    a query to the partition's whole index)."""
    store = SqliteDocumentStore(tmp_path / "docs.sqlite")
    store.container(ITEMS).upsert_many(body(n) for n in range(300))
    plans: list[str] = []
    query, count = SqliteContainer.query, SqliteContainer.count

    def explained_query(self: SqliteContainer, pk: Any, q: Query, more: Any = None) -> Any:
        plans.append(" | ".join(self.explain(pk, q, more)))
        return query(self, pk, q, more)

    def explained_count(self: SqliteContainer, pk: Any, where: Any = ()) -> int:
        text, params = count_sql(self.spec, pk, where)
        found = self._db.get().execute(f"EXPLAIN QUERY PLAN {text}", params).fetchall()
        plans.append(" | ".join(str(row[-1]) for row in found))
        return count(self, pk, where)

    monkeypatch.setattr(SqliteContainer, "query", explained_query)
    monkeypatch.setattr(SqliteContainer, "count", explained_count)
    items = Items(SimpleNamespace(documents=store), "p")  # type: ignore[arg-type]
    now = datetime(2026, 1, 1, tzinfo=UTC)
    lane, by_state = ("lane", "rank"), ("state", "updatedAt")
    calls: list[tuple[Callable[[], object], tuple[str, ...]]] = [
        (lambda: items.leased_to("u1", 5), lane),
        (lambda: next(items.assigned_to("u1", 5, 1)), lane),
        (lambda: next(items.in_public_lanes(5, 1)), lane),
        (lambda: items.leases_expired(now), ("lease.until",)),
        (lambda: list(items.reserved_for("u1")), ("assignee", "rank")),
        (lambda: list(items.under_path("a/1")), ("path",)),
        (lambda: items.newest_created(), ("createdAt",)),
        (lambda: items.count_in_state(ItemState.LABELED), by_state),
        (lambda: items.count_in_lane("open", prefix=True, audit=True), lane),
        (lambda: items.changed_since(now), ("updatedAt",)),
        (lambda: items.newest(ItemFilter(state=ItemState.LABELED), page_size=5), by_state),
    ]
    for call, fields in calls:
        plans.clear()
        call()
        assert plans, fields
        assert all(f"INDEX {index_name(ITEMS, fields)} " in plan for plan in plans), plans
    store.close()
