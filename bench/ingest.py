"""Ingestion benchmark on the embedded default (SQLite documents and queue, folder blobs).

1. Registration: initialize a project over N small JPEGs (100k; --quick 5k) with the embedded
   runtime's stage worker processes (one per core, up to four; as in `loupe serve`, they leave
   thumbnails to the derivative workers, which part 2 measures); items/s beside a bare
   single-process loop of `PIL.Image.open(path).size` over the same files (the baseline the
   issue names, though registration itself no longer asks Pillow for plain JPEG and PNG
   headers), run before and after registration and averaged.
2. Derivatives: thumbnails (and display images where needed) for M 1-megapixel JPEGs in
   images/s on one worker, beside a bare Pillow loop on one core: open, draft mode, decode,
   resize to the thumbnail (the ratio is per-core efficiency).

Images are generated once and cached under .bench-cache/ingest/. The last line is one JSON
object with every figure. Goals: >= 5,000 items/s registration; derivatives >= 80 % of bare.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image

from core.adapters.clock import SystemClock
from core.adapters.local.blobs import FolderBlobStore
from core.adapters.local.documents import SqliteDocumentStore
from core.adapters.local.queue import SqliteWorkQueue
from core.bootstrap import build
from core.domain.datasets import DatasetRoot
from core.domain.messages import INGEST_BATCH, INGEST_DERIVATIVES, PROJECT_INIT
from core.domain.projects import ProjectSettings, ProjectStatus
from core.local.foreground import shared_stamp
from core.local.workers import WorkerProcesses
from core.media.images import THUMBNAIL_MAX
from core.ports import Deps
from core.services import projects, stages
from core.services.users import create_user
from core.settings import Settings
from core.store.collections import ITEMS

CACHE = Path(__file__).resolve().parent.parent / ".bench-cache" / "ingest"


def small_images(count: int) -> Path:
    folder = CACHE / "blobs" / "small" / f"n{count}"
    marker = folder / ".complete"
    if not marker.exists():
        folder.mkdir(parents=True, exist_ok=True)
        print(f"generating {count:,} small JPEGs once into {folder} ...", flush=True)
        base = Image.linear_gradient("L").resize((64, 48)).convert("RGB")
        for i in range(count):
            out = io.BytesIO()
            base.rotate(i % 360).save(out, "JPEG", quality=80)
            (folder / f"{i:06d}.jpg").write_bytes(out.getvalue())
        marker.write_text("ok")
    return folder


def megapixel_images(count: int) -> Path:
    folder = CACHE / "blobs" / "large" / f"n{count}"
    marker = folder / ".complete"
    if not marker.exists():
        folder.mkdir(parents=True, exist_ok=True)
        print(f"generating {count} 1-megapixel JPEGs once ...", flush=True)
        base = Image.radial_gradient("L").resize((1152, 864)).convert("RGB")
        noise = Image.effect_noise((1152, 864), 40).convert("RGB")
        for i in range(count):
            picture = Image.blend(base.rotate(i), noise, 0.3)
            picture.save(folder / f"{i:05d}.jpg", "JPEG", quality=90)
        marker.write_text("ok")
    return folder


def deps_for(work: Path) -> Deps:
    clock = SystemClock()
    return Deps(
        documents=SqliteDocumentStore(work / "documents.sqlite"),
        blobs=FolderBlobStore(CACHE / "blobs"),
        queue=SqliteWorkQueue(work / "queue.sqlite", clock, stages.QUEUE_SPECS),
        clock=clock,
        dataset_roots=(DatasetRoot("large"),),
    )


def drain(deps: Deps, queues: tuple[str, ...], workers: int) -> None:
    """What the embedded runtime's workers do, on `workers` threads."""

    def work() -> None:
        while True:
            messages = [m for q in queues for m in deps.queue.receive(q, max_messages=1)]
            if not messages:
                return
            for message in messages:
                stages.handle(deps, message.queue, message.body)
                deps.queue.complete(message)

    with ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(work) for _ in range(workers)]:
            future.result()


