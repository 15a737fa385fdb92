"""The dashboard and the recount sweep on the local store, at 100k and 1M items in one project.

For each size, half the items labeled by 50 labelers (answers, agreement, a few skips), it
measures in the same run:
- the dashboard read (p50/p95 of 20): COUNT queries and the counter documents, no item read;
- one recount scan (every item read once: what the sweep costs when a project changed), and
  the rate it reads items at;
- the sweep's check of an idle project (nothing changed: no scan), p50 of 20;
and, as the baseline, what the dashboard would cost if it computed its figures from the items
on each refresh (one scan per refresh), with the ratio.

    python bench/recount.py            # 100k and 1M (several minutes, ~3 GB of temp disk)
    python bench/recount.py --quick    # 10k and 50k, under a minute
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.domain.annotations import SingleLabel  # noqa: E402
from core.domain.items import Annotation, Item, ItemState, Skip  # noqa: E402
from core.domain.progress import ActorStats, add, item_change  # noqa: E402
from core.domain.projects import Project, Role  # noqa: E402
from core.ports import Deps  # noqa: E402
from core.services import dashboard, recount  # noqa: E402
from core.store.collections import ITEMS, STATS  # noqa: E402
from tests.support.deps import local_deps  # noqa: E402
from tests.support.labeling import running_project  # noqa: E402

LABELERS = [f"labeler{n:02d}" for n in range(50)]
CLASSES = ("cat", "dog", "bird", "fox", "owl")
BATCH = 10_000
EVERY = timedelta(seconds=60)


def items(project: Project, count: int, now: Any) -> Iterator[tuple[Item, str | None]]:
    """Items as labeling leaves them, with who answered each (None: not labeled)."""
    rng = random.Random(count)
    for n in range(count):
        base = Item(
            id=f"item-{n:08d}",
            project_id=project.id,
            path=f"images/{n // 1000:04d}/{n:08d}.jpg",
            kind="image",
            rank=rng.random(),
            media={"format": "jpeg", "bytes": 48213, "width": 640, "height": 480},
            created_at=now,
            updated_at=now,
        )
        if n % 2:
            yield base, None
            continue
        who = rng.choice(LABELERS)
        if n % 40 == 0:
            skip = Skip(user=who, at=now, reason="blurry")
            yield base.model_copy(update={"state": ItemState.SKIPPED, "skips": [skip]}), who
            continue
        value = SingleLabel(rng.choice(CLASSES))
        answer = Annotation(user=who, at=now, value=value, agreed=True)
        labeled = base.model_copy(
            update={"state": ItemState.LABELED, "annotations": [answer], "final": value}
        )
        yield labeled, who


def seed(deps: Deps, count: int) -> Project:
    project = running_project(deps, classes=CLASSES, members=dict.fromkeys(LABELERS, Role.LABELER))
    stats = {who: ActorStats(id=who, project_id=project.id) for who in LABELERS}
    now = deps.clock.now()
    batch: list[dict[str, Any]] = []
    container = deps.documents.container(ITEMS)
    for item, who in items(project, count, now):
        batch.append(item.to_doc())
        if who is not None:
            delta = item_change(None, item)
            delta.submitted = int(bool(item.annotations))
            delta.skipped = int(bool(item.skips))
            stats[who] = add(stats[who], delta, now=now)
        if len(batch) == BATCH:
            container.upsert_many(batch)
            batch = []
    container.upsert_many(batch)
    deps.documents.container(STATS).upsert_many(s.to_doc() for s in stats.values())
    return project


def timed(run: Callable[[], object], times: int) -> list[float]:
    found = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        found.append(time.perf_counter() - started)
    return found


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(len(values) * 0.95) - 1)]


def measure(count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        deps = local_deps(Path(folder))
        try:
            project = seed(deps, count)
            board = timed(
                lambda: dashboard.dashboard(deps, project_id=project.id, actor="olive"), 20
            )
            deps.clock.advance(EVERY.total_seconds() + 1)  # type: ignore[attr-defined]
            started = time.perf_counter()
            corrected = recount.recount_project(deps, project_id=project.id, every=EVERY)
            scan = time.perf_counter() - started
            assert corrected == 0, "the seeded counters should match the items"

            def idle() -> None:
                deps.clock.advance(EVERY.total_seconds() + 1)  # type: ignore[attr-defined]
                recount.recount_project(deps, project_id=project.id, every=EVERY)

            idle_checks = timed(idle, 20)
        finally:
            deps.close()
    figures = {
        "dashboard_p50_ms": statistics.median(board) * 1000,
        "dashboard_p95_ms": p95(board) * 1000,
        "recount_scan_s": scan,
        "recount_items_per_s": count / scan,
        "recount_idle_check_p50_ms": statistics.median(idle_checks) * 1000,
        "baseline_scan_per_refresh_ms": scan * 1000,
    }
    figures["baseline_over_dashboard"] = (
        figures["baseline_scan_per_refresh_ms"] / figures["dashboard_p50_ms"]
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="10k and 50k items")
    sizes = (10_000, 50_000) if parser.parse_args().quick else (100_000, 1_000_000)
    results: dict[str, float] = {}
    for count in sizes:
        figures = measure(count)
        print(f"{count:>9,} items:")
        for name, value in figures.items():
            print(f"  {name:<32} {value:,.2f}")
            results[f"{name}@{count}"] = round(value, 3)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
