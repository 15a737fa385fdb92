"""SQLite connections for the local adapters: one per thread, WAL, short explicit transactions.

A connection per thread (rather than one behind a lock) lets readers run beside a writer, which
WAL allows; writers queue on SQLite's own lock, waiting up to `BUSY_TIMEOUT_MS`. Connections run
in autocommit mode, so every transaction is explicit and as short as the code makes it.

A connection lives exactly as long as its thread (it holds three descriptors: the database, its
log and the shared-memory index). Servers run requests on pools whose threads retire when idle
(AnyIO's, after 10 s) and come back fresh for the next burst; a connection kept after its thread
would leak those descriptors with every burst. So the number of open connections is the number
of live threads that used the store, which the pools bound (AnyIO: 40), rather than a fixed pool
that every call would have to check out and wait on. (SQLite itself keeps a closed connection's
database descriptor open for the next connection to reuse while another one in the process holds
the WAL read lock, since closing it would drop the process's POSIX locks: a process holds at most
its peak of connections in descriptors, which does not grow from burst to burst.)
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.ports import StoreBusy

BUSY_TIMEOUT_MS = 30_000
AUTOCHECKPOINT_PAGES = 10_000
"""WAL pages (4 KiB) after which a commit folds the log back into the database (SQLite's
default: 1,000). A registration batch of 500 items dirties 700 pages at 20k items, 1,100 at
50k (more as a project grows: the indexes ordered by rank take them anywhere), so at the default
nearly every batch's commit copied its pages into the database and synced twice; at 10,000 one
copy serves many batches, which rewrite mostly the same pages. The runtime's checkpoint job
still truncates the log every minute."""


class Connections:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        self._lock = threading.Lock()
        # Open connections by id, each closed by its finalizer: when its thread's locals go
        # (the thread ended), or from close(). The finalizers hold no reference to `self`.
        self._open: dict[int, weakref.finalize[..., _Held]] = {}
        self._closed = False
        # WAL is a property of the file: setting it once, here, holds for every connection.
        mode = self.get().execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise RuntimeError(f"{path}: SQLite refused WAL mode ({mode})")

    def get(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use and closed when the thread ends."""
        held: _Held | None = getattr(self._local, "held", None)
        if held is not None:
            return held.conn
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.path}: the store is closed")
            # check_same_thread=False so that the thread's end, or close(), may close it from
            # wherever that runs.
            conn = sqlite3.connect(
                self.path,
                isolation_level=None,
                check_same_thread=False,
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
            held = _Held(conn)
            self._open[id(conn)] = weakref.finalize(held, _close, conn, self._open)
        try:
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            # Under WAL, NORMAL may lose the last commits to a power cut, never the file.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
        except BaseException:
            self._open[id(conn)]()
            raise
        self._local.held = held
        return conn

    @property
    def open_count(self) -> int:
        """Connections open now: one per live thread that has used the store."""
        return len(self._open)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, taking the write lock at once (no upgrade deadlocks); inside a
        `unit`, a savepoint of its transaction, undone alone when it fails (a write that finds
        its document changed leaves the unit's other writes standing)."""
        conn = self.get()
        if conn.in_transaction:
            conn.execute("SAVEPOINT write")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:  # (an error SQLite rolls back itself ends the unit)
                    conn.execute("ROLLBACK TO write")
                    conn.execute("RELEASE write")
                raise
            conn.execute("RELEASE write")
            return
        with self._transaction(conn):
            yield conn

    def in_unit(self) -> bool:
        """Whether this thread's connection is inside a unit."""
        return self.get().in_transaction

    @contextmanager
    def unit(self, *, wait: bool = True) -> Iterator[None]:
        """One transaction for everything this thread does inside, reads included, holding the
        write lock from the start; without `wait`, `StoreBusy` at once when another connection
        holds it (the work can then go where waiting is harmless). Inside another unit: part
        of it."""
        conn = self.get()
        if conn.in_transaction:
            yield
            return
        with self._transaction(conn, wait=wait):
            yield

    @staticmethod
    @contextmanager
    def _transaction(conn: sqlite3.Connection, *, wait: bool = True) -> Iterator[None]:
        if wait:
            conn.execute("BEGIN IMMEDIATE")
        else:
            conn.execute("PRAGMA busy_timeout=0")
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode == sqlite3.SQLITE_BUSY:
                    raise StoreBusy(f"another writer holds the store: {error}") from None
                raise
            finally:
                conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        try:
            yield
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
            finalizers = list(self._open.values())
        for finalize in finalizers:
            finalize()  # runs at most once, whichever comes first: this or the thread's end
        self._local = threading.local()


class _Held:
    """A thread's connection, kept in the thread's locals: the thread's end drops it, which
    runs its finalizer."""

    __slots__ = ("__weakref__", "conn")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn


def _close(conn: sqlite3.Connection, open_: dict[int, object]) -> None:
    open_.pop(id(conn), None)
    conn.close()
