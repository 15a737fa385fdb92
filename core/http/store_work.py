"""A request's store work, run where it costs least. On the embedded store: right on the event
loop while no other writer holds the store (the hop to the thread pool and back costs 0.1 to
0.25 ms on two cores, as much as labeling's hottest requests spend on their store work), else
in the thread pool, where waiting for the lock holds up no other request. On Cosmos, whose
every call waits on the network: always in the pool.

Either way the work runs as one unit of the store (`DocumentStore.unit`; on SQLite one
transaction: all of it written, or none of it when it fails). Inline, the unit is taken
without waiting: it starts holding the store's lock or does nothing at all, so a busy store
sends the whole work to the pool untouched. So the work may use the document store only (the
work queue's file has a lock of its own, which a unit does not take), and should be short:
the event loop serves nobody else meanwhile."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from core.ports import Deps, StoreBusy
from core.settings import Settings

T = TypeVar("T")


async def store_work(
    deps: Deps, settings: Settings, work: Callable[[], T], *, inline: bool = True
) -> T:
    """`work()`'s result, run in one unit of the store: inline when `inline` and the embedded
    store is free at once, else in the thread pool."""
    if inline and not settings.uses_cosmos:
        try:
            with deps.documents.unit(wait=False):
                return work()
        except StoreBusy:
            pass  # nothing done: another writer holds the store, so wait for it off the loop
    return await run_in_threadpool(_in_unit, deps, work)


def _in_unit(deps: Deps, work: Callable[[], T]) -> T:
    with deps.documents.unit():
        return work()
