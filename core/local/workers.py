"""Stage workers for the embedded runtime: the local stand-in for Service Bus triggers.

A worker behaves like the Functions host: it locks a message, runs the stage, completes it on
success, and on failure abandons it for redelivery, or, on the last allowed delivery,
dead-letters it with the error as the reason. A stage worker serves every stage queue, in the
order the stages are declared, so that registering files goes before rendering their
thumbnails; ML assist's queue has a worker process of its own (`loupe worker assist`).

`loupe serve` gives the renditions workers of their own, at a lower CPU priority, that wait
for a quiet moment in the API (`core.local.foreground`): receiving files and labeling never
compete with making thumbnails."""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.synchronize import Event as EventType
from typing import Any, Literal

from core.local.foreground import DERIVE_NICE, Shared, Stamping, Yield
from core.ports import Deps, QueueSpec, ReceivedMessage
from core.settings import Settings

log = logging.getLogger("loupe.workers")

Handler = Callable[[Deps, str, dict[str, Any]], None]
Role = Literal["stages", "assist", "derivatives"]


class QueueWorker:
    def __init__(
        self,
        deps: Deps,
        specs: Sequence[QueueSpec],
        handler: Handler,
        *,
        poll_s: float = 0.2,
        idle_poll_s: float = 2.0,
        gate: Callable[[], bool] | None = None,
        waited: Callable[[str], contextlib.AbstractContextManager[object]] | None = None,
    ) -> None:
        self._deps = deps
        self._specs = {spec.name: spec for spec in specs}
        self._handler = handler
        self._poll_s = poll_s
        self._idle_poll_s = max(idle_poll_s, poll_s)
        """While the queues stay empty the pause between polls doubles up to this; a queue
        that wakes its waiters on a send (the SQLite one) ends the pause at once."""
        self._gated = False
        self._gate = gate
        """Asked before each message: False leaves the queues alone for now."""
        self._waited = waited
        """The context a message of that queue runs in (the foreground note's `Stamping`)."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stage-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        interrupt = getattr(self._deps.queue, "interrupt_waits", None)
        if interrupt is not None:
            interrupt()
        self._thread.join(timeout)

    def run_once(self) -> bool:
        """Handle one message from the first queue that has one; True if there was one."""
        self._gated = self._gate is not None and not self._gate()
        if self._gated:
            return False
        for name in self._specs:
            for message in self._deps.queue.receive(name, max_messages=1):
                self._process(message)
                return True
        return False

    def _run(self) -> None:
        pause = self._poll_s
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # the queue itself failed: log, breathe, carry on
                log.exception("the stage worker could not receive")
                busy = False
            if busy:
                pause = self._poll_s
            elif self._gated:  # work may be waiting: ask the gate again soon
                self._stop.wait(self._poll_s)
            elif self._pause(pause):
                pause = self._poll_s
            else:
                pause = min(pause * 2, self._idle_poll_s)

    def _pause(self, seconds: float) -> bool:
        """Wait between polls; True if a send ended the wait early."""
        wait = getattr(self._deps.queue, "wait_for_send", None)
        if wait is None:  # a queue that cannot wake us: keep polling at the short interval
            self._stop.wait(self._poll_s)
            return False
        return bool(wait(self._specs.keys(), seconds))

    def _process(self, message: ReceivedMessage) -> None:
        renewing = _LockRenewal(self._deps, message, self._specs[message.queue].lock_seconds)
        around = self._waited(message.queue) if self._waited else contextlib.nullcontext()
        try:
            with renewing, around:
                self._handler(self._deps, message.queue, message.body)
        except Exception as error:
            reason = f"{type(error).__name__}: {error}"
            if message.delivery_count >= self._specs[message.queue].max_delivery_count:
                log.error("dead-lettering %s/%s: %s", message.queue, message.message_id, reason)
                self._deps.queue.dead_letter(
                    renewing.message, reason=type(error).__name__, description=str(error)[:4000]
                )
            else:
                log.warning("retrying %s/%s: %s", message.queue, message.message_id, reason)
                self._deps.queue.abandon(renewing.message)
            return
        self._deps.queue.complete(renewing.message)


class _LockRenewal:
    """Renews a message's lock every third of its duration while its stage runs, as the
    Functions host does: an ML cycle or a large export outlasts Service Bus's five minutes."""

    def __init__(self, deps: Deps, message: ReceivedMessage, lock_seconds: float) -> None:
        self.message = message
        self._deps = deps
        self._every = max(lock_seconds / 3, 0.05)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lock-renewal", daemon=True)

    def __enter__(self) -> _LockRenewal:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._done.wait(self._every):
            try:
                self.message = self._deps.queue.renew_lock(self.message)
            except Exception:  # lost already: completing will say so; the stage is idempotent
                log.warning("could not renew the lock of %s", self.message.message_id)
                return


