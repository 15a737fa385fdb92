"""`loupe serve`: API, web UI, queue workers and scheduler in one process on 127.0.0.1.

Everything committed lives in SQLite (WAL) and the blob folder, so a stop at any moment, even a
kill, loses nothing that was acknowledged; Ctrl-C stops the workers between messages."""

from __future__ import annotations

import functools
import gc
import logging
import multiprocessing
import resource
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from core import telemetry
from core.adapters.local.documents import SqliteDocumentStore
from core.adapters.local.queue import SqliteWorkQueue
from core.bootstrap import build
from core.http.app import create_app
from core.local import recovery
from core.local.demo import ensure_demo
from core.local.foreground import NoteForeground, shared_stamp
from core.local.scheduler import Job, Scheduler
from core.local.watcher import watcher_jobs
from core.local.workers import WorkerProcesses
from core.ports import Deps
from core.schedule import PERIODIC
from core.settings import Settings

log = logging.getLogger("loupe")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def serve(settings: Settings, *, demo: bool = True) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    telemetry.configure()  # only when APPLICATIONINSIGHTS_CONNECTION_STRING is set
    deps = build(settings)
    # Receive first, derive later: renditions have workers of their own, at a lower priority,
    # that wait while the API serves uploads and labeling (`core.local.foreground`).
    foreground = shared_stamp(multiprocessing.get_context("spawn"))
    workers = WorkerProcesses(settings, settings.workers, foreground=foreground)
    derivers = WorkerProcesses(settings, settings.workers, "derivatives", foreground=foreground)
    assist = WorkerProcesses(settings, 1, role="assist")  # `loupe worker assist`, launched here
    watching, watcher = watcher_jobs(deps)
    shared, apart = periodic_jobs(deps, settings)
    scheduler = Scheduler([*store_jobs(deps), *shared, *watching])
    recounter = Scheduler(apart)  # long scans, on a thread of their own
    try:
        link = settings.base_url + "/"
        if demo:
            link += f"#token={ensure_demo(deps, settings.data_dir).token}"
        server = _Server(
            uvicorn.Config(
                NoteForeground(
                    telemetry.instrument_http(create_app(lambda: deps, settings)), foreground
                ),
                host=settings.host,
                port=settings.port,
                log_level="warning",
                limit_concurrency=connection_cap(),
            )
        )
        recovery.recover(settings.data_dir, deps.queue)  # a killed runtime's locks, released
        workers.start()
        derivers.start()
        assist.start()
        recovery.record(settings.data_dir, [*workers.pids, *derivers.pids, *assist.pids])
        scheduler.start()
        recounter.start()
        threading.Thread(target=_announce, args=(server, link), daemon=True).start()
        # Everything loaded so far lives as long as the process: keep it out of the cyclic
        # collector's full passes, which otherwise stall a request every few thousand.
        gc.freeze()
        server.run()
    finally:
        scheduler.stop()
        if watcher is not None:
            watcher.stop()
        recounter.stop(timeout=1.0)  # a scan in progress only reads; its write is checked
        workers.stop()
        derivers.stop()
        assist.stop()
        recovery.forget(settings.data_dir)
        deps.close()
        log.info("Loupe stopped")


def connection_cap() -> int:
    """How many connections may be open at once; more are answered 503 at once. The soft
    descriptor limit is raised to the hard one first (1024 is a common soft default), and half
    of it is left to the stores, files and worker pipes, so a flood of clients can never starve
    the server of descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        wanted = 65_536 if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass  # keep the soft limit we have
    return max(16, min(soft // 2, 4096))


class _Server(uvicorn.Server):
    """Stops on SIGINT or SIGTERM and returns, so that `serve` can stop the workers and close
    the stores; uvicorn's own handling re-raises the signal, which would skip that."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)


def store_jobs(deps: Deps) -> list[Job]:
    """Housekeeping the embedded stores need: keep SQLite's write-ahead logs short."""
    jobs = []
    if isinstance(deps.documents, SqliteDocumentStore):
        jobs.append(Job("checkpoint-documents", 60.0, deps.documents.checkpoint))
    if isinstance(deps.queue, SqliteWorkQueue):
        jobs.append(Job("checkpoint-queue", 60.0, deps.queue.checkpoint))
    return jobs


def periodic_jobs(deps: Deps, settings: Settings) -> tuple[list[Job], list[Job]]:
    """The jobs of `core.schedule` (the ones Azure runs as timer triggers), at the intervals
    the settings give: those that share the scheduler's thread, and those that need one of
    their own."""
    jobs = [
        (Job(p.name, p.every_s(settings), functools.partial(p, deps, settings)), p.own_thread)
        for p in PERIODIC
    ]
    return [job for job, apart in jobs if not apart], [job for job, apart in jobs if apart]


def _announce(server: uvicorn.Server, link: str) -> None:
    while not server.started:
        if server.should_exit:
            return
        threading.Event().wait(0.05)
    print(f"\nLoupe is running: {link}\n(Ctrl-C stops it)\n", flush=True)
