"""Idle cost of `loupe serve` with many files in its projects' folders.

N tiny files (1,000,000; --quick 50,000), zero-byte `.png`s in folders of 1,000, are laid in
three blob projects' folders (`lake/p0..p2/**`, an item cap of 100 each, so registration does
not dominate), and a fourth project (`lake/live/**`) takes real images. `loupe serve` starts as
a subprocess on 127.0.0.1; once it has settled (a 5 s window under 2 % of a core, after its
first sweep), the CPU time of its whole process tree (API, stage workers, assist worker: utime
+ stime from /proc) is read over --seconds (40). Then one image dropped into the live folder
is timed until it is an item (the folder watcher's latency), and the server is stopped by PID.

The baseline, in the same run and over the same seconds: the sweep this replaced, a full
listing of every live project's whole prefix every 2 s with the old per-blob filter (watermark,
seen-set, dataset match), in a process of its own.

The last line is one JSON object with every figure. Goal: under 1 % of a core at 1M files.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image

from core.bootstrap import build
from core.domain.datasets import DatasetRoot, DataSource
from core.domain.messages import INGEST_BATCH, PROJECT_INIT
from core.domain.projects import ProjectSettings
from core.ports import Deps, Query, Where
from core.services import projects, stages
from core.services.ingestion import readable, source_of
from core.services.projects import load_project
from core.services.refresh import LIVE, OVERLAP
from core.services.users import create_user
from core.settings import Settings
from core.store.collections import ITEMS, PROJECTS, scan

LOUPE = Path(sys.executable).parent / "loupe"
PER_FOLDER = 1_000
CAPPED = 3
TICK = os.sysconf("SC_CLK_TCK")


def lay_files(lake: Path, count: int) -> None:
    """`count` empty .png files over CAPPED projects' folders, 1,000 a folder."""
    start = time.perf_counter()
    flags = os.O_CREAT | os.O_WRONLY | os.O_EXCL
    for n in range(count):
        if n % PER_FOLDER == 0:
            folder = lake / f"p{n % CAPPED}" / f"{n // PER_FOLDER:05d}"
            folder.mkdir(parents=True)
        os.close(os.open(folder / f"{n:07d}.png", flags, 0o644))
    print(f"laid {count:,} files in {time.perf_counter() - start:.1f} s", flush=True)


def png() -> bytes:
    out = io.BytesIO()
    Image.linear_gradient("L").resize((32, 24)).save(out, "PNG")
    return out.getvalue()


def prepare(data: Path, count: int) -> None:
    """The projects, initialized (in this process, as the workers would) before the server."""
    lake = data / "blobs" / "lake"
    lay_files(lake, count)
    (lake / "live").mkdir()
    for n in range(3):
        (lake / "live" / f"{n}.png").write_bytes(png())
    deps = build(Settings(data_dir=data, webui_dir=None, dataset_roots=(DatasetRoot("lake"),)))
    create_user(deps, name="bench")
    for name, path, cap in [
        *((f"p{k}", f"p{k}/**", 100) for k in range(CAPPED)),
        ("live", "live/**", None),
    ]:
        settings = ProjectSettings.model_validate(
            {
                "name": name,
                "taskType": "image_multiclass",
                "labelClasses": [{"name": "a"}],
                "dataset": {"source": "blob", "container": "lake", "path": path},
                "ingest": {"itemCap": cap},
            }
        )
        projects.create_project(deps, settings=settings, actor="bench")
    start = time.perf_counter()
    drain(deps, (PROJECT_INIT, INGEST_BATCH))
    print(f"initialized {CAPPED + 1} projects in {time.perf_counter() - start:.1f} s", flush=True)
    deps.close()


def drain(deps: Deps, queues: tuple[str, ...]) -> None:
    while batch := [(q, m) for q in queues for m in deps.queue.receive(q, max_messages=10)]:
        for queue, message in batch:
            stages.handle(deps, queue, message.body)
            deps.queue.complete(message)


