"""Export at scale on the embedded default (SQLite documents, a folder of blobs): COCO and Azure
ML JSONL of projects with 3 boxes per item, each export run in a child process of its own so its
seconds and peak RSS are its own, beside a bare `json.dump` of the same COCO records built in
memory in the same run (what an exporter that builds the file in memory costs).

Goal: COCO at 500k items in ≤ 60 s and ≤ 500 MB RSS, and RSS flat in item count (streaming).

    python bench/export.py            # 100k and 500k items (a few minutes, ~2 GB temp disk)
    python bench/export.py --quick    # 10k and 50k, under a minute
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.adapters.clock import SystemClock
from core.adapters.local.blobs import FolderBlobStore
from core.adapters.local.documents import SqliteDocumentStore
from core.adapters.memory import MemoryWorkQueue
from core.domain.exports import ExportFormat
from core.domain.projects import ProjectSettings
from core.ports import Deps
from core.services import exports, projects
from core.services.exports import ExportOptions
from core.services.users import create_user
from core.store.collections import ITEMS, PROJECTS, load

CLASSES = ("car", "person", "bicycle", "dog", "cat")
BATCH = 10_000
STAMP = "2026-11-01T09:00:00.000000Z"
CASES = ("coco", "azureml_jsonl", "baseline")  # the baseline last


def deps_at(folder: Path) -> Deps:
    clock = SystemClock()
    return Deps(
        documents=SqliteDocumentStore(folder / "documents.sqlite"),
        blobs=FolderBlobStore(folder / "blobs"),
        queue=MemoryWorkQueue(clock, {}),
        clock=clock,
    )


def boxes(rng: random.Random) -> list[dict[str, Any]]:
    found = []
    for _ in range(3):
        x, y = rng.random() * 0.5, rng.random() * 0.5
        w, h = 0.05 + rng.random() * 0.4, 0.05 + rng.random() * 0.4
        found.append({"label": rng.choice(CLASSES), "x": x, "y": y, "w": w, "h": h})
    return found


def items(project_id: str, count: int) -> Iterator[dict[str, Any]]:
    """Stored item documents as labeling leaves them (derived fields included)."""
    rng = random.Random(7)
    for n in range(count):
        final = {"boxes": boxes(rng)}
        yield {
            "id": f"item-{n:08d}",
            "projectId": project_id,
            "path": f"images/{n // 1000:04d}/{n:08d}.jpg",
            "kind": "image",
            "state": "labeled",
            "rank": rng.random(),
            "media": {"format": "jpeg", "bytes": 48213, "width": 640, "height": 480},
            "annotations": [{"user": "lee", "at": STAMP, "value": final}],
            "final": final,
            "labels": sorted({b["label"] for b in final["boxes"]}),
            "labelers": ["lee"],
            "createdAt": STAMP,
            "updatedAt": STAMP,
        }


def populate(folder: Path, count: int) -> str:
    deps = deps_at(folder)
    settings = ProjectSettings.model_validate(
        {
            "name": f"Bench {count}",
            "taskType": "image_bounding_box",
            "labelClasses": [{"name": c} for c in CLASSES],
        }
    )
    create_user(deps, name="olive")  # the store's first user: its admin, who may create
    project = projects.create_project(deps, settings=settings, actor="olive").value
    container = deps.documents.container(ITEMS)
    batch: list[dict[str, Any]] = []
    for n, doc in enumerate(items(project.id, count), start=1):
        batch.append(doc)
        if len(batch) == BATCH:
            container.upsert_many(batch)
            batch = []
            print(f"\r  {n:>9,}/{count:,} items written", end="", file=sys.stderr)
    container.upsert_many(batch)
    print(file=sys.stderr)
    deps.close()
    return project.id


def child(case: str, folder: Path, project_id: str, count: int) -> dict[str, float]:
    """One export (or the baseline) in this process; its seconds, peak RSS and bytes."""
    deps = deps_at(folder)
    out = folder / f"out-{case}"
    sampler = AnonSampler()
    sampler.start()
    start = time.perf_counter()
    if case == "baseline":
        baseline(project_id, count, out)
    else:
        project = load(
            projects.Project, deps.documents.container(PROJECTS).read(project_id, project_id)
        )
        fmt = ExportFormat.AZUREML_JSONL if case == "azureml_jsonl" else ExportFormat.COCO
        made = exports.target(deps, project, fmt, ExportOptions(), "olive")
        with out.open("wb") as file:
            exports.write(deps, made, project, file)
    seconds = time.perf_counter() - start
    sampler.stop()
    return {
        "seconds": seconds,
        "rss_mb": peak_rss_mb(),
        "anon_mb": sampler.peak_mb,
        "mb": out.stat().st_size / 1e6,
    }


class AnonSampler(threading.Thread):
    """Peak anonymous RSS (heap: what the process itself holds), sampled every 10 ms. Total RSS
    also counts file pages SQLite reads through its memory map (up to 1 GiB), which the kernel
    drops under pressure and which grow with the database file, not with what an export holds."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_mb = 0.0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.01):
            self.sample()

    def sample(self) -> None:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                self.peak_mb = max(self.peak_mb, int(line.split()[1]) / 1024)

    def stop(self) -> None:
        self._done.set()
        self.join()
        self.sample()


