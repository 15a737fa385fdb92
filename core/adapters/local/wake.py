"""Wake-ups for the SQLite queue's idle receivers on the same machine.

Each waiting thread binds a Unix datagram socket in a folder named after the database (under
the temporary folder, so the path stays short); a send writes its queue's name to every socket
there, and a receiver wakes only for the queues it serves. It waits with a timeout, so a
wake-up that is lost (a socket not yet bound, a full buffer, no Unix sockets on this system)
costs only the receiver's poll interval. Sockets whose receiver died refuse the datagram and
are removed by the sender.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import select
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Collection
from pathlib import Path

_LIST_EVERY_S = 1.0  # how long a sender trusts its listing of the folder
_POKE = b"\x00"  # not a queue's name: wakes the one receiver it is sent to


def wake_folder(database: Path) -> Path:
    digest = hashlib.sha256(str(database.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"loupe-wake-{os.getuid()}-{digest}"


class Wakes:
    """Senders' and receivers' side of one database's wake-ups."""

    def __init__(self, database: Path) -> None:
        self._folder = wake_folder(database)
        self._lock = threading.Lock()
        self._sender: socket.socket | None = None
        self._targets: list[str] = []
        self._listed_at = -_LIST_EVERY_S
        self._mine: list[_Listener] = []
        self._local = threading.local()

    def notify(self, queue: str) -> None:
        """Wake every receiver waiting on `queue` of this database; never raises."""
        if not hasattr(socket, "AF_UNIX"):
            return
        with self._lock, contextlib.suppress(OSError):
            self._notify(queue.encode())

    def _notify(self, payload: bytes) -> None:
        now = time.monotonic()
        if now - self._listed_at >= _LIST_EVERY_S:
            self._listed_at = now
            try:
                names = os.listdir(self._folder)
            except FileNotFoundError:
                names = []
            self._targets = [str(self._folder / n) for n in names if n.endswith(".sock")]
        if not self._targets:
            return
        if self._sender is None:
            self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sender.setblocking(False)
        for target in list(self._targets):
            try:
                self._sender.sendto(payload, target)
            except BlockingIOError:  # its buffer is full: it has been woken already
                pass
            except (ConnectionRefusedError, FileNotFoundError):  # its receiver is gone
                self._targets.remove(target)
                with contextlib.suppress(OSError):
                    os.unlink(target)

    def wait(self, queues: Collection[str], timeout: float) -> bool:
        """Sleep up to `timeout` seconds, less if a send to one of `queues` (or `interrupt`)
        wakes this thread; True if woken."""
        listener = self._listener()
        if listener is None:
            time.sleep(max(timeout, 0.0))
            return False
        return listener.wait({q.encode() for q in queues}, timeout)

    def interrupt(self) -> None:
        """Wake every thread of this instance that waits (to stop it)."""
        for listener in list(self._mine):
            listener.poke()

    def _listener(self) -> _Listener | None:
        listener: _Listener | None = getattr(self._local, "listener", None)
        if listener is None and not getattr(self._local, "failed", False):
            try:
                listener = _Listener(self._folder)
            except OSError:  # no Unix sockets, or a path too long: poll instead
                self._local.failed = True
                return None
            self._local.listener = listener
            self._mine.append(listener)
        return listener

    def close(self) -> None:
        for listener in self._mine:
            listener.close()
        if self._mine:
            with contextlib.suppress(OSError):  # the last one out removes the folder
                self._folder.rmdir()
        self._mine.clear()
        if self._sender is not None:
            self._sender.close()
            self._sender = None


class _Listener:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(mode=0o700, exist_ok=True)
        self.path = str(folder / f"{os.getpid()}-{uuid.uuid4().hex[:12]}.sock")
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self._socket.bind(self.path)
        except OSError:
            self._socket.close()
            raise
        self._socket.setblocking(False)

    def wait(self, wanted: set[bytes], timeout: float) -> bool:
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self._socket], [], [], max(remaining, 0.0))
            if not ready:
                return False
            woken = False
            with contextlib.suppress(OSError):
                while True:  # drain: many sends are one wake-up
                    name = self._socket.recv(1024)
                    woken = woken or name in wanted or name == _POKE
            if woken:
                return True

    def poke(self) -> None:
        """Never blocks: with its buffer full (a busy worker), the receiver is awake anyway."""
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.setblocking(False)
            s.sendto(_POKE, self.path)

    def close(self) -> None:
        self._socket.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
