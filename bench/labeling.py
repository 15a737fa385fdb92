"""Next-task and submit latency over HTTP on the embedded default, at 100k and 500k items.

For each size it seeds a fresh data folder (a running image-classification project, one
labeler, the items), starts the API as `loupe serve` runs it (`bench/stack_server.py`: the same
app, middleware and uvicorn settings, with two no-op routes added), and times, from one
keep-alive client, in turn: `POST /api/noop` (the whole middleware stack and nothing else),
`POST /api/projects/{id}/noop` (the same with the sign-in every labeling route takes, and a JSON
body), `POST /tasks/next` and `POST /items/{id}/annotation`. In the same run it times a bare
FastAPI no-op endpoint under uvicorn, the floor any endpoint pays for HTTP, routing and JSON.
Goals: next task and submit p50 ≤ 2× the no-op through the same stack; p95 ≤ 5 ms and 10 ms;
flat from 100k to 500k (the queries are index-driven).

    python bench/labeling.py            # 100k and 500k items (a few minutes)
    python bench/labeling.py --quick    # 10k and 50k items, under a minute
    python bench/labeling.py --code /tmp/old   # the server from an older tree's core/
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.adapters.clock import ManualClock  # noqa: E402
from core.domain.projects import Role  # noqa: E402
from tests.support.deps import local_deps  # noqa: E402
from tests.support.labeling import add_items, running_project, users  # noqa: E402

STACK_SERVER = Path(__file__).resolve().parent / "stack_server.py"
NOOP_APP = """
from fastapi import FastAPI
app = FastAPI()
@app.post("/noop")
def noop() -> dict[str, bool]:
    return {"ok": True}
"""


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
    process.wait(30)


def seed(folder: Path, count: int) -> tuple[str, str]:
    started = time.perf_counter()
    deps = local_deps(folder, ManualClock(datetime.now(UTC)))
    tokens = users(deps, "olive", "lee")
    project = running_project(deps, owner="olive", members={"lee": Role.LABELER})
    for start in range(0, count, 20_000):
        add_items(deps, project, min(20_000, count - start), prefix=f"img/{start:08d}/")
    deps.close()
    print(f"  seeded {count:,} items in {time.perf_counter() - started:.1f} s", flush=True)
    return project.id, tokens["lee"]


def timed(call: Callable[[], httpx.Response]) -> float:
    started = time.perf_counter()
    response = call()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code >= 300:
        raise RuntimeError(f"{response.status_code}: {response.text}")
    return elapsed


def percentiles(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100)
    return {"p50": round(statistics.median(samples), 3), "p95": round(cuts[94], 3)}


def measure_labeling(count: int, rounds: int, code: Path | None) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="loupe-bench-") as tmp:
        folder = Path(tmp)
        project_id, token = seed(folder, count)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOUPE_")}
        env["LOUPE_RATE_LIMIT"] = "0"  # one client as fast as it can: the limiter would answer
        command = [sys.executable, str(STACK_SERVER), str(folder), str(port)]
        process = subprocess.Popen(  # noqa: S603 (our own commands)
            [*command, *([str(code)] if code is not None else [])],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        try:
            wait_up(f"http://127.0.0.1:{port}/api/health")
            api = f"http://127.0.0.1:{port}/api"
            base = f"{api}/projects/{project_id}"
            samples: dict[str, list[float]] = {"noop": [], "signed_noop": [], "next": []}
            samples["submit"] = []
            with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
                for n in range(rounds + 50):
                    box: dict[str, Any] = {}

                    def next_task(box: dict[str, Any] = box) -> httpx.Response:
                        response = http.post(f"{base}/tasks/next", json={"size": 1})
                        box["id"] = response.json()["items"][0]["id"]
                        return response

                    took = {
                        "noop": timed(lambda: http.post(f"{api}/noop", json={"size": 1})),
                        "signed_noop": timed(lambda: http.post(f"{base}/noop", json={"size": 1})),
                        "next": timed(next_task),
                    }
                    url = f"{base}/items/{box['id']}/annotation"
                    took["submit"] = timed(
                        lambda url=url: http.post(url, json={"value": {"label": "cat"}})
                    )
                    if n >= 50:  # warm-up done
                        for name, value in took.items():
                            samples[name].append(value)
        finally:
            stop(process)
    return {name: percentiles(values) for name, values in samples.items()}


def measure_noop(rounds: int) -> dict[str, float]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="loupe-noop-") as tmp:
        (Path(tmp) / "noop_app.py").write_text(NOOP_APP)
        process = subprocess.Popen(  # noqa: S603 (our own commands)
            [
                sys.executable,
                "-m",
                "uvicorn",
                "noop_app:app",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_up(f"http://127.0.0.1:{port}/docs")
            with httpx.Client(timeout=30) as http:
                url = f"http://127.0.0.1:{port}/noop"
                samples = [timed(lambda: http.post(url, json={})) for _ in range(2 * rounds + 50)]
        finally:
            stop(process)
    return percentiles(samples[50:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k and 50k items, fewer rounds")
    parser.add_argument("--code", type=Path, help="serve an older tree's core/ (a folder)")
    args = parser.parse_args()
    sizes = (10_000, 50_000) if args.quick else (100_000, 500_000)
    rounds = 300 if args.quick else 1_000
    figures: dict[str, float] = {}
    noop = measure_noop(rounds)
    print(f"bare FastAPI no-op POST: p50 {noop['p50']:.2f} ms, p95 {noop['p95']:.2f} ms")
    figures |= {"noop_p50_ms": noop["p50"], "noop_p95_ms": noop["p95"]}
    for count in sizes:
        print(f"{count:,} items:", flush=True)
        found = measure_labeling(count, rounds, args.code)
        tag = f"{count // 1000}k"
        stack, signed = found["noop"], found["signed_noop"]
        for op in ("noop", "signed_noop", "next", "submit"):
            p50, p95 = found[op]["p50"], found[op]["p95"]
            print(
                f"  {op:11s} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms   "
                f"(p50 ×{p50 / stack['p50']:.2f} the stack's no-op, "
                f"×{p50 / signed['p50']:.2f} the signed-in no-op; "
                f"p95 ×{p95 / noop['p95']:.1f} the bare no-op)"
            )
            figures[f"{op}_p50_ms_{tag}"] = p50
            figures[f"{op}_p95_ms_{tag}"] = p95
            if op in ("next", "submit"):
                figures[f"{op}_p95_vs_noop_{tag}"] = round(p95 / noop["p95"], 2)
                figures[f"{op}_p50_vs_stack_noop_{tag}"] = round(p50 / stack["p50"], 2)
                figures[f"{op}_p50_vs_signed_noop_{tag}"] = round(p50 / signed["p50"], 2)
    small, large = (f"{c // 1000}k" for c in sizes)
    for op in ("next", "submit"):
        flat = figures[f"{op}_p95_ms_{large}"] / figures[f"{op}_p95_ms_{small}"]
        figures[f"{op}_p95_{large}_vs_{small}"] = round(flat, 2)
        print(f"{op} p95 at {large} / at {small}: ×{flat:.2f}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
