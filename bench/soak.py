"""Soak: 100 simulated labelers for a bounded time against 100k text items on a real
`loupe serve`, initialized through the real ingestion path (one .jsonl of 100k rows).

Each labeler is a thread with its own token and keep-alive client: next task, a think time,
submit, again. Printed: the error rate (any non-2xx or broken connection; it must be 0), p50 and
p95 latency of next task and submit under that load, beside the same figures for one labeler
alone on the same server just before (the baseline), throughput, and the server's resident
memory (VmRSS from /proc, the API process and its workers) at the start and the end. The last
line is the figures as one JSON object; a row goes to RELIABILITY.md.

    python bench/soak.py              # 10 minutes
    python bench/soak.py --quick      # 60 seconds
    python bench/soak.py --minutes 30
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.domain.datasets import Dataset, DataSource  # noqa: E402
from core.domain.projects import ProjectSettings, Role  # noqa: E402
from core.services import projects  # noqa: E402
from core.store.collections import PROJECTS  # noqa: E402
from tests.support.deps import local_deps  # noqa: E402
from tests.support.labeling import users  # noqa: E402
from tests.support.reliability import TABLE, Recorder, Row, render  # noqa: E402
from tests.support.servers import free_port  # noqa: E402

LOUPE = Path(sys.executable).parent / "loupe"
CLASSES = ("pos", "neg", "meh")
BASELINE_ROUNDS = 200


def seed(folder: Path, items: int, labelers: int) -> tuple[str, dict[str, str]]:
    deps = local_deps(folder)
    names = [f"labeler{n:03d}" for n in range(labelers)]
    tokens = users(deps, "olive", *names)
    rows = "".join(json.dumps({"text": f"review {n}: fine, I guess"}) + "\n" for n in range(items))
    deps.blobs.put("lake", "in/reviews.jsonl", rows.encode())
    settings = ProjectSettings.model_validate(
        {
            "name": "Soak",
            "taskType": "text_multiclass",
            "labelClasses": [{"name": c} for c in CLASSES],
            "dataset": Dataset(source=DataSource.BLOB, container="lake", path="in/**"),
        }
    )
    created = projects.create_project(deps, settings=settings, actor="olive")
    members = {"olive": Role.OWNER, **dict.fromkeys(names, Role.LABELER)}
    project = created.value.model_copy(update={"members": members})
    deps.documents.container(PROJECTS).upsert(project.to_doc(), if_match=created.etag)
    deps.close()
    return project.id, tokens


def rss_mb(pid: int) -> float:
    """Resident memory of `pid` and its children, in MB."""
    total = 0
    for candidate in [pid, *children(pid)]:
        try:
            for line in Path(f"/proc/{candidate}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


def cpu_s(pid: int) -> float:
    """CPU time (user + system) of the API process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def ms_percentiles(samples: list[float]) -> tuple[float, float]:
    if len(samples) < 2:
        return (round(samples[0] * 1000, 2), round(samples[0] * 1000, 2)) if samples else (0, 0)
    cuts = statistics.quantiles(samples, n=100)
    return round(statistics.median(samples) * 1000, 2), round(cuts[94] * 1000, 2)


