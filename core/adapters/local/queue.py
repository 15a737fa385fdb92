"""Work queues in SQLite with Service Bus semantics: peek-lock, lock expiry by the injected
clock, delivery counts, scheduled delivery and a dead-letter table.

A message is receivable when `visible_us <= now`; taking its lock moves `visible_us` to the
lock's expiry, so one indexed range serves new, scheduled, abandoned and expired messages alike.
Each delivery gets a fresh lock token; settling with an expired lock, or one re-taken since,
raises `Conflict`. Receives run in `BEGIN IMMEDIATE` transactions, so no two threads or
processes ever lock the same message. Times are integer microseconds since the epoch.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Collection, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.adapters.clock import aware
from core.adapters.jsonquery import encode_body
from core.adapters.local.connections import Connections
from core.adapters.local.wake import Wakes
from core.adapters.queue_core import check_batch, exhausted, lock_lost, receive_within
from core.domain.errors import NotFound
from core.ports import Clock, DeadLetter, JsonDoc, QueueSpec, ReceivedMessage

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_POLL_S = (0.005, 0.1)  # first and longest sleep between polls while waiting

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    enqueued_us INTEGER NOT NULL,
    visible_us INTEGER NOT NULL,
    delivery_count INTEGER NOT NULL DEFAULT 0,
    lock_token TEXT,
    locked_until_us INTEGER
);
CREATE INDEX IF NOT EXISTS messages_visible ON messages (queue, visible_us, seq);
CREATE UNIQUE INDEX IF NOT EXISTS messages_lock ON messages (lock_token)
    WHERE lock_token IS NOT NULL;
CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    delivery_count INTEGER NOT NULL,
    enqueued_us INTEGER NOT NULL,
    reason TEXT NOT NULL,
    description TEXT NOT NULL,
    dead_lettered_us INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_queue ON dead_letters (queue, seq);
"""

_VISIBLE = "SELECT seq, delivery_count FROM messages WHERE queue = ? AND visible_us <= ?"
_TO_DEAD = (
    "INSERT INTO dead_letters (queue, message_id, body, delivery_count, enqueued_us, reason,"
    " description, dead_lettered_us) SELECT queue, message_id, body, delivery_count,"
    " enqueued_us, ?, ?, ? FROM messages WHERE seq = ?"
)
_HELD = "lock_token = ? AND locked_until_us > ?"


def _us(dt: datetime) -> int:
    return (dt - _EPOCH) // timedelta(microseconds=1)


