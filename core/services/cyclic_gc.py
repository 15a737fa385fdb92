"""Pausing Python's cyclic garbage collector over work that builds many small objects and
frees them by reference counting alone (an import's check and write phases): the collector's
passes over every young object, and the full passes they trigger, cost a large share of the
time and find next to nothing to free."""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_holders = 0
_was_enabled = False


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """No automatic collection inside. The collector is process-wide and a server runs imports
    on several threads: it is paused by the first holder and restored, as it was found, when
    the last one leaves, so one import ending does not resume it under another."""
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()
