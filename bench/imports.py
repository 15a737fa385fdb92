"""Label imports on the embedded default's store: items/s of a COCO file imported as final labels
(a classification project of 20k images, and a box project of 10k images with 1–3 boxes each),
from the file's bytes to every item written, all or nothing as always (the whole file checked,
then written in batches, each item only over the version it was read at).

In the same run, the floor: the same number of item documents, each read and written back
changed, by the store's own bulk calls (one query per 100 ids, one `upsert_many` per 100
items): what writing the labels costs with no parsing, checking, audit or counters. Runs
alternate the import and the floor; medians and spread of `--runs` (3) runs.

    python bench/imports.py            # 20k classes and 10k boxes, 3 runs
    python bench/imports.py --quick    # 4k and 2k, 2 runs
    python bench/imports.py --profile boxes    # one import under cProfile: where time goes
    python bench/imports.py --code /tmp/old    # the same with an older tree's core/
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import gc
import io
import json
import pstats
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
if "--code" in sys.argv:  # another tree's `core` (a folder holding it), for a before/after
    sys.path.insert(0, str(Path(sys.argv[sys.argv.index("--code") + 1]).resolve()))

from core.adapters.clock import SystemClock  # noqa: E402
from core.domain.annotations import SingleLabel  # noqa: E402
from core.domain.items import Item, MediaFacts  # noqa: E402
from core.domain.projects import Project  # noqa: E402
from core.ports import Deps, Query, Where  # noqa: E402
from core.services.imports import ImportFormat, ImportMode, import_labels  # noqa: E402
from core.store.collections import ITEMS, load  # noqa: E402
from tests.support.deps import local_deps  # noqa: E402
from tests.support.labeling import add_items, running_project  # noqa: E402

CLASSES = ("cat", "dog", "bird", "fish")
MEDIA = MediaFacts(format="jpeg", bytes=100_000, width=640, height=480)
LABEL_STUDIO_10K_BOXES_S = 7.1
"""Label Studio 1.23.2 bulk-loading 10k box labels on the same machine (issue 20)."""


def coco(count: int, boxes: bool, seed: int = 20) -> bytes:
    shuffle = random.Random(seed)
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for index in range(count):
        images.append(
            {"id": index + 1, "file_name": f"img/{index:06d}.jpg", "width": 640, "height": 480}
        )
        shapes = shuffle.randint(1, 3) if boxes else 1
        for _ in range(shapes):
            x, y = shuffle.uniform(0, 500), shuffle.uniform(0, 380)
            bbox = [round(x, 1), round(y, 1), 100.0, 80.0] if boxes else [0, 0, 640, 480]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": index + 1,
                    "category_id": shuffle.randint(1, len(CLASSES)),
                    "bbox": bbox,
                    "area": bbox[2] * bbox[3],
                    "iscrowd": 0,
                }
            )
    categories = [{"id": n + 1, "name": name} for n, name in enumerate(CLASSES)]
    document = {"images": images, "annotations": annotations, "categories": categories}
    return json.dumps(document).encode()


def fresh(folder: Path, count: int, boxes: bool) -> tuple[Deps, Project]:
    # A clock that moves, as a server's does: audit events are named by their time.
    deps = dataclasses.replace(local_deps(folder), clock=SystemClock())
    task_type = "image_bounding_box" if boxes else "image_multiclass"
    project = running_project(deps, task_type=task_type, classes=CLASSES)
    add_items(deps, project, count, media=MEDIA, prefix="img/")  # img/000000.jpg, …
    # As `loupe serve` does once started: what is loaded lives on, out of the cyclic
    # collector's full passes (without it they cost the import a tenth of its time).
    gc.freeze()
    return deps, project


def measure_import(
    count: int, boxes: bool, data: bytes, profile: bool = False
) -> tuple[float, float]:
    """Wall and CPU seconds of one import (CPU: this process's, which does all the work)."""
    with tempfile.TemporaryDirectory(prefix="loupe-bench-import-") as tmp:
        deps, project = fresh(Path(tmp), count, boxes)
        try:
            profiler = cProfile.Profile() if profile else None
            started, cpu = time.perf_counter(), time.process_time()
            if profiler:
                profiler.enable()
            report = import_labels(
                deps,
                project_id=project.id,
                actor="olive",
                format=ImportFormat.COCO,
                data=io.BytesIO(data),
                mode=ImportMode.FINAL,
            )
            if profiler:
                profiler.disable()
            took, cpu = time.perf_counter() - started, time.process_time() - cpu
            if report.updated != count:
                raise RuntimeError(f"imported {report.updated} of {count}: {report}")
            if profiler:
                stats = pstats.Stats(profiler).sort_stats("cumulative")
                stats.print_stats(45)
                stats.sort_stats("tottime").print_stats(25)
        finally:
            deps.close()
    return took, cpu


def measure_floor(count: int, boxes: bool) -> tuple[float, float]:
    """Read every item by id (100 a query) and write it back changed (100 a bulk write)."""
    with tempfile.TemporaryDirectory(prefix="loupe-bench-floor-") as tmp:
        deps, project = fresh(Path(tmp), count, boxes)
        try:
            items = deps.documents.container(ITEMS)
            ids = [d.id for d in _all(deps, project)]
            value = SingleLabel("cat")
            started, cpu = time.perf_counter(), time.process_time()
            for start in range(0, len(ids), 100):
                chunk = ids[start : start + 100]
                query = Query(where=(Where("id", "in", chunk),), page_size=100)
                found = items.query(project.id, query).documents
                changed = [
                    load(Item, d).model_copy(update={"final": value}).to_doc() for d in found
                ]
                items.upsert_many(changed)
            took, cpu = time.perf_counter() - started, time.process_time() - cpu
        finally:
            deps.close()
    return took, cpu


def measure_pair(
    count: int, boxes: bool, data: bytes
) -> tuple[tuple[float, float], tuple[float, float]]:
    """One import and one floor, back to back: (wall, CPU) seconds of each."""
    return measure_import(count, boxes, data), measure_floor(count, boxes)


def _all(deps: Deps, project: Project) -> list[Any]:
    from core.store.collections import scan

    return list(scan(deps.documents.container(ITEMS), project.id, Query(page_size=1000)))


def spread(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):,.0f} (min {min(values):,.0f}, max {max(values):,.0f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4k and 2k items, 2 runs")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument(
        "--code", type=Path, help="run an older tree's core/ (`git archive OLD core | tar -x`)"
    )
    parser.add_argument(
        "--profile", choices=("classes", "boxes"), help="one import under cProfile, then stop"
    )
    args = parser.parse_args()
    classes_n, boxes_n = (4_000, 2_000) if args.quick else (20_000, 10_000)
    runs = args.runs or (2 if args.quick else 3)
    if args.profile:
        count, boxes = (boxes_n, True) if args.profile == "boxes" else (classes_n, False)
        measure_import(count, boxes, coco(count, boxes), profile=True)
        return
    figures: dict[str, float] = {"runs": runs}
    for name, count, boxes in (("classes", classes_n, False), ("boxes", boxes_n, True)):
        data = coco(count, boxes)
        runs_import = [measure_pair(count, boxes, data) for _ in range(runs)]
        took = [wall for (wall, _), _ in runs_import]
        rates = [count / wall for (wall, _), _ in runs_import]
        floors = [count / wall for _, (wall, _) in runs_import]
        cpu_rates = [count / cpu for (_, cpu), _ in runs_import]
        cpu_floors = [count / cpu for _, (_, cpu) in runs_import]
        rate, bare = statistics.median(rates), statistics.median(floors)
        cpu_rate, cpu_bare = statistics.median(cpu_rates), statistics.median(cpu_floors)
        print(f"{count:,} images, COCO as final labels ({name}, {len(data) / 1e6:.1f} MB):")
        print(f"  import items/s: {spread(rates)}; {statistics.median(took):.2f} s")
        print(f"  floor (bulk read + write back) items/s: {spread(floors)}")
        print(f"  import / floor ×{rate / bare:.2f}; target 5,000 items/s: ×{rate / 5000:.2f}")
        print(f"  per CPU second (steadier on a busy machine): import {spread(cpu_rates)}")
        print(f"  floor {spread(cpu_floors)}; import / floor ×{cpu_rate / cpu_bare:.2f}")
        figures |= {
            f"import_{name}_items_s": round(rate),
            f"import_{name}_s": round(statistics.median(took), 2),
            f"floor_{name}_items_s": round(bare),
            f"import_{name}_vs_floor": round(rate / bare, 2),
            f"import_{name}_items_per_cpu_s": round(cpu_rate),
            f"floor_{name}_items_per_cpu_s": round(cpu_bare),
        }
        if boxes and count == 10_000:
            ratio = LABEL_STUDIO_10K_BOXES_S / statistics.median(took)
            print(f"  10k boxes: Label Studio {LABEL_STUDIO_10K_BOXES_S} s, ×{ratio:.2f} its speed")
            figures["label_studio_10k_boxes_s"] = LABEL_STUDIO_10K_BOXES_S
            figures["boxes_vs_label_studio"] = round(ratio, 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