class WorkerProcesses:
    """Stage workers in processes of their own, beside the API process.

    Stages like ingestion and rendering are CPU-bound Python: in the API's process they would
    hold the GIL while labelers wait, and threads would not use a second core. Each process
    builds its own dependency set from the same settings (SQLite and the folder are safe to
    share between processes). Ctrl-C reaches the whole process group, so the children ignore
    it and stop when the parent says, between messages."""

    def __init__(
        self,
        settings: Settings,
        count: int,
        role: Role = "stages",
        *,
        foreground: Shared | None = None,
    ) -> None:
        """`foreground`: the API's note of its last foreground request (`shared_stamp` of a
        spawn context). With it, stage workers leave the renditions to derivative workers,
        and derivative workers wait for a quiet moment."""
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._processes = [
            context.Process(
                target=_worker_process,
                args=(settings, self._stop, os.getpid(), role, foreground),
                name=f"loupe-{role}-worker-{n}",
                daemon=True,
            )
            for n in range(count)
        ]

    def start(self) -> None:
        for process in self._processes:
            process.start()

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self._processes if process.pid is not None]

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for process in self._processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():  # stuck in a long message: its lock will expire
                log.warning("worker %s did not stop in time; terminating it", process.name)
                process.terminate()
                process.join(5)


def queue_worker(deps: Deps, role: Role, foreground: Shared | None = None) -> QueueWorker:
    """The stage workers serve every stage queue but ML assist's, which has its own worker:
    minutes of model work must never hold up registering files or an export. Given the API's
    `foreground` note, they leave the renditions to the derivative workers, which wait for a
    quiet moment (without it, derivative workers take their queue whenever it has work)."""
    from core.domain.messages import EXPORT_RUN, IMPORT_RUN, INGEST_DERIVATIVES
    from core.services import stages

    if role == "assist":
        return QueueWorker(deps, stages.ASSIST_WORKER_SPECS, stages.handle)
    if role == "derivatives":
        gate = Yield(foreground) if foreground is not None else None
        specs = [stages.QUEUE_SPECS[INGEST_DERIVATIVES]]
        return QueueWorker(deps, specs, stages.handle, gate=gate)
    specs = stages.STAGE_WORKER_SPECS
    if foreground is None:
        return QueueWorker(deps, specs, stages.handle)
    specs = [spec for spec in specs if spec.name != INGEST_DERIVATIVES]
    note = foreground

    def waited(queue: str) -> contextlib.AbstractContextManager[object]:
        return Stamping(note) if queue in (IMPORT_RUN, EXPORT_RUN) else contextlib.nullcontext()

    return QueueWorker(deps, specs, stages.handle, waited=waited)


def _worker_process(
    settings: Settings, stop: EventType, parent: int, role: Role, foreground: Shared | None
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A TERM to the whole process group (systemd, docker stop, timeout) reaches the workers
    # too. Setting the shared `stop` from a handler that interrupted `stop.wait` deadlocks
    # (multiprocessing's condition is not reentrant): note it in a thread event instead.
    terminated = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: terminated.set())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if role == "assist":
        os.nice(10)  # training yields the CPU to the API and labelers on a shared machine
    if role == "derivatives":
        os.nice(DERIVE_NICE)  # thumbnails yield to receiving files and to labelers
    from core.bootstrap import build

    deps = build(settings)
    worker = queue_worker(deps, role, foreground)
    # As in the API's process: what is loaded now lives as long as the worker, so keep it out
    # of the cyclic collector's full passes (a bulk import or registration runs many of them).
    gc.freeze()
    worker.start()
    try:
        # A parent killed outright cannot say stop: notice being orphaned instead.
        while not (terminated.is_set() or stop.wait(1.0)) and os.getppid() == parent:
            pass
    finally:
        worker.stop()
        deps.close()
