"""Entry of the Container Apps job (Dockerfile.trainer): drain one stage queue, then exit.

KEDA starts an execution while messages wait on the queue (the training queue on the GPU
profile), so the process handles what is there and stops; scale-to-zero comes from exiting.
Each message runs through `core.services.stages` exactly as the Function App's triggers and the
local workers run it: completed on success, retried, then dead-lettered after the queue's max
delivery count.

    python -m core.job QUEUE [--max-messages N]
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

from core import telemetry
from core.bootstrap import build
from core.local.workers import QueueWorker
from core.ports import Deps, QueueSpec
from core.services import stages
from core.settings import Settings

log = logging.getLogger("loupe.job")


def handle(deps: Deps, queue: str, body: dict[str, Any]) -> None:
    if queue not in stages.STAGES:
        # Dead-lettered with this reason after the queue's max delivery count.
        raise LookupError(f"no stage handles queue {queue!r} in this version of Loupe")
    with telemetry.stage_span(queue, body):
        stages.handle(deps, queue, body)


def drain(deps: Deps, spec: QueueSpec, *, max_messages: int) -> int:
    """Handle messages until the queue is empty or `max_messages` were handled; how many."""
    worker = QueueWorker(deps, [spec], handle)
    handled = 0
    while handled < max_messages and worker.run_once():
        handled += 1
    return handled


def check_device(settings: Settings) -> str | None:
    """On a GPU profile, whether onnxruntime's CUDA provider is active; what is wrong if not
    (logged as an error: the job still runs, on the CPU, and each run says so too)."""
    if settings.gpu_profile is None:
        return None
    from core.assist.featurizer import active_providers  # the assist packages: the job's image

    providers = active_providers()
    if providers[:1] == ["CUDAExecutionProvider"]:
        log.info("GPU profile %s: onnxruntime runs on CUDA", settings.gpu_profile)
        return None
    problem = (
        f"GPU profile {settings.gpu_profile}, but onnxruntime's CUDA provider is not active "
        f"(a session gets {', '.join(providers)}): ML assist falls back to the CPU. The image "
        "needs onnxruntime-gpu with its CUDA and cuDNN libraries, and the job a GPU profile."
    )
    log.error(problem)
    return problem


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.job", description=__doc__)
    parser.add_argument("queue", nargs="?", default=os.environ.get("LOUPE_TRAINING_QUEUE"))
    parser.add_argument("--max-messages", type=int, default=100)
    args = parser.parse_args(argv)
    if not args.queue:
        parser.error("name the queue (or set LOUPE_TRAINING_QUEUE)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    telemetry.configure()
    spec = stages.QUEUE_SPECS.get(args.queue) or QueueSpec(args.queue)
    settings = Settings.from_env()
    check_device(settings)
    deps = build(settings)
    try:
        handled = drain(deps, spec, max_messages=args.max_messages)
    finally:
        deps.close()
    log.info("handled %d message(s) from %s", handled, args.queue)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
