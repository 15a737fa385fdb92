"""The longest single export-stage call of an export job, written in parts (the default: one
bounded slice of items per delivery, then a join) against the same job written in one call
(what the export stage did before: `export_part_items` larger than the project), on the embedded
default (SQLite documents, a folder of blobs). A Function's time limit bounds each call, so the
longest call, not the total, is what stops a large export; the total is printed beside it.

    python bench/export_parts.py            # 10k and 100k items: COCO, Loupe JSONL, and the
                                            # zips Azure ML (MLTable) and YOLO (labels only)
    python bench/export_parts.py --quick    # 10k items
"""

from __future__ import annotations

import argparse
import json
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
from core.ports import Deps
from core.services import exports, stages
from core.services.exports import EXPORTS_CONTAINER, ExportOptions
from core.services.stages import QUEUE_SPECS

FORMATS = (
    ExportFormat.COCO,
    ExportFormat.LOUPE_JSONL,
    ExportFormat.AZUREML_JSONL,
    ExportFormat.YOLO,
)


def deps_at(folder: Path) -> Deps:
    clock = SystemClock()
    return Deps(
        documents=SqliteDocumentStore(folder / "documents.sqlite"),
        blobs=FolderBlobStore(folder / "blobs"),
        queue=MemoryWorkQueue(clock, QUEUE_SPECS),
        clock=clock,
    )


def run(deps: Deps, project_id: str, fmt: ExportFormat, part_items: int) -> dict[str, float]:
    """One export job, its stage calls timed one by one."""
    deps.export_part_items = part_items
    job = exports.request_export(
        deps, project_id=project_id, actor="olive", format=fmt, options=ExportOptions()
    )
    calls: list[float] = []
    while messages := deps.queue.receive(EXPORT_RUN, max_messages=10):
        for message in messages:
            start = time.perf_counter()
            stages.handle(deps, EXPORT_RUN, message.body)
            calls.append(time.perf_counter() - start)
            deps.queue.complete(message)
    view = exports.get_export(deps, project_id=project_id, actor="olive", export_id=job.id)
    assert view.job.blob_name is not None
    size = deps.blobs.info(EXPORTS_CONTAINER, view.job.blob_name).size
    return {"calls": len(calls), "longest_s": max(calls), "total_s": sum(calls), "mb": size / 1e6}


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
            for fmt in FORMATS:
                one = run(deps, project_id, fmt, part_items=10**9)
                parted = run(deps, project_id, fmt, part_items=default)
                key = f"{fmt.value}_{count}"
                print(
                    f"{fmt.value:12} {count:>8,} items: one call {one['longest_s']:6.2f} s "
                    f"({one['mb']:.1f} MB) | in parts of {default:,}: longest call "
                    f"{parted['longest_s']:6.2f} s of {parted['calls']:.0f}, total "
                    f"{parted['total_s']:6.2f} s"
                )
                figures |= {
                    f"{key}_one_call_s": round(one["longest_s"], 3),
                    f"{key}_parts_longest_s": round(parted["longest_s"], 3),
                    f"{key}_parts_total_s": round(parted["total_s"], 3),
                    f"{key}_parts_calls": parted["calls"],
                    f"{key}_longest_ratio": round(parted["longest_s"] / one["longest_s"], 3),
                }
            deps.close()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
