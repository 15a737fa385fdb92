"""`loupe serve`: API, web UI, queue workers and scheduler in one process on 127.0.0.1.

Everything committed lives in SQLite (WAL) and the blob folder, so a stop at any moment, even a
kill, loses nothing that was acknowledged; Ctrl-C stops the workers between messages."""

from __future__ import annotations

import gc
import logging
import multiprocessing
import resource
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

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
from core.local.watcher import ingest_jobs
from core.local.workers import WorkerProcesses
from core.ports import Deps
from core.services.assist import schedule_training
from core.services.label_classes import send_pending_rewrites
from core.services.recount import recount
from core.services.tasks import expire_leases
from core.settings import Settings

log = logging.getLogger("loupe")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
LEASE_SWEEP_S = 30.0  # expired task leases go back to the queue within this
ASSIST_SWEEP_S = 10.0  # a project due for training starts its cycle within this
RELABEL_SWEEP_S = 30.0  # a class change whose writer died starts rewriting items within this


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
    ingest, watcher = ingest_jobs(deps, settings.reconcile_s)
    scheduler = Scheduler([*local_jobs(deps), *ingest])
    # On a thread of its own: a scan of a large project must not hold up the lease sweep.
    recounter = Scheduler([recount_job(deps, settings.recount_s)])
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


def local_jobs(deps: Deps) -> list[Job]:
    """Housekeeping the embedded stores need: keep SQLite's write-ahead logs short."""
    jobs = []
    if isinstance(deps.documents, SqliteDocumentStore):
        jobs.append(Job("checkpoint-documents", 60.0, deps.documents.checkpoint))
    if isinstance(deps.queue, SqliteWorkQueue):
        jobs.append(Job("checkpoint-queue", 60.0, deps.queue.checkpoint))
    # A short lease (tests) is swept often enough to matter; the usual one every 30 s.
    sweep_s = min(LEASE_SWEEP_S, max(deps.task_lease.total_seconds() / 4, 0.5))
    jobs.append(Job("lease-sweep", sweep_s, lambda: _log_expired(expire_leases(deps))))
    jobs.append(
        Job("assist-schedule", ASSIST_SWEEP_S, lambda: _log_started(schedule_training(deps)))
    )
    jobs.append(Job("label-classes-sweep", RELABEL_SWEEP_S, lambda: _log_rewrites(deps)))
    return jobs


def recount_job(deps: Deps, every_s: float) -> Job:
    """The dashboard's counters checked against the items (`core.services.recount`)."""
    every = timedelta(seconds=every_s)
    return Job("recount", every_s, lambda: _log_recounted(recount(deps, every=every)))


def _log_expired(count: int) -> None:
    if count:
        log.info("returned %d expired task lease(s) to the queue", count)


def _log_rewrites(deps: Deps) -> None:
    started = send_pending_rewrites(deps)
    if started:
        log.warning("started %d label-class rewrite(s) whose request died before", started)


def _log_started(count: int) -> None:
    if count:
        log.info("queued %d ML-assist training cycle(s)", count)


def _log_recounted(count: int) -> None:
    if count:
        log.info("corrected %d dashboard count(s) against the items", count)


def _announce(server: uvicorn.Server, link: str) -> None:
    while not server.started:
        if server.should_exit:
            return
        threading.Event().wait(0.05)
    print(f"\nLoupe is running: {link}\n(Ctrl-C stops it)\n", flush=True)
