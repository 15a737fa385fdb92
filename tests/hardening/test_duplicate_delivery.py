"""Delivery is at-least-once: every stage in `core.services.stages.STAGES`, given the same message
twice in a row or twice at once, must leave what one delivery leaves (no duplicate items,
counters not doubled, one export blob). Three worlds are prepared alike up to the message; each
delivers it once, twice, or twice concurrently, then the queues are drained and every document
and blob is compared."""

from __future__ import annotations

import multiprocessing
import os
import re
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.domain.errors import Conflict, PreconditionFailed
from core.ports import Deps
from core.services import stages
from tests.hardening.pipeline import REPORT, Ids, drain, prepare, snapshot
from tests.support.deps import local_deps, memory_deps
from tests.support.reliability import Row

RETRIES = 5


@dataclass
class Target:
    """The message under test, and the world it is delivered in."""

    deps: Deps
    queue: str
    body: dict[str, Any]
    folder: Path
    ids: Ids

    def deliver(self, deps: Deps | None = None) -> int:
        """Deliver once; a delivery that loses an optimistic-concurrency race raises, and the
        queue would deliver it again: so does this. Returns how many times that happened."""
        for retry in range(RETRIES):
            try:
                stages.handle(deps or self.deps, self.queue, self.body)
                return retry
            except (Conflict, PreconditionFailed):
                continue
        raise AssertionError(f"still conflicting after {RETRIES} deliveries")


def deliver_once(target: Target) -> int:
    return target.deliver()


def deliver_twice(target: Target) -> int:
    return target.deliver() + target.deliver()


def deliver_by_threads(target: Target) -> int:
    start = threading.Barrier(2)
    retried: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        start.wait()
        try:
            retried.append(target.deliver())
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    if errors:
        raise errors[0]
    return sum(retried)


def deliver_by_processes(target: Target) -> int:
    """Two worker processes on the same SQLite files, as `loupe serve` runs its stages."""
    fork = multiprocessing.get_context("fork")
    start = fork.Barrier(2)

    def worker(index: int) -> None:
        target.ids.fresh(start=0x4000 * (index + 1))
        deps = local_deps(target.folder, target.deps.clock)
        deps.ids = target.ids
        start.wait()
        try:
            code = min(target.deliver(deps), 98)
            deps.close()
        except BaseException:
            traceback.print_exc()
            code = 99
        os._exit(code)  # not sys.exit: skip the parent's atexit and fixture teardown

    processes = [fork.Process(target=worker, args=(i,)) for i in range(2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    codes = [process.exitcode for process in processes]
    assert all(code is not None and 0 <= code < 99 for code in codes), f"exit codes {codes}"
    return sum(code or 0 for code in codes)


DELIVERIES: dict[str, Callable[[Target], int]] = {
    "twice in a row": deliver_twice,
    "twice at once (threads)": deliver_by_threads,
    "twice at once (processes)": deliver_by_processes,
}
ADAPTERS: dict[str, Callable[[Path], Deps]] = {
    "memory": lambda _: memory_deps(),
    "sqlite": local_deps,
}


def world(
    adapter: str,
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    queue: str,
    delivery: Callable[[Target], int],
) -> tuple[list[str], int, int]:
    """(snapshot, retries, follow-up messages handled) of one world."""
    folder.mkdir()
    with monkeypatch.context() as patch:
        ids = Ids(patch)
        deps = ADAPTERS[adapter](folder)
        deps.ids = ids
        try:
            body = prepare(deps, queue)
            ids.fresh()
            retries = delivery(Target(deps, queue, body, folder, ids))
            handled = drain(deps)
            return snapshot(deps), retries, handled
        finally:
            deps.close()


def split(lines: list[str]) -> tuple[list[str], list[str]]:
    """(the state, which must match exactly; the runs' own metrics, reported when they differ)."""
    reports = [line for line in lines if line.startswith(REPORT)]
    return [line for line in lines if not line.startswith(REPORT)], reports


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize("queue", list(stages.STAGES))
def test_duplicate_delivery(
    queue: str, adapter: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reliability: Any
) -> None:
    once, _, handled_once = world(adapter, tmp_path / "once", monkeypatch, queue, deliver_once)
    results: dict[str, int | float | str] = {"documents and blobs": len(split(once)[0])}
    for name, delivery in DELIVERIES.items():
        if delivery is deliver_by_processes and adapter != "sqlite":
            continue  # processes share state only through files
        folder = tmp_path / re.sub(r"\W+", "-", name)
        again, retries, _ = world(adapter, folder, monkeypatch, queue, delivery)
        state, reports = split(again)
        extra = sorted(set(state) - set(split(once)[0]))[:5]
        lost = sorted(set(split(once)[0]) - set(state))[:5]
        assert state == split(once)[0], f"{name}: more {extra}, fewer {lost}"
        results[f"{name}: differences"] = 0
        if rewritten := len(set(reports) - set(split(once)[1])):
            # Two cycles of one assist message at once both run; the run record keeps the
            # metrics of the one that finished last, whose measured speeds (itemsPerSecond)
            # differ. The items and every other document agree.
            results[f"{name}: run reports with other metrics"] = rewritten
        if retries:
            results[f"{name}: redelivered after a conflict"] = retries
    reliability.record(
        Row(
            suite="Duplicate delivery",
            test=f"{queue} on {adapter}",
            load=(
                "1 message delivered 1×, 2× in a row, 2× by two threads"
                + (", 2× by two processes" if adapter == "sqlite" else "")
            ),
            faults="duplicate delivery; concurrent delivery",
            inputs=f"a project driven to its first {queue} message; queues drained after",
            result=results | {"follow-up messages": handled_once},
        )
    )


def test_a_handler_that_is_not_idempotent_is_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The comparison is not vacuous: an export stage that also writes a blob of its own on
    every delivery (as a handler that forgot to check its job's state would) is told apart."""
    real = stages.handle

    def careless(deps: Deps, queue: str, body: dict[str, Any]) -> None:
        real(deps, queue, body)
        if queue == "export-run":
            deps.blobs.put("exports", f"copy-{uuid.uuid4().hex}.json", b"{}")

    monkeypatch.setattr(stages, "handle", careless)
    once, _, _ = world("memory", tmp_path / "once", monkeypatch, "export-run", deliver_once)
    twice, _, _ = world("memory", tmp_path / "twice", monkeypatch, "export-run", deliver_twice)
    assert len(twice) == len(once) + 1