def registration(count: int, processes: int) -> dict[str, float]:
    """The embedded runtime's way: stage workers in `processes` processes of their own,
    started before the clock as on a running server; the clock stops when the project runs."""
    folder = small_images(count)
    files = sorted(p for p in folder.iterdir() if p.suffix == ".jpg")
    bare_probe_rate(files[:500])  # Pillow's plugins loaded
    for path in files:  # every file in the page cache, as registration finds them after it
        path.read_bytes()
    before, before_cpu = bare_probe_rate(files)

    with tempfile.TemporaryDirectory() as work:
        settings = Settings(
            data_dir=Path(work),
            webui_dir=None,
            workers=processes,
            dataset_roots=(DatasetRoot("small"),),
        )
        (Path(work) / "blobs").mkdir()
        (Path(work) / "blobs" / "small").symlink_to(CACHE / "blobs" / "small")
        deps = build(settings)
        # As `loupe serve` runs them: given the API's foreground note, stage workers leave
        # the renditions to the derivative workers (part 2 measures those).
        foreground = shared_stamp(multiprocessing.get_context("spawn"))
        pool = WorkerProcesses(settings, processes, foreground=foreground)
        pool.start()
        time.sleep(3)  # the workers import and open their stores
        project_settings = ProjectSettings.model_validate(
            {
                "name": "Bench",
                "taskType": "image_multiclass",
                "labelClasses": [{"name": "a"}],
                "dataset": {"source": "blob", "container": "small", "path": f"n{count}/**"},
            }
        )
        start, cpu = time.perf_counter(), cpu_seconds(pool.pids)
        create_user(deps, name="bench")  # the store's first user: its admin
        project = projects.create_project(deps, settings=project_settings, actor="bench").value
        while projects.get_project(deps, project_id=project.id).value.status is not (
            ProjectStatus.RUNNING
        ):
            time.sleep(0.02)
        elapsed, cpu = time.perf_counter() - start, cpu_seconds(pool.pids) - cpu
        pool.stop()
        registered = deps.documents.container(ITEMS).count(project.id)
        assert registered == count, registered
        deps.close()
    after, after_cpu = bare_probe_rate(files)
    bare, bare_cpu = (before + after) / 2, (before_cpu + after_cpu) / 2  # a busy machine drifts
    ours, ours_cpu = count / elapsed, count / cpu
    print(f"registration: {count:,} items in {elapsed:.2f} s = {ours:,.0f} items/s")
    print(f"  ({processes} worker processes; baseline, as the issue names it: Pillow's bare")
    print("  single-process `Image.open(path).size` loop over the same files, run before and")
    print(f"  after: {before:,.0f} and {after:,.0f} files/s; ratio {ours / bare:.2f})")
    print(f"  per CPU second (steadier on a busy machine): workers {ours_cpu:,.0f} items,")
    print(f"  bare loop {bare_cpu:,.0f} files; ratio {ours_cpu / bare_cpu:.2f}")
    return {
        "registration_items_per_s": round(ours, 1),
        "registration_processes": processes,
        "bare_open_size_per_s": round(bare, 1),
        "registration_ratio": round(ours / bare, 3),
        "registration_items_per_cpu_s": round(ours_cpu, 1),
        "bare_open_size_per_cpu_s": round(bare_cpu, 1),
        "registration_cpu_ratio": round(ours_cpu / bare_cpu, 3),
    }


def bare_probe_rate(files: list[Path]) -> tuple[float, float]:
    """Files per second and per CPU second of Pillow's header parse alone
    (`Image.open(path).size`), in this process."""
    start, cpu = time.perf_counter(), time.process_time()
    for path in files:
        Image.open(path).size  # noqa: B018  # the bare baseline
    return len(files) / (time.perf_counter() - start), len(files) / (time.process_time() - cpu)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of the processes `pids` so far (from /proc)."""
    total = 0
    for pid in pids:
        text = Path(f"/proc/{pid}/stat").read_text()
        fields = text[text.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def derivatives(count: int, workers: int) -> dict[str, float]:
    folder = megapixel_images(count)
    files = sorted(p for p in folder.iterdir() if p.suffix == ".jpg")
    start = time.perf_counter()
    for path in files:
        with Image.open(path) as image:
            image.draft("RGB", (THUMBNAIL_MAX * 2, THUMBNAIL_MAX * 2))
            image.thumbnail((THUMBNAIL_MAX, THUMBNAIL_MAX), Image.Resampling.BILINEAR)
    bare = len(files) / (time.perf_counter() - start)

    with tempfile.TemporaryDirectory() as work:
        deps = deps_for(Path(work))
        settings = ProjectSettings.model_validate(
            {
                "name": "Bench large",
                "taskType": "image_bounding_box",
                "labelClasses": [{"name": "a"}],
                "dataset": {"source": "blob", "container": "large", "path": f"n{count}/**"},
            }
        )
        create_user(deps, name="bench")
        project = projects.create_project(deps, settings=settings, actor="bench").value
        drain(deps, (PROJECT_INIT, INGEST_BATCH), 1)
        start = time.perf_counter()
        drain(deps, (INGEST_DERIVATIVES,), 1)
        elapsed = time.perf_counter() - start
        made = sum(1 for _ in (CACHE / "blobs" / "derivatives" / project.id).iterdir())
        assert made == count, made
        deps.close()
    ours = count / elapsed
    print(f"derivatives: {count} 1-MP JPEGs in {elapsed:.2f} s = {ours:,.1f} images/s")
    print(f"  bare Pillow draft + decode + resize: {bare:,.1f} images/s (ratio {ours / bare:.2f})")
    return {
        "derivatives_images_per_s": round(ours, 1),
        "bare_draft_resize_per_s": round(bare, 1),
        "derivatives_ratio": round(ours / bare, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="5k small, 100 large: < 1 minute")
    parser.add_argument(
        "--workers", type=int, default=Settings().workers, help="worker processes (registration)"
    )
    args = parser.parse_args()
    small, large = (5_000, 100) if args.quick else (100_000, 1_000)
    print(f"ingest benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, quick={args.quick}")
    figures = {"items": small, "megapixel_images": large}
    figures |= registration(small, args.workers)
    figures |= derivatives(large, args.workers)
    figures["goal_items_per_s"] = 5000
    figures["goal_registration_ratio"] = 0.8
    figures["goal_derivatives_ratio"] = 0.8
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
