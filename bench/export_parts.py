"""The longest single export-stage call of an export job, written in parts (the default: one
bounded slice of items per delivery, then a join) against the same job written in one call
(`export_part_items` larger than the project), on the embedded default (SQLite documents, a
folder of blobs). A Function's time limit bounds each call, so the longest call, not the total,
is what stops a large export; the total is printed beside it.

VOC and exports with a split (COCO and Loupe JSONL at a 0.2 validation fraction) are planned
first (slices of a part's items, each reading ids, paths and labels; the last puts the
slices together); beside them, `before` is what the export stage did in one call until they
were written in parts: the whole file, and for a split a second pass over the items to record
it. The plan's last call is the one that grows with the project: its putting together is timed
alone over 1M items (200k with --quick) of synthetic slices.

    python bench/export_parts.py            # 10k and 100k items: COCO, Loupe JSONL, the zips
                                            # Azure ML (MLTable), YOLO and VOC (labels only),
                                            # and COCO and Loupe JSONL with a split
    python bench/export_parts.py --quick    # 10k items
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from export import populate  # bench/export.py: the same 3-box items

from core.adapters.clock import SystemClock
from core.adapters.local.blobs import FolderBlobStore
from core.adapters.local.documents import SqliteDocumentStore
from core.adapters.memory import MemoryWorkQueue
from core.domain.exports import PART_ITEMS, ExportFormat
from core.domain.messages import EXPORT_RUN
from core.domain.projects import Project
from core.export import bundle
from core.export.plan import combine, slice_of
from core.export.records import TRAIN, VALIDATION, Options, Record
from core.ports import Deps
from core.services import exports, stages
from core.services.exports import EXPORTS_CONTAINER, ExportOptions, ExportView
from core.services.stages import QUEUE_SPECS
from core.store.collections import PROJECTS, load

SPLIT = ExportOptions(validation=0.2, seed=1)
CASES: tuple[tuple[str, ExportFormat, ExportOptions], ...] = (
    ("coco", ExportFormat.COCO, ExportOptions()),
    ("loupe_jsonl", ExportFormat.LOUPE_JSONL, ExportOptions()),
    ("azureml_jsonl", ExportFormat.AZUREML_JSONL, ExportOptions()),
    ("yolo", ExportFormat.YOLO, ExportOptions()),
    ("voc", ExportFormat.VOC, ExportOptions()),
    ("coco_split", ExportFormat.COCO, SPLIT),
    ("loupe_jsonl_split", ExportFormat.LOUPE_JSONL, SPLIT),
)
PLANNED = {"voc", "coco_split", "loupe_jsonl_split"}


def deps_at(folder: Path) -> Deps:
    clock = SystemClock()
    return Deps(
        documents=SqliteDocumentStore(folder / "documents.sqlite"),
        blobs=FolderBlobStore(folder / "blobs"),
        queue=MemoryWorkQueue(clock, QUEUE_SPECS),
        clock=clock,
    )


def run(
    deps: Deps, project_id: str, fmt: ExportFormat, options: ExportOptions, part_items: int
) -> dict[str, float]:
    """One export job, its stage calls timed one by one (the first is the plan, where any)."""
    deps.export_part_items = part_items
    view, calls = export_job(deps, project_id, fmt, options)
    assert view.job.blob_name is not None
    size = deps.blobs.info(EXPORTS_CONTAINER, view.job.blob_name).size
    return {
        "calls": len(calls),
        "longest_s": max(calls),
        "total_s": sum(calls),
        "first_s": calls[0],
        "join_s": calls[-1],
        "mb": size / 1e6,
    }


def export_job(
    deps: Deps, project_id: str, fmt: ExportFormat, options: ExportOptions
) -> tuple[ExportView, list[float]]:
    """An export job run through the export stage, each call timed."""
    job = exports.request_export(
        deps, project_id=project_id, actor="olive", format=fmt, options=options
    )
    calls: list[float] = []
    while messages := deps.queue.receive(EXPORT_RUN, max_messages=10):
        for message in messages:
            start = time.perf_counter()
            stages.handle(deps, EXPORT_RUN, message.body)
            calls.append(time.perf_counter() - start)
            deps.queue.complete(message)
    return exports.get_export(deps, project_id=project_id, actor="olive", export_id=job.id), calls


def before(deps: Deps, project_id: str, fmt: ExportFormat, options: ExportOptions) -> float:
    """Seconds of the one call the export stage made of a VOC or split export before they were
    written in parts: the whole file written and stored, then a split's record (a second
    pass over the items)."""
    start = time.perf_counter()
    project = load(Project, deps.documents.container(PROJECTS).read(project_id, project_id))
    made = exports.target(deps, project, fmt, options, "olive")
    with tempfile.TemporaryFile() as file:
        exports.write(deps, made, project, file)
        file.seek(0)
        deps.blobs.put(EXPORTS_CONTAINER, "before/file", file)
    if options.validation > 0:
        sides: dict[str, list[str]] = {TRAIN: [], VALIDATION: []}
        scan = bundle.split_scan(
            made.options, lambda: exports.records(deps, project_id, made.options)
        )
        for rec in scan():
            sides[rec.split].append(rec.id)
        deps.blobs.put(EXPORTS_CONTAINER, "before/split.json", json.dumps(sides).encode())
    return time.perf_counter() - start


def combine_seconds(count: int) -> float:
    """Seconds `plan.combine` takes over `count` items' slices (VOC ids and a 0.2 split of two
    labels of 20 each), the slices made beforehand."""
    rng = random.Random(1)
    classes = [f"class {n}" for n in range(20)]
    options = Options(validation=0.2, seed=1)
    size = PART_ITEMS
    slices = []
    for start in range(0, count, size):
        recs = [
            Record(f"{n:032x}", f"f{n % 7}/{n}.jpg", "labeled", {"labels": rng.sample(classes, 2)})
            for n in range(start, min(start + size, count))
        ]
        slices.append(slice_of(ExportFormat.VOC, options, recs))
    start_s = time.perf_counter()
    combine(ExportFormat.VOC, options, slices)
    return time.perf_counter() - start_s


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    counts = (10_000,) if args.quick else (10_000, 100_000)
    default = PART_ITEMS
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for count in counts:
            folder = Path(tmp) / str(count)
            folder.mkdir()
            project_id = populate(folder, count)
            deps = deps_at(folder)
            for key_name, fmt, options in CASES:
                one = run(deps, project_id, fmt, options, part_items=10**9)
                parted = run(deps, project_id, fmt, options, part_items=default)
                key = f"{key_name}_{count}"
                print(
                    f"{key_name:17} {count:>8,} items: one part {one['longest_s']:6.2f} s "
                    f"({one['mb']:.1f} MB) | in parts of {default:,}: longest call "
                    f"{parted['longest_s']:6.2f} s of {parted['calls']:.0f}, total "
                    f"{parted['total_s']:6.2f} s, the join {parted['join_s']:5.2f} s"
                )
                figures |= {
                    f"{key}_one_call_s": round(one["longest_s"], 3),
                    f"{key}_parts_longest_s": round(parted["longest_s"], 3),
                    f"{key}_parts_total_s": round(parted["total_s"], 3),
                    f"{key}_parts_calls": parted["calls"],
                    f"{key}_join_s": round(parted["join_s"], 3),
                    f"{key}_longest_ratio": round(parted["longest_s"] / one["longest_s"], 3),
                }
                if key_name in PLANNED:
                    was = before(deps, project_id, fmt, options)
                    print(
                        f"{'':17} {'':>8}        before: the whole file in one call "
                        f"{was:6.2f} s | the plan's call {parted['first_s']:6.2f} s"
                    )
                    figures |= {
                        f"{key}_before_one_call_s": round(was, 3),
                        f"{key}_plan_s": round(parted["first_s"], 3),
                        f"{key}_before_ratio": round(parted["longest_s"] / was, 3),
                    }
            deps.close()
    synthetic = 200_000 if args.quick else 1_000_000
    seconds = combine_seconds(synthetic)
    print(f"the plan's slices put together, {synthetic:,} items: {seconds:.2f} s")
    figures[f"plan_combine_{synthetic}_s"] = round(seconds, 3)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
