"""Where a next task and a submit spend their time, in process (no sockets, no HTTP parsing):
the app exactly as `bench/stack_server.py` serves it, driven through ASGI from one event loop.

In turns, over one seeded data folder (a running image-classification project, one labeler):
the stack's no-op (`POST /api/noop`: the middleware and routing alone), the signed-in no-op
(the same with the sign-in and a JSON body), next task and submit through the app, the same two
as service calls alone (`tasks.next_task` + `tasks.labeling_progress`, and
`labeling.submit_annotation`, on this thread), and the hop to the thread pool and back that a
plain `def` route pays (`anyio.to_thread.run_sync` of nothing). What a route costs beyond the
signed-in no-op, less its service call and the hop, is FastAPI's work for it: the body's model,
the dependencies, the response.

    python bench/labeling_layers.py              # 100k items, 2,000 rounds
    python bench/labeling_layers.py --quick      # 10k items, 500 rounds
    python bench/labeling_layers.py --profile    # and where next + submit spend it (cProfile):
                                                 # the event loop's part, then the routes' own
                                                 # functions called on this thread
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio.to_thread

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from labeling import seed  # noqa: E402  (bench/labeling.py: the same seeded project)
from stack_server import add_noops  # noqa: E402

from core.bootstrap import build  # noqa: E402
from core.http.app import create_app  # noqa: E402
from core.http.routes import labeling as routes  # noqa: E402
from core.services import labeling, tasks  # noqa: E402
from core.services.users import authenticate  # noqa: E402
from core.settings import Settings  # noqa: E402

Asgi = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


async def call(app: Asgi, path: str, body: bytes, token: str) -> bytes:
    """POST `body` (JSON) to `path`; the response body, or an error for any status >= 300."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", f"Bearer {token}".encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 7071),
    }
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)  # a client that waits for the answer
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    answer = b"".join(chunks)
    if status >= 300:
        raise RuntimeError(f"{path}: {status} {answer[:300]!r}")
    return answer


async def timed(step: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await step()
    return (time.perf_counter() - started) * 1000, result


async def measure(
    folder: Path, project_id: str, actor: str, token: str, rounds: int, profile: Path | None
) -> dict[str, list[float]]:
    settings = replace(Settings.from_env(), data_dir=folder, webui_dir=None, rate_limit=0)
    deps = build(settings)
    app = create_app(lambda: deps, settings)
    add_noops(app)
    gc.freeze()  # as `loupe serve` does once loaded
    base = f"/api/projects/{project_id}"
    size = json.dumps({"size": 1}).encode()
    answer = json.dumps({"value": {"label": "cat"}}).encode()
    samples: dict[str, list[float]] = {
        name: []
        for name in (
            "stack_noop",
            "signed_noop",
            "next",
            "submit",
            "next_service",
            "submit_service",
            "thread_hop",
        )
    }

    def next_service() -> str:
        task = tasks.next_task(deps, project_id=project_id, actor=actor, size=1)
        tasks.labeling_progress(deps, project_id=project_id, actor=actor)
        return task.items[0].id

    def submit_service(item_id: str) -> None:
        value = {"label": "cat"}
        labeling.submit_annotation(
            deps, project_id=project_id, actor=actor, item_id=item_id, value=value
        )

    async def in_process(step: Callable[[], Any]) -> Any:
        return step()

    user = authenticate(deps, token=token)

    def route_functions() -> None:  # what the thread pool runs for the two routes
        body = routes.NextTask(size=1)
        found = routes.next_task(project_id, body, deps, user)
        item_id = json.loads(bytes(found.body))["items"][0]["id"]
        answer = routes.AnswerIn.model_validate({"value": {"label": "cat"}})
        routes.submit(project_id, item_id, answer, deps, user)

    profiler = cProfile.Profile() if profile is not None else None
    in_thread = cProfile.Profile() if profile is not None else None
    try:
        for n in range(rounds + 100):
            took: dict[str, float] = {}
            took["stack_noop"], _ = await timed(lambda: call(app, "/api/noop", size, token))
            took["signed_noop"], _ = await timed(lambda: call(app, f"{base}/noop", size, token))
            if profiler is not None and n >= 100:
                profiler.enable()
            took["next"], task = await timed(lambda: call(app, f"{base}/tasks/next", size, token))
            item_id = json.loads(task)["items"][0]["id"]
            url = f"{base}/items/{item_id}/annotation"
            took["submit"], _ = await timed(lambda url=url: call(app, url, answer, token))
            if profiler is not None:
                profiler.disable()
            took["next_service"], item_id = await timed(lambda: in_process(next_service))
            took["submit_service"], _ = await timed(
                lambda item_id=item_id: in_process(lambda: submit_service(item_id))
            )
            took["thread_hop"], _ = await timed(lambda: anyio.to_thread.run_sync(lambda: None))
            if in_thread is not None and n >= 100:
                in_thread.runcall(route_functions)
            if n >= 100:  # warm-up done
                for name, value in took.items():
                    samples[name].append(value)
    finally:
        deps.close()
    if profiler is not None and in_thread is not None and profile is not None:
        profiler.dump_stats(profile.with_suffix(".loop"))
        in_thread.dump_stats(profile.with_suffix(".routes"))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k items, 500 rounds")
    parser.add_argument("--items", type=int, help="items in the project (default 100k)")
    parser.add_argument("--rounds", type=int, help="rounds timed (default 2,000)")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top entries")
    args = parser.parse_args()
    count = args.items or (10_000 if args.quick else 100_000)
    rounds = args.rounds or (500 if args.quick else 2_000)
    os.environ.pop("LOUPE_DATA_DIR", None)
    with tempfile.TemporaryDirectory(prefix="loupe-layers-") as tmp:
        folder = Path(tmp)
        project_id, token = seed(folder, count)  # prints how long seeding took
        actor = "lee"  # the labeler seed() signs in
        profile = folder / "profile.out" if args.profile else None
        samples = asyncio.run(measure(folder, project_id, actor, token, rounds, profile))
        if profile is not None:
            for part in (".loop", ".routes"):
                stats = pstats.Stats(str(profile.with_suffix(part)))
                stats.sort_stats("cumulative").print_stats(50)
                stats.sort_stats("tottime").print_stats(30)
    figures: dict[str, float] = {}
    medians = {name: statistics.median(values) for name, values in samples.items()}
    stack = medians["stack_noop"]
    for name, values in samples.items():
        p50, p95 = medians[name], statistics.quantiles(values, n=100)[94]
        print(
            f"  {name:15s} p50 {p50:6.3f} ms  p95 {p95:6.3f} ms  "
            f"(p50 ×{p50 / stack:.2f} the stack's no-op)"
        )
        figures[f"{name}_p50_ms"] = round(p50, 3)
        figures[f"{name}_p95_ms"] = round(p95, 3)
    for op in ("next", "submit"):
        rest = medians[op] - medians["signed_noop"] - medians[f"{op}_service"]
        print(
            f"{op}: signed-in no-op {medians['signed_noop']:.3f} ms + service "
            f"{medians[f'{op}_service']:.3f} ms + the route's own work (hop included) {rest:.3f} ms"
        )
        figures[f"{op}_vs_stack_noop"] = round(medians[op] / stack, 2)
        figures[f"{op}_route_overhead_ms"] = round(rest, 3)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
