"""Picking up after a runtime that died without stopping (a kill, a power cut).

Its stage workers may have held messages locked for minutes (five, for ingestion), and a
restart would sit idle until those locks ran out. So the runtime records its own and its
workers' process ids in the data folder; the next start makes sure those workers are gone
(an orphan stops by itself within a second or a message, a hung one is killed) and then
releases every lock in the local queue at once. A lock released this way still counts its
delivery, as an expired lock does on Service Bus, so a message that kills its worker every time
is dead-lettered rather than retried forever."""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path

from core.adapters.local.queue import SqliteWorkQueue

log = logging.getLogger("loupe")
PIDS = "runtime.pids"
ORPHAN_GRACE_S = 3.0  # how long an orphaned worker gets to notice and stop by itself


def record(data_dir: Path, workers: Iterable[int]) -> None:
    """Write this runtime's and its workers' process ids (replacing the last runtime's)."""
    body = {"runtime": os.getpid(), "workers": sorted(workers)}
    path = data_dir / PIDS
    path.with_suffix(".tmp").write_text(json.dumps(body))
    path.with_suffix(".tmp").replace(path)


def forget(data_dir: Path) -> None:
    """A clean stop leaves nothing to recover."""
    (data_dir / PIDS).unlink(missing_ok=True)


def recover(data_dir: Path, queue: object) -> int:
    """Before this runtime starts its workers: end a dead runtime's workers and release their
    locks. Returns how many locks were released (0 when another runtime is alive here)."""
    recorded = _recorded(data_dir)
    runtime = recorded.get("runtime")
    if isinstance(runtime, int) and runtime != os.getpid() and _is_loupe(runtime):
        log.warning("another Loupe runtime (pid %d) uses %s; leaving its locks", runtime, data_dir)
        return 0
    listed = recorded.get("workers")
    workers = [pid for pid in listed if isinstance(pid, int)] if isinstance(listed, list) else []
    _end(pid for pid in workers if _is_loupe(pid))
    if not isinstance(queue, SqliteWorkQueue):
        return 0  # Service Bus expires its own locks; nothing of ours holds them
    released = queue.release_locks()
    if released:
        log.info("released %d message lock(s) left by a runtime that did not stop", released)
    return released


def _recorded(data_dir: Path) -> dict[str, object]:
    try:
        found = json.loads((data_dir / PIDS).read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _is_loupe(pid: int) -> bool:
    """A live process of ours (the id may have been reused by an unrelated process since)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"loupe" in command or b"multiprocessing" in command


def _end(pids: Iterable[int]) -> None:
    alive = list(pids)
    deadline = time.monotonic() + ORPHAN_GRACE_S
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [pid for pid in alive if _is_loupe(pid)]
    for pid in alive:
        log.warning("killing worker %d of a runtime that did not stop", pid)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    while alive and time.monotonic() < deadline + 5:
        time.sleep(0.05)
        alive = [pid for pid in alive if Path(f"/proc/{pid}").exists() and not _zombie(pid)]


def _zombie(pid: int) -> bool:
    try:
        return " Z " in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1][:4]
    except OSError:
        return True
