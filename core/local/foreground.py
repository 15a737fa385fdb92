"""Receive first, derive later: the embedded runtime's API notes when it last served work a
person is waiting on (a file arriving, a task handed out, an answer saved), and the derivative
workers leave thumbnails and renditions for a quiet moment.

The note is one shared double, the monotonic time of the last such request, written by the API
process and read by the worker processes it started (`multiprocessing` shared memory: no lock,
no system call on the request path). Derivative work waits while the note is younger than
`QUIET_S` (a stage someone waits on, an import or an export job, keeps it fresh while it runs:
`Stamping`), but never longer than `MAX_WAIT_S` in a row, so a team labeling all day still gets
the thumbnails of files added meanwhile; and its workers run at a lower CPU priority anyway
(`DERIVE_NICE`), so what runs during work yields most of the cores to it."""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from multiprocessing.context import SpawnContext
from typing import Any, Protocol

QUIET_S = 1.0
"""Derivative work starts once no foreground request has come for this long."""
MAX_WAIT_S = 30.0
"""…or once it has waited this long in a row: then one message runs (at low priority)."""
DERIVE_NICE = 5
"""The derivative workers' niceness: the kernel gives them about a quarter of a core busy with
foreground work (and more than ML assist's worker, at 10: the review grid waits on them)."""
_MARKS = ("/uploads", "/files/", "/tasks/", "/annotation", "/skip")
"""Request paths people wait on: uploads and their completion, PUTs through the API, next task,
renew, release, submit (one or a page), skip. Blob write links are `/api/blobs/…` PUTs."""

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class Shared(Protocol):
    value: float


def shared_stamp(context: SpawnContext) -> Shared:
    """A double in shared memory that worker processes started from `context` can read."""
    stamp: Shared = context.Value("d", 0.0, lock=False)
    return stamp


def is_foreground(method: str, path: str) -> bool:
    if method == "PUT" and path.startswith("/api/blobs/"):
        return True  # a file arriving on its write link
    return method in ("POST", "PUT") and any(mark in path for mark in _MARKS)


class NoteForeground:
    """ASGI middleware: stamps the shared note on each foreground request, nothing else."""

    def __init__(self, app: App, stamp: Shared) -> None:
        self._app = app
        self._stamp = stamp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_foreground(scope["method"], scope["path"]):
            self._stamp.value = time.monotonic()
        await self._app(scope, receive, send)


class Stamping:
    """Keeps the note fresh while a stage someone waits on runs (an import or an export job:
    its writes and those of the renditions would queue for the same database lock)."""

    def __init__(self, stamp: Shared, every_s: float = QUIET_S / 2) -> None:
        self._stamp = stamp
        self._every_s = every_s
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="foreground-note", daemon=True)

    def __enter__(self) -> Stamping:
        self._stamp.value = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()
        self._stamp.value = time.monotonic()

    def _run(self) -> None:
        while not self._done.wait(self._every_s):
            self._stamp.value = time.monotonic()


class Yield:
    """The derivative workers' gate: whether to take a message now."""

    def __init__(
        self, stamp: Shared, *, quiet_s: float = QUIET_S, max_wait_s: float = MAX_WAIT_S
    ) -> None:
        self._stamp = stamp
        self._quiet_s = quiet_s
        self._max_wait_s = max_wait_s
        self._waiting_since: float | None = None

    def __call__(self) -> bool:
        now = time.monotonic()
        if now - self._stamp.value >= self._quiet_s:
            self._waiting_since = None
            return True
        if self._waiting_since is None:
            self._waiting_since = now
        if now - self._waiting_since >= self._max_wait_s:
            self._waiting_since = now  # one message, then wait again
            return True
        return False
