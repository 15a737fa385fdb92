"""`loupe upload` of one-megapixel JPEGs against `loupe serve`: files/s, server CPU, and how long
the renditions take after the last file is in.

Each run seeds a fresh data folder (an upload project, its owner), starts `loupe serve
--no-demo` on 127.0.0.1 (PID recorded, stopped by PID), runs the real `loupe upload` command on
the folder (8 parallel transfers: link, PUT, complete) and times it; the server's CPU is the
user+system time of its whole process tree (API and workers) over the upload, in cores. Then it
waits for every item's thumbnail, the work the upload left for later.

In the same run, the floor: the same client (httpx, 8 threads, the same files) PUTting each
file to a bare Starlette endpoint that streams the body to a file, the physical limit of
moving the bytes through HTTP on this machine. Runs alternate Loupe and the floor. The issue's
target is 1.5× Label Studio's 139 files/s measured on the same two-core machine (210 files/s).

    python bench/upload.py            # 1,000 files, 3 runs of each
    python bench/upload.py --quick    # 200 files, 2 runs of each
    python bench/upload.py --before /tmp/old   # also the server of an older tree, alternating
                                               # (`git archive OLD core | tar -x -C /tmp/old`)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.adapters.clock import ManualClock  # noqa: E402
from tests.support.deps import local_deps  # noqa: E402
from tests.support.labeling import creator, users  # noqa: E402

LOUPE = Path(sys.executable).parent / "loupe"
LABEL_STUDIO_FILES_S = 139.0
"""Label Studio 1.23.2 on the same two-core machine, the same 1,000 files (issue 20)."""
TICKS = os.sysconf("SC_CLK_TCK")
SINK_APP = """
import os, uuid
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
FOLDER = os.environ["SINK_DIR"]
async def put(request):
    with open(os.path.join(FOLDER, uuid.uuid4().hex), "wb") as out:
        async for chunk in request.stream():
            out.write(chunk)
    return Response(status_code=201)
app = Starlette(routes=[Route("/put", put, methods=["PUT"]), Route("/up", lambda r: Response())])
"""


def make_jpegs(folder: Path, count: int) -> Path:
    """`count` 1-megapixel JPEGs (1152 × 864) of shapes over noise: they compress like photos,
    not to nothing. Kept between runs in the temp folder."""
    import numpy as np
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20)
    shuffle = random.Random(20)
    for index in range(count):
        path = folder / f"photo-{index:05d}.jpg"
        if path.exists():
            continue
        base = rng.integers(0, 256, size=(3,), dtype=np.uint8)
        noise = rng.normal(0, 28, size=(864, 1152, 3))
        pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
        image = Image.fromarray(pixels, "RGB")
        draw = ImageDraw.Draw(image)
        for _ in range(12):
            x, y = shuffle.randrange(1152), shuffle.randrange(864)
            w, h = shuffle.randrange(40, 400), shuffle.randrange(40, 300)
            colour = tuple(shuffle.randrange(256) for _ in range(3))
            if shuffle.random() < 0.5:
                draw.ellipse((x, y, x + w, y + h), fill=colour)
            else:
                draw.rectangle((x, y, x + w, y + h), fill=colour)
        image.save(path, "JPEG", quality=88)
    return folder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_up(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def stop(process: subprocess.Popen[bytes]) -> None:
    os.kill(process.pid, signal.SIGINT)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)


def tree_cpu_s(root: int) -> float:
    """User + system seconds of `root` and every descendant alive now."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / TICKS
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += times.get(pid, 0.0)
        todo.extend(child for child, parent in parents.items() if parent == pid)
    return total


def seed(
    folder: Path, task_type: str = "image_multiclass", classes: tuple[str, ...] = ("cat",)
) -> tuple[str, str]:
    """A data folder with an owner (`olive`) and an upload project; its id and her token."""
    from datetime import UTC, datetime

    from core.domain.projects import ProjectSettings
    from core.services import projects

    deps = local_deps(folder, ManualClock(datetime.now(UTC)))
    token = users(deps, "olive")["olive"]
    creator(deps, "olive")
    settings = ProjectSettings.model_validate(
        {"name": "Uploads", "taskType": task_type, "labelClasses": [{"name": c} for c in classes]}
    )
    project = projects.create_project(deps, settings=settings, actor="olive").value
    deps.close()
    return project.id, token


def thumbnails_done(folder: Path) -> int:
    with sqlite3.connect(folder / "documents.sqlite", timeout=30) as db:
        tables = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
        table = next(t for t in tables if t.endswith("items"))
        row = db.execute(
            f"select count(*) from {table} where json_extract(body, '$.derivatives') is not null"  # noqa: S608
        ).fetchone()
        return int(row[0])


