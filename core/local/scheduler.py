"""The embedded runtime's timers: the local stand-in for Functions timer triggers."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("loupe.scheduler")


@dataclass(frozen=True)
class Job:
    name: str
    every_s: float
    run: Callable[[], None]


class Scheduler:
    """Runs each job every `every_s` seconds on one thread; a failing job is logged and tried
    again at its next turn, never stopping the others."""

    def __init__(self, jobs: list[Job]) -> None:
        self._jobs = jobs
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        due = {job.name: time.monotonic() + job.every_s for job in self._jobs}
        while self._jobs and not self._stop.is_set():
            now = time.monotonic()
            for job in self._jobs:
                if now >= due[job.name]:
                    due[job.name] = now + job.every_s
                    try:
                        job.run()
                    except Exception:
                        log.exception("scheduled job %s failed", job.name)
            self._stop.wait(max(0.05, min(due.values()) - time.monotonic()))
