"""The local document store against bare sqlite3, at 100k and 1M items in one project.

For each size it measures, on the store and on a bare sqlite3 table of the same shape (same
primary key, same expression index, same WAL settings) in the same run:
- upsert throughput (items/s, batches of 10,000),
- point read latency p50/p95 (random ids),
- p95 of fetching the first unlabeled item in queue order (the next-task query),
and prints them side by side, ending with one JSON line of every figure and ratio.

The queue-order fetch must stay index-driven: its p95 should be flat from 100k to 1M.

    python bench/store.py            # 100k and 1M (a few minutes, ~1.5 GB of temp disk)
    python bench/store.py --quick    # 10k and 50k, under a minute
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.adapters.local.documents import SqliteDocumentStore
from core.ports import Order, Query, Where
from core.store.collections import ITEMS

PROJECT = "bench-project"
BATCH = 10_000
READS = 2_000
FETCHES = 500
LABELED_SHARE = 0.5  # the lower half of the queue is labeled: the fetch must skip it by index


def items(count: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for n in range(count):
        rank = rng.random()
        yield {
            "id": f"item-{n:08d}",
            "projectId": PROJECT,
            "path": f"images/{n // 1000:04d}/{n:08d}.jpg",
            "kind": "image",
            "state": "labeled" if rank < LABELED_SHARE else "unlabeled",
            "rank": rank,
            "media": {"format": "jpeg", "bytes": 48213, "width": 640, "height": 480},
            "createdAt": "2026-11-01T09:00:00Z",
            "updatedAt": "2026-11-01T09:00:00Z",
        }


def batches(count: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for item in items(count):
        batch.append(item)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


class Bare:
    """The same table and indexes on plain sqlite3, written the obvious fast way: what the
    store costs on top of SQLite itself."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            "CREATE TABLE items (pk TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, "
            "etag TEXT NOT NULL, PRIMARY KEY (pk, id))"
        )
        for n, fields in enumerate(ITEMS.indexes):
            columns = ", ".join(f"json_extract(body, '$.{f}')" for f in fields)
            self.db.execute(f"CREATE INDEX items_{n} ON items (pk, {columns}, id)")

    def upsert_many(self, batch: list[dict[str, Any]]) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        self.db.executemany(
            "INSERT OR REPLACE INTO items (pk, id, body, etag) VALUES (?, ?, ?, ?)",
            [(d["projectId"], d["id"], json.dumps(d), str(n)) for n, d in enumerate(batch)],
        )
        self.db.execute("COMMIT")

    def read(self, id: str) -> dict[str, Any]:
        row = self.db.execute(
            "SELECT body, etag FROM items WHERE pk = ? AND id = ?", (PROJECT, id)
        ).fetchone()
        body: dict[str, Any] = json.loads(row[0])
        return body

    def first_unlabeled(self) -> dict[str, Any]:
        row = self.db.execute(
            "SELECT body, etag FROM items WHERE pk = ? AND json_extract(body, '$.state') = ? "
            "ORDER BY json_extract(body, '$.rank'), id LIMIT 1",
            (PROJECT, "unlabeled"),
        ).fetchone()
        body: dict[str, Any] = json.loads(row[0])
        return body

    def close(self) -> None:
        self.db.close()


def timed(action: Callable[[], object], times: int) -> list[float]:
    samples = []
    for _ in range(times):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def pct(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[int(q) - 1]


def measure(count: int, folder: Path) -> dict[str, float]:
    store = SqliteDocumentStore(folder / f"store-{count}.sqlite")
    container = store.container(ITEMS)
    bare = Bare(folder / f"bare-{count}.sqlite")
    figures: dict[str, float] = {}

    for name, write in (("store", container.upsert_many), ("bare", bare.upsert_many)):
        start = time.perf_counter()
        written = 0
        for batch in batches(count):
            write(batch)
            written += len(batch)
            print(f"\r  {name}: {written:>9,}/{count:,} written", end="", file=sys.stderr)
        figures[f"{name}_upsert_per_s"] = count / (time.perf_counter() - start)
        print(file=sys.stderr)

    rng = random.Random(7)
    ids = [f"item-{rng.randrange(count):08d}" for _ in range(READS)]
    reads = iter(ids * 2)
    store_reads = timed(lambda: container.read(PROJECT, next(reads)), READS)
    bare_reads = timed(lambda: bare.read(next(reads)), READS)
    next_task = Query(
        where=(Where("state", "=", "unlabeled"),), order_by=(Order("rank"),), page_size=1
    )
    store_fetch = timed(lambda: container.query(PROJECT, next_task), FETCHES)
    bare_fetch = timed(bare.first_unlabeled, FETCHES)
    first = container.query(PROJECT, next_task).documents[0].body
    assert first == bare.first_unlabeled(), "store and bare disagree on the next item"

    for name, samples in (
        ("store_read", store_reads),
        ("bare_read", bare_reads),
        ("store_next", store_fetch),
        ("bare_next", bare_fetch),
    ):
        figures[f"{name}_p50_ms"] = pct(samples, 50)
        figures[f"{name}_p95_ms"] = pct(samples, 95)
    store.close()
    bare.close()
    return figures


def size_label(count: int) -> str:
    return f"{count // 1_000_000}M" if count >= 1_000_000 else f"{count // 1000}k"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k and 50k items, under a minute")
    args = parser.parse_args()
    sizes = (10_000, 50_000) if args.quick else (100_000, 1_000_000)

    result: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="loupe-bench-") as tmp:
        for count in sizes:
            print(f"{count:,} items in one project", file=sys.stderr)
            figures = measure(count, Path(tmp))
            label = size_label(count)
            for key, value in figures.items():
                result[f"{label}_{key}"] = round(value, 4)
            result[f"{label}_upsert_ratio"] = round(
                figures["store_upsert_per_s"] / figures["bare_upsert_per_s"], 3
            )
            result[f"{label}_read_p95_ratio"] = round(
                figures["store_read_p95_ms"] / figures["bare_read_p95_ms"], 3
            )
            result[f"{label}_next_p95_ratio"] = round(
                figures["store_next_p95_ms"] / figures["bare_next_p95_ms"], 3
            )
            print(
                f"  upsert      store {figures['store_upsert_per_s']:>10,.0f}/s   "
                f"bare {figures['bare_upsert_per_s']:>10,.0f}/s\n"
                f"  point read  store p50 {figures['store_read_p50_ms']:.3f} ms "
                f"p95 {figures['store_read_p95_ms']:.3f} ms   "
                f"bare p50 {figures['bare_read_p50_ms']:.3f} ms "
                f"p95 {figures['bare_read_p95_ms']:.3f} ms\n"
                f"  next item   store p50 {figures['store_next_p50_ms']:.3f} ms "
                f"p95 {figures['store_next_p95_ms']:.3f} ms   "
                f"bare p50 {figures['bare_next_p50_ms']:.3f} ms "
                f"p95 {figures['bare_next_p95_ms']:.3f} ms",
            )
    small, large = (size_label(s) for s in sizes)
    result["next_p95_growth_small_to_large"] = round(
        result[f"{large}_store_next_p95_ms"] / result[f"{small}_store_next_p95_ms"], 3
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