def measure_loupe(files: Path, count: int, code: Path | None = None) -> dict[str, float]:
    """`code`: a folder holding another tree's `core` package to run the server from."""
    with tempfile.TemporaryDirectory(prefix="loupe-bench-upload-") as tmp:
        data = Path(tmp)
        project_id, token = seed(data)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOUPE_")}
        env["LOUPE_RATE_LIMIT"] = "0"
        server_env = env | ({"PYTHONPATH": str(code)} if code is not None else {})
        server = subprocess.Popen(  # noqa: S603 (our own commands)
            [str(LOUPE), "--data-dir", str(data), "serve", "--no-demo", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=server_env,
            cwd=data,  # the workers import `core` from the server's path, not from here
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_up(f"{url}/api/health")
            time.sleep(1.0)  # the workers' start-up is not the upload's
            cpu_before = tree_cpu_s(server.pid)
            started = time.perf_counter()
            result = subprocess.run(  # noqa: S603
                [str(LOUPE), "upload", project_id, str(files), "--server", url, "--workers", "8"],
                env={**env, "LOUPE_TOKEN": token},
                capture_output=True,
                text=True,
                timeout=1800,
                check=False,
            )
            took = time.perf_counter() - started
            cpu = tree_cpu_s(server.pid) - cpu_before
            if result.returncode != 0 or f"uploaded {count} file(s)" not in result.stdout:
                raise RuntimeError(result.stdout + result.stderr)
            deadline = time.monotonic() + 1800
            while thumbnails_done(data) < count and time.monotonic() < deadline:
                time.sleep(0.2)
            drained = time.perf_counter() - started
        finally:
            stop(server)
    return {"files_s": count / took, "cores": cpu / took, "thumbnails_s": drained}


def measure_floor(files: Path) -> float:
    paths = sorted(files.iterdir())
    with tempfile.TemporaryDirectory(prefix="loupe-bench-sink-") as tmp:
        (Path(tmp) / "sink_app.py").write_text(SINK_APP)
        (Path(tmp) / "out").mkdir()
        port = free_port()
        command = [sys.executable, "-m", "uvicorn", "sink_app:app", "--port", str(port)]
        sink = subprocess.Popen(  # noqa: S603
            [*command, "--log-level", "warning"],
            cwd=tmp,
            env={**os.environ, "SINK_DIR": str(Path(tmp) / "out")},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_up(f"http://127.0.0.1:{port}/up")
            with httpx.Client(timeout=60) as client:

                def put(path: Path) -> None:
                    with path.open("rb") as body:
                        client.put(f"http://127.0.0.1:{port}/put", content=body).raise_for_status()

                started = time.perf_counter()
                with ThreadPoolExecutor(8) as pool:
                    list(pool.map(put, paths))
                took = time.perf_counter() - started
        finally:
            stop(sink)
    return len(paths) / took


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.1f} (min {min(values):.1f}, max {max(values):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 files, 2 runs")
    parser.add_argument("--files", type=int, default=None)
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument(
        "--before", type=Path, default=None, help="a folder holding an older tree's core/"
    )
    args = parser.parse_args()
    count = args.files or (200 if args.quick else 1_000)
    runs = args.runs or (2 if args.quick else 3)
    cache = Path(tempfile.gettempdir()) / f"loupe-bench-jpegs-{count}"
    started = time.perf_counter()
    files = make_jpegs(cache, count)
    size = sum(p.stat().st_size for p in files.iterdir()) / count
    print(
        f"{count:,} JPEGs of 1152×864, {size / 1024:.0f} KiB each on average "
        f"({time.perf_counter() - started:.0f} s to make or find)",
        flush=True,
    )
    loupe: list[dict[str, float]] = []
    before: list[dict[str, float]] = []
    floor: list[float] = []
    for run in range(runs):
        floor.append(measure_floor(files))
        if args.before is not None:
            before.append(measure_loupe(files, count, args.before.resolve()))
            old = before[-1]
            print(
                f"  run {run + 1}: before: {old['files_s']:.1f} files/s on {old['cores']:.2f} "
                f"server cores, thumbnails all made {old['thumbnails_s']:.1f} s after the start",
                flush=True,
            )
        loupe.append(measure_loupe(files, count))
        last = loupe[-1]
        print(
            f"  run {run + 1}: loupe upload {last['files_s']:.1f} files/s on "
            f"{last['cores']:.2f} server cores, thumbnails all made {last['thumbnails_s']:.1f} s "
            f"after the start; bare PUT floor {floor[-1]:.1f} files/s",
            flush=True,
        )
    rate = statistics.median(r["files_s"] for r in loupe)
    cores = statistics.median(r["cores"] for r in loupe)
    drained = statistics.median(r["thumbnails_s"] for r in loupe)
    bare = statistics.median(floor)
    print(f"loupe upload files/s: {spread([r['files_s'] for r in loupe])}")
    print(f"server cores during the upload: {spread([r['cores'] for r in loupe])}")
    print(f"bare PUT floor files/s: {spread(floor)}")
    print(
        f"loupe / floor ×{rate / bare:.2f}; loupe / Label Studio's {LABEL_STUDIO_FILES_S:.0f} "
        f"files/s ×{rate / LABEL_STUDIO_FILES_S:.2f} (target ×1.5)"
    )
    figures: dict[str, float] = {}
    if before:
        old_rate = statistics.median(r["files_s"] for r in before)
        print(f"before: loupe upload files/s: {spread([r['files_s'] for r in before])}")
        print(f"before: server cores: {spread([r['cores'] for r in before])}")
        print(f"now / before ×{rate / old_rate:.2f}")
        figures |= {
            "before_upload_files_s": round(old_rate, 1),
            "before_server_cores": round(statistics.median(r["cores"] for r in before), 2),
            "before_thumbnails_done_s": round(
                statistics.median(r["thumbnails_s"] for r in before), 1
            ),
            "upload_vs_before": round(rate / old_rate, 2),
        }
    figures |= {
        "upload_files_s": round(rate, 1),
        "upload_server_cores": round(cores, 2),
        "thumbnails_done_s": round(drained, 1),
        "floor_put_files_s": round(bare, 1),
        "upload_vs_floor": round(rate / bare, 2),
        "label_studio_files_s": LABEL_STUDIO_FILES_S,
        "upload_vs_label_studio": round(rate / LABEL_STUDIO_FILES_S, 2),
        "runs": runs,
        "files": count,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
