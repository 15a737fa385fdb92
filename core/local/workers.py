"""Queue workers for the embedded runtime: the local stand-in for Service Bus triggers.

A worker behaves like the Functions host: it locks a message, runs the stage, completes it on
success, and on failure abandons it for redelivery, or, on the last allowed delivery,
dead-letters it with the error as the reason."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from core.ports import Deps, QueueSpec, ReceivedMessage

log = logging.getLogger("loupe.workers")

Handler = Callable[[Deps, str, dict[str, Any]], None]


class QueueWorker:
    def __init__(
        self, deps: Deps, spec: QueueSpec, handler: Handler, *, poll_s: float = 0.5
    ) -> None:
        self._deps = deps
        self._spec = spec
        self._handler = handler
        self._poll_s = poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"worker-{spec.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def run_once(self) -> bool:
        """Handle at most one message; True if there was one."""
        messages = self._deps.queue.receive(self._spec.name, max_messages=1, wait_s=self._poll_s)
        for message in messages:
            self._process(message)
        return bool(messages)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # the queue itself failed: log, breathe, carry on
                log.exception("worker %s could not receive", self._spec.name)
                self._stop.wait(self._poll_s)

    def _process(self, message: ReceivedMessage) -> None:
        try:
            self._handler(self._deps, message.queue, message.body)
        except Exception as error:
            reason = f"{type(error).__name__}: {error}"
            if message.delivery_count >= self._spec.max_delivery_count:
                log.error("dead-lettering %s/%s: %s", message.queue, message.message_id, reason)
                self._deps.queue.dead_letter(
                    message, reason=type(error).__name__, description=str(error)[:4000]
                )
            else:
                log.warning("retrying %s/%s: %s", message.queue, message.message_id, reason)
                self._deps.queue.abandon(message)
            return
        self._deps.queue.complete(message)


def start_workers(deps: Deps, specs: Iterable[QueueSpec], handler: Handler) -> list[QueueWorker]:
    workers = [QueueWorker(deps, spec, handler) for spec in specs]
    for worker in workers:
        worker.start()
    return workers