def peak_rss_mb() -> float:
    """This process's own peak RSS. (getrusage's ru_maxrss would include the parent's: Linux
    keeps the high-water mark across fork and exec.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB, without /proc


def baseline(project_id: str, count: int, out: Path) -> None:
    """The same COCO records built whole in memory, then one json.dump."""
    category = {name: i for i, name in enumerate(CLASSES, start=1)}
    images, annotations = [], []
    for n, doc in enumerate(items(project_id, count), start=1):
        images.append({"id": n, "file_name": doc["path"], "width": 640, "height": 480})
        for box in doc["final"]["boxes"]:
            bbox = [box["x"] * 640, box["y"] * 480, box["w"] * 640, box["h"] * 480]
            annotations.append(
                {
                    "image_id": n,
                    "iscrowd": 0,
                    "category_id": category[box["label"]],
                    "bbox": bbox,
                    "area": bbox[2] * bbox[3],
                    "segmentation": [],
                    "id": len(annotations) + 1,
                }
            )
    categories = [{"id": i, "name": name} for name, i in category.items()]
    with out.open("w") as file:
        json.dump({"categories": categories, "images": images, "annotations": annotations}, file)


def run_child(case: str, folder: Path, project_id: str, count: int) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", case, str(folder), project_id, str(count)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k and 50k items")
    parser.add_argument("--child", nargs=4, metavar=("CASE", "FOLDER", "PROJECT", "COUNT"))
    args = parser.parse_args()
    if args.child:
        case, folder, project_id, count = args.child
        print(json.dumps(child(case, Path(folder), project_id, int(count))))
        return
    sizes = (10_000, 50_000) if args.quick else (100_000, 500_000)
    result: dict[str, float] = {}
    for count in sizes:
        label = f"{count // 1000}k"
        with tempfile.TemporaryDirectory(prefix="loupe-bench-export-") as tmp:
            folder = Path(tmp)
            print(f"{count:,} items, 3 boxes each", file=sys.stderr)
            project_id = populate(folder, count)
            for case in CASES:
                figures = run_child(case, folder, project_id, count)
                for name, value in figures.items():
                    result[f"{case}_{label}_{name}"] = round(value, 3)
                print(
                    f"  {case:<14} {figures['seconds']:7.1f} s  {figures['rss_mb']:7.0f} MB RSS"
                    f"  {figures['anon_mb']:7.0f} MB anonymous  {figures['mb']:7.0f} MB file",
                    file=sys.stderr,
                )
            for case in CASES[:-1]:
                for name in ("seconds", "rss_mb", "anon_mb"):
                    ratio = result[f"{case}_{label}_{name}"] / result[f"baseline_{label}_{name}"]
                    result[f"{case}_{label}_{name}_vs_baseline"] = round(ratio, 3)
    small, large = (f"{s // 1000}k" for s in sizes)
    for case in CASES:
        for name in ("rss_mb", "anon_mb"):
            growth = result[f"{case}_{large}_{name}"] / result[f"{case}_{small}_{name}"]
            result[f"{case}_{name}_growth_{small}_to_{large}"] = round(growth, 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