def tree_cpu_s(root: int) -> float:
    """CPU seconds (user + system) of `root` and every live descendant."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        stats[int(entry)] = fields
        children.setdefault(int(fields[1]), []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += int(stats[pid][11]) + int(stats[pid][12])  # utime, stime
        todo.extend(children.get(pid, []))
    return total / TICK


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settle(pid: int, *, limit_s: float = 600.0) -> float:
    """Wait until a 5 s window costs under 2 % of a core; returns the seconds waited."""
    start = time.monotonic()
    before = tree_cpu_s(pid)
    while time.monotonic() - start < limit_s:
        time.sleep(5)
        now = tree_cpu_s(pid)
        if time.monotonic() - start > 25 and (now - before) / 5 < 0.02:
            return time.monotonic() - start
        before = now
    raise SystemExit(f"the server did not settle within {limit_s:.0f} s")


def measure(pid: int, seconds: float) -> float:
    """Share of one core the process tree used over `seconds`."""
    before, start = tree_cpu_s(pid), time.monotonic()
    time.sleep(seconds)
    return (tree_cpu_s(pid) - before) / (time.monotonic() - start)


def serve_idle(data: Path, seconds: float) -> dict[str, float]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOUPE_")}
    env |= {"LOUPE_DATASETS": "lake", "LOUPE_WORKERS": "2"}
    log = (data.parent / "serve.log").open("w")
    command = [str(LOUPE), "--data-dir", str(data), "serve", "--no-demo", "--port", str(port)]
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)  # noqa: S603
    try:
        settled = settle(server.pid)
        share = measure(server.pid, seconds)
        latency = event_latency(data)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    print(f"loupe serve, idle: {share * 100:.3f} % of a core over {seconds:.0f} s")
    print(
        f"  (settled {settled:.0f} s after start; "
        f"a dropped image became an item in {latency:.2f} s)"
    )
    return {
        "idle_core_share": round(share, 5),
        "settle_s": round(settled, 1),
        "event_latency_s": round(latency, 2),
    }


def event_latency(data: Path) -> float:
    """Seconds from writing an image into the live folder to its item existing."""
    deps = build(Settings(data_dir=data, webui_dir=None, dataset_roots=(DatasetRoot("lake"),)))
    project_id = _project_id(deps, "live")
    items = deps.documents.container(ITEMS)
    before = items.count(project_id)
    start = time.monotonic()
    (data / "blobs" / "lake" / "live" / "new.png").write_bytes(png())
    while items.count(project_id) == before:
        if time.monotonic() - start > 60:
            raise SystemExit("the dropped image never became an item")
        time.sleep(0.02)
    elapsed = time.monotonic() - start
    deps.close()
    return elapsed


def _project_id(deps: Deps, name: str) -> str:
    query = Query(where=(Where("name", "=", name),), page_size=10)
    return next(iter(scan(deps.documents.container(PROJECTS), None, query))).id


def old_sweep(data: Path, seconds: float) -> None:
    """The replaced sweep, as it ran in `loupe serve`'s API process: every 2 s, each live
    project's whole prefix listed and filtered (its writes were one small document each)."""
    deps = build(Settings(data_dir=data, webui_dir=None, dataset_roots=(DatasetRoot("lake"),)))
    seen: dict[tuple[str, str, str], None] = {}
    watermarks: dict[str, datetime] = {}
    end = time.monotonic() + seconds
    listings = 0
    while time.monotonic() < end:
        started = time.monotonic()
        query = Query(
            where=(Where("status", "in", LIVE), Where("deletedAt", "missing")), page_size=100
        )
        for document in scan(deps.documents.container(PROJECTS), None, query):
            project = load_project(document)
            wanted = project.incremental_refresh or project.dataset.source is DataSource.UPLOAD
            if not (wanted and readable(deps, project)):
                continue
            source = source_of(deps, project)
            mark = watermarks.get(project.id)
            since = mark - OVERLAP if mark is not None else None
            newest = mark
            for blob in deps.blobs.list(
                source.container, source.root + project.dataset.listing_prefix
            ):
                newest = blob.last_modified if newest is None else max(newest, blob.last_modified)
                if (
                    (since is None or blob.last_modified > since)
                    and (project.id, blob.name, blob.etag) not in seen
                    and project.dataset.matches(source.path(blob.name))
                ):
                    seen[(project.id, blob.name, blob.etag)] = None
            if newest is not None:
                watermarks[project.id] = newest
            listings += 1
        time.sleep(max(0.0, 2.0 - (time.monotonic() - started)))
    print(json.dumps({"listings": listings}))
    deps.close()


def baseline(data: Path, seconds: float) -> dict[str, float]:
    command = [sys.executable, __file__, "--old-sweep", str(data), "--seconds", str(seconds)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)  # noqa: S603
    time.sleep(min(5.0, seconds / 4))  # imports and the first listing's warm-up
    share = measure(process.pid, seconds - min(5.0, seconds / 4) - 1)
    out, _ = process.communicate(timeout=seconds + 600)
    listings = json.loads(out.strip().splitlines()[-1])["listings"]
    print(
        f"old sweep (full listing every 2 s): {share * 100:.1f} % of a core "
        f"({listings} project listings)"
    )
    return {"old_sweep_core_share": round(share, 4), "old_sweep_listings": listings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="50,000 files, 30 s windows")
    parser.add_argument("--files", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--old-sweep", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.old_sweep is not None:
        old_sweep(args.old_sweep, args.seconds)
        return
    count = args.files or (50_000 if args.quick else 1_000_000)
    seconds = args.seconds or (30.0 if args.quick else 40.0)
    print(f"idle benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {count:,} files")
    work = Path(tempfile.mkdtemp(prefix="loupe-idle-"))
    try:
        data = work / "data"
        prepare(data, count)
        figures: dict[str, float] = {"files": count, "seconds": seconds}
        figures |= serve_idle(data, seconds)
        figures |= baseline(data, seconds)
        figures["ratio_old_to_new"] = round(
            figures["old_sweep_core_share"] / max(figures["idle_core_share"], 1e-6), 1
        )
        figures["goal_core_share"] = 0.01
        print(json.dumps(figures))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
