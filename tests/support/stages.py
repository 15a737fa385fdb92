"""Stage work for HTTP tests: a client that runs what the workers would before each request it
sends, so a CLI that polls a job sees it advance (the embedded runtime's workers' part)."""

from __future__ import annotations

from typing import Any

import httpx

from core.domain.messages import IMPORT_RUN
from core.ports import Deps
from core.services import stages


def run_queue(deps: Deps, queue: str = IMPORT_RUN) -> int:
    """Handle every message waiting on `queue` (and those they send), as a worker would."""
    handled = 0
    while batch := deps.queue.receive(queue, max_messages=50):
        for message in batch:
            stages.handle(deps, queue, message.body)
            deps.queue.complete(message)
            handled += 1
    return handled


def running(client: httpx.Client, deps: Deps, queue: str = IMPORT_RUN) -> httpx.Client:
    """`client`, running `queue`'s messages before each request it sends."""
    send = client.send

    def sending(*args: Any, **kwargs: Any) -> httpx.Response:
        run_queue(deps, queue)
        return send(*args, **kwargs)

    client.send = sending  # type: ignore[method-assign]
    return client
