"""SQLite connections for the local adapters: one per thread, WAL, short explicit transactions.

A connection per thread (rather than one behind a lock) lets readers run beside a writer, which
WAL allows; writers queue on SQLite's own lock, waiting up to `BUSY_TIMEOUT_MS`. Connections run
in autocommit mode, so every transaction is explicit and as short as the code makes it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BUSY_TIMEOUT_MS = 30_000


class Connections:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[sqlite3.Connection] = []
        self._closed = False
        # WAL is a property of the file: setting it once, here, holds for every connection.
        mode = self.get().execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise RuntimeError(f"{path}: SQLite refused WAL mode ({mode})")

    def get(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.path}: the store is closed")
            # check_same_thread=False only so that close() may run on any thread.
            conn = sqlite3.connect(
                self.path,
                isolation_level=None,
                check_same_thread=False,
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
            self._all.append(conn)
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # Under WAL, NORMAL may lose the last commits to a power cut but never corrupts the file.
        conn.execute("PRAGMA synchronous=NORMAL")
        self._local.conn = conn
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, taking the write lock at once (no upgrade deadlocks)."""
        conn = self.get()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def checkpoint(self) -> None:
        """Fold the write-ahead log back into the database file and truncate it. SQLite's own
        automatic checkpoints cannot finish while readers keep going, so the log of a busy
        server would otherwise grow without bound."""
        self.get().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
        self._local = threading.local()