def _dt(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


class SqliteWorkQueue:
    def __init__(self, path: Path, clock: Clock, specs: Mapping[str, QueueSpec]) -> None:
        self._clock = clock
        self._specs = dict(specs)
        self._db = Connections(path)
        self._sent = threading.Condition()  # wakes waiting receivers of this instance early
        self._wakes = Wakes(path)  # wakes idle receivers in other processes
        with self._db.write() as conn:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)

    def _spec(self, queue: str) -> QueueSpec:
        return self._specs.get(queue) or QueueSpec(queue)

    def _now(self) -> int:
        return _us(self._clock.now())

    def send(
        self,
        queue: str,
        body: JsonDoc,
        *,
        message_id: str | None = None,
        scheduled_at: datetime | None = None,
    ) -> str:
        text = encode_body(body)
        message_id = message_id or uuid.uuid4().hex
        now = self._now()
        visible = max(now, _us(aware(scheduled_at, "scheduled_at"))) if scheduled_at else now
        self._db.get().execute(
            "INSERT INTO messages (queue, message_id, body, enqueued_us, visible_us)"
            " VALUES (?, ?, ?, ?, ?)",
            (queue, message_id, text, now, visible),
        )
        self._woken(queue)
        return message_id

    def _woken(self, queue: str) -> None:
        with self._sent:
            self._sent.notify_all()
        self._wakes.notify(queue)

    def wait_for_send(self, queues: Collection[str], timeout: float) -> bool:
        """Sleep up to `timeout` seconds, less if a message is sent to one of `queues` on
        this machine (or `interrupt_waits` is called); True if woken early. For idle workers:
        a wake-up lost costs only the timeout."""
        return self._wakes.wait(queues, timeout)

    def interrupt_waits(self) -> None:
        self._wakes.interrupt()

    def receive(
        self, queue: str, *, max_messages: int = 1, wait_s: float = 0.0
    ) -> list[ReceivedMessage]:
        check_batch(max_messages)
        # Another process's send cannot notify this one's waits: they poll as well.
        return receive_within(
            wait_s,
            lambda: self._take(queue, max_messages),
            self._pause,
            first_s=_POLL_S[0],
            longest_s=_POLL_S[1],
        )

    def _pause(self, seconds: float) -> None:
        with self._sent:
            self._sent.wait(seconds)

    def _take(self, queue: str, max_messages: int) -> list[ReceivedMessage]:
        spec = self._spec(queue)
        taken: list[ReceivedMessage] = []
        with self._db.write() as conn:
            now = self._now()  # read under the write lock, so receivers see time in order
            until = now + int(spec.lock_seconds * 1_000_000)
            while len(taken) < max_messages:
                candidates = conn.execute(
                    f"{_VISIBLE} ORDER BY visible_us, seq LIMIT ?",
                    (queue, now, max_messages - len(taken)),
                ).fetchall()
                if not candidates:
                    break
                deliver = []
                for seq, delivery_count in candidates:
                    if spec.spent(delivery_count):
                        self._exhaust(conn, seq, delivery_count, now)
                    else:
                        deliver.append(seq)
                taken += self._lock(conn, queue, deliver, until)
        return taken

    def _lock(
        self, conn: sqlite3.Connection, queue: str, seqs: list[int], until: int
    ) -> list[ReceivedMessage]:
        if not seqs:
            return []
        rows = conn.execute(
            "UPDATE messages SET delivery_count = delivery_count + 1,"
            " lock_token = lower(hex(randomblob(16))), locked_until_us = ?, visible_us = ?"
            " WHERE seq IN (SELECT value FROM json_each(?))"
            " RETURNING seq, message_id, body, delivery_count, enqueued_us, lock_token",
            (until, until, json.dumps(seqs)),
        ).fetchall()
        rows.sort()
        return [
            ReceivedMessage(queue, mid, json.loads(body), count, _dt(enq), _dt(until), token)
            for _, mid, body, count, enq, token in rows
        ]

    def _exhaust(self, conn: sqlite3.Connection, seq: int, delivery_count: int, now: int) -> None:
        self._move_to_dead(conn, seq, *exhausted(delivery_count), now)

    @staticmethod
    def _move_to_dead(
        conn: sqlite3.Connection, seq: int, reason: str, description: str, now: int
    ) -> None:
        conn.execute(_TO_DEAD, (reason, description, now, seq))
        conn.execute("DELETE FROM messages WHERE seq = ?", (seq,))

    def _held(self, conn: sqlite3.Connection, message: ReceivedMessage) -> tuple[int, int, int]:
        """(seq, delivery_count, now) of the message if its lock is still held."""
        now = self._now()
        row = conn.execute(
            f"SELECT seq, delivery_count FROM messages WHERE {_HELD}",  # noqa: S608
            (message.lock_token, now),
        ).fetchone()
        if row is None:
            raise lock_lost(message)
        return int(row[0]), int(row[1]), now

    def complete(self, message: ReceivedMessage) -> None:
        with self._db.write() as conn:
            seq, _, _ = self._held(conn, message)
            conn.execute("DELETE FROM messages WHERE seq = ?", (seq,))

    def abandon(self, message: ReceivedMessage) -> None:
        with self._db.write() as conn:
            seq, delivery_count, now = self._held(conn, message)
            if self._spec(message.queue).spent(delivery_count):
                self._exhaust(conn, seq, delivery_count, now)
                return
            conn.execute(
                "UPDATE messages SET visible_us = ?, lock_token = NULL, locked_until_us = NULL"
                " WHERE seq = ?",
                (now, seq),
            )
        self._woken(message.queue)

    def renew_lock(self, message: ReceivedMessage) -> ReceivedMessage:
        with self._db.write() as conn:
            seq, _, now = self._held(conn, message)
            until = now + int(self._spec(message.queue).lock_seconds * 1_000_000)
            conn.execute(
                "UPDATE messages SET locked_until_us = ?, visible_us = ? WHERE seq = ?",
                (until, until, seq),
            )
        return replace(message, locked_until=_dt(until))

    def dead_letter(self, message: ReceivedMessage, *, reason: str, description: str = "") -> None:
        with self._db.write() as conn:
            seq, _, now = self._held(conn, message)
            self._move_to_dead(conn, seq, reason, description, now)

    def dead_letters(self, queue: str, *, max_messages: int = 100) -> list[DeadLetter]:
        with self._db.write() as conn:
            # A message whose last lock ran out at the maximum is dead already (as on Service
            # Bus), even if no receive has come along to move it.
            now = self._now()
            for seq, delivery_count in conn.execute(
                f"{_VISIBLE} AND delivery_count >= ?",  # `QueueSpec.spent`, in SQL
                (queue, now, self._spec(queue).max_delivery_count),
            ).fetchall():
                self._exhaust(conn, seq, delivery_count, now)
            rows = conn.execute(
                "SELECT message_id, body, delivery_count, reason, description, dead_lettered_us"
                " FROM dead_letters WHERE queue = ? ORDER BY seq LIMIT ?",
                (queue, max_messages),
            ).fetchall()
        return [_dead_letter(queue, *row) for row in rows]

    def redrive(self, queue: str, message_id: str) -> str:
        new_id = uuid.uuid4().hex
        with self._db.write() as conn:  # one transaction: the message is never in both, or none
            row = conn.execute(
                "SELECT seq, body FROM dead_letters WHERE queue = ? AND message_id = ?"
                " ORDER BY seq LIMIT 1",
                (queue, message_id),
            ).fetchone()
            if row is None:
                raise NotFound(f"no dead-lettered message {message_id!r} on queue {queue!r}")
            now = self._now()
            conn.execute(
                "INSERT INTO messages (queue, message_id, body, enqueued_us, visible_us)"
                " VALUES (?, ?, ?, ?, ?)",
                (queue, new_id, row[1], now, now),
            )
            conn.execute("DELETE FROM dead_letters WHERE seq = ?", (row[0],))
        self._woken(queue)
        return new_id

    def release_locks(self) -> int:
        """Make every locked message receivable now (its delivery still counted): for a
        runtime restarting after a crash, once no worker of the dead one is left."""
        with self._db.write() as conn:
            released = conn.execute(
                "UPDATE messages SET visible_us = ?, lock_token = NULL, locked_until_us = NULL"
                " WHERE lock_token IS NOT NULL",
                (self._now(),),
            ).rowcount
        return int(released)

    def checkpoint(self) -> None:
        self._db.checkpoint()

    def close(self) -> None:
        self._wakes.close()
        self._db.close()


def _dead_letter(
    queue: str, message_id: str, body: str, count: int, reason: str, description: str, at: int
) -> DeadLetter:
    parsed: Any = json.loads(body)
    return DeadLetter(queue, message_id, parsed, count, reason, description, _dt(at))