@dataclass
class Tally:
    nexts: list[float] = field(default_factory=list)
    submits: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def labeler(base: str, token: str, tally: Tally, until: float, think: float) -> None:
    """Next, think, submit, until the time is up (or nothing is left)."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
        while time.monotonic() < until:
            try:
                started = time.perf_counter()
                task = http.post("/tasks/next", json={"size": 1})
                took_next = time.perf_counter() - started
                items = task.json()["items"] if task.status_code == 200 else None
                with tally.lock:
                    tally.requests += 1
                    tally.nexts.append(took_next)
                    if task.status_code != 200:
                        tally.errors[f"next {task.status_code}"] += 1
                if not items:
                    time.sleep(think)
                    continue
                time.sleep(think)
                item = items[0]["id"]
                answer = {"value": {"label": CLASSES[hash(item) % 3]}}
                started = time.perf_counter()
                done = http.post(f"/items/{item}/annotation", json=answer)
                took_submit = time.perf_counter() - started
                with tally.lock:
                    tally.requests += 1
                    tally.submits.append(took_submit)
                    if done.status_code != 200:
                        tally.errors[f"submit {done.status_code}"] += 1
            except httpx.HTTPError as error:
                with tally.lock:
                    tally.errors[type(error).__name__] += 1


def wait_running(base: str, token: str, timeout: float = 900) -> float:
    started = time.monotonic()
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        while time.monotonic() - started < timeout:
            try:
                if http.get(f"{base}/ingestion").json().get("status") == "running":
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
    raise RuntimeError("the project never started running")


def settle(base: str, token: str, timeout: float = 120) -> None:
    """Wait for the refresh sweep's first pass (it compares the whole listing with the items,
    once) so that the baseline and the load see the steady state."""
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        first = http.get(f"{base}/ingestion").json().get("lastRefreshedAt")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if http.get(f"{base}/ingestion").json().get("lastRefreshedAt") != first:
                return
            time.sleep(0.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 seconds instead of 10 minutes")
    parser.add_argument("--minutes", type=float, help="how long the labelers work")
    parser.add_argument("--labelers", type=int, default=100)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument(
        "--think", type=float, default=1.0, help="seconds a labeler looks at an item (default 1)"
    )
    args = parser.parse_args()
    seconds = 60.0 if args.quick else 600.0
    if args.minutes is not None:
        seconds = args.minutes * 60
    with tempfile.TemporaryDirectory(prefix="loupe-soak-") as tmp:
        folder = Path(tmp)
        project_id, tokens = seed(folder, args.items, args.labelers)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOUPE_")}
        env["LOUPE_RATE_LIMIT"] = "0"  # one client as fast as it can: the limiter would answer
        env["LOUPE_DATASETS"] = "lake"  # where the seeded .jsonl is (refused unless allowed)
        server = subprocess.Popen(  # noqa: S603 (our own command)
            [str(LOUPE), "--data-dir", str(folder), "serve", "--no-demo", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        base = f"http://127.0.0.1:{port}/api/projects/{project_id}"
        try:
            init_s = wait_running(base, tokens["olive"])
            print(f"initialized {args.items:,} items in {init_s:.1f} s", flush=True)
            settle(base, tokens["olive"])
            rss_start = rss_mb(server.pid)
            alone = Tally()
            labeler(base, tokens["labeler000"], alone, time.monotonic() + 10, 0.0)
            alone.nexts, alone.submits = (
                alone.nexts[:BASELINE_ROUNDS],
                alone.submits[:BASELINE_ROUNDS],
            )
            crowd = Tally()
            until = time.monotonic() + seconds
            threads = [
                threading.Thread(target=labeler, args=(base, token, crowd, until, args.think))
                for name, token in tokens.items()
                if name != "olive"
            ]
            started, cpu_start = time.monotonic(), cpu_s(server.pid)
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
            busy = cpu_s(server.pid) - cpu_start
            rss_end = rss_mb(server.pid)
        finally:
            os.kill(server.pid, signal.SIGINT)
            server.wait(60)
    errors = sum(crowd.errors.values())
    figures: dict[str, float] = {
        "labelers": args.labelers,
        "items": args.items,
        "seconds": round(elapsed, 1),
        "init_s": round(init_s, 1),
        "requests": crowd.requests,
        "answers": len(crowd.submits),
        "answers_per_s": round(len(crowd.submits) / elapsed, 1),
        "errors": errors,
        "error_rate": round(errors / max(crowd.requests, 1), 6),
        "rss_start_mb": rss_start,
        "rss_end_mb": rss_end,
        "api_cpu_ms_per_request": round(busy * 1000 / max(crowd.requests, 1), 2),
        "api_cpu_share": round(busy / elapsed, 2),
        "machine_load_avg": round(os.getloadavg()[0], 1),
    }
    for op, loaded, base_samples in (
        ("next", crowd.nexts, alone.nexts),
        ("submit", crowd.submits, alone.submits),
    ):
        p50, p95 = ms_percentiles(loaded)
        b50, b95 = ms_percentiles(base_samples)
        figures |= {
            f"{op}_p50_ms": p50,
            f"{op}_p95_ms": p95,
            f"{op}_p50_ms_alone": b50,
            f"{op}_p95_ms_alone": b95,
            f"{op}_p95_vs_alone": round(p95 / b95, 2) if b95 else 0.0,
        }
        print(
            f"{op:6s} p50 {p50:7.2f} ms  p95 {p95:7.2f} ms   "
            f"alone: p50 {b50:6.2f} ms  p95 {b95:6.2f} ms"
        )
    print(
        f"{len(crowd.submits):,} answers by {args.labelers} labelers in {elapsed:.0f} s "
        f"({figures['answers_per_s']}/s), {crowd.requests:,} requests, errors {errors} "
        f"({dict(crowd.errors)}), error rate {figures['error_rate']:.4%}"
    )
    print(f"server RSS (API + workers): {rss_start} MB at start, {rss_end} MB at the end")
    print(
        f"API process CPU: {figures['api_cpu_ms_per_request']} ms per request, "
        f"{figures['api_cpu_share']:.0%} of a core; machine load average "
        f"{figures['machine_load_avg']} on {os.cpu_count()} cores"
    )
    Recorder().record(
        Row(
            suite="soak",
            test=f"bench/soak.py, {seconds / 60:g} min, think {args.think:g} s",
            load=(
                f"{args.labelers} labelers, {args.think:g} s think time, {elapsed:.0f} s, "
                f"{args.items:,} text items"
            ),
            faults="—",
            inputs="next task + submit over HTTP on loupe serve",
            result={
                "errors": errors,
                "answers": len(crowd.submits),
                "next_p95_ms": figures["next_p95_ms"],
                "submit_p95_ms": figures["submit_p95_ms"],
                "rss_start_mb": rss_start,
                "rss_end_mb": rss_end,
                "5xx": sum(n for k, n in crowd.errors.items() if k.split()[-1].startswith("5")),
            },
        )
    )
    TABLE.write_text(render())
    print(json.dumps(figures))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
