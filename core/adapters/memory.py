"""In-memory adapters: first-class implementations of the ports, used by unit tests.

They keep the same promises as the SQLite and Azure adapters (the contract suites run on all
of them): stored documents are copies, etags change on every write, queue locks expire by the
injected clock. Each is thread-safe behind one lock.
"""

from __future__ import annotations

import copy
import io
import json
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cmp_to_key
from typing import Any, BinaryIO

from core.adapters.blob_names import check_blob_name, check_container_name
from core.adapters.clock import ManualClock as ManualClock
from core.adapters.clock import aware
from core.adapters.jsonquery import (
    check_order_declared,
    check_query,
    check_where,
    compare_keys,
    decode_body,
    decode_token,
    document_key,
    effective_order,
    encode_body,
    encode_token,
    matches,
    order_values,
)
from core.adapters.queue_core import check_batch, exhausted, lock_lost, receive_within
from core.domain.errors import Conflict, NotFound, PreconditionFailed
from core.ports import (
    BlobInfo,
    Clock,
    ContainerSpec,
    DeadLetter,
    Document,
    JsonDoc,
    Page,
    Query,
    QueueSpec,
    ReceivedMessage,
    Where,
)


def _new_etag() -> str:
    return uuid.uuid4().hex


# -- documents ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stored:
    text: str
    parsed: JsonDoc  # private: never handed out, bodies are parsed afresh from `text`
    etag: str

    def document(self) -> Document:
        return Document(decode_body(self.text), self.etag)


class MemoryContainer:
    def __init__(self, spec: ContainerSpec, lock: threading.Lock) -> None:
        self.spec = spec
        self._lock = lock
        self._partitions: dict[str, dict[str, _Stored]] = {}

    def _stored(self, body: JsonDoc) -> tuple[str, str, _Stored]:
        pk, doc_id = document_key(self.spec, body)
        text = encode_body(body)
        return pk, doc_id, _Stored(text, decode_body(text), _new_etag())

    def create(self, body: JsonDoc) -> Document:
        pk, doc_id, stored = self._stored(body)
        with self._lock:
            partition = self._partitions.setdefault(pk, {})
            if doc_id in partition:
                raise Conflict(f"a document with id {doc_id!r} already exists")
            partition[doc_id] = stored
        return stored.document()

    def read(self, pk: str, id: str) -> Document:
        document = self.get(pk, id)
        if document is None:
            raise NotFound(f"no document with id {id!r} in partition {pk!r}")
        return document

    def get(self, pk: str, id: str) -> Document | None:
        with self._lock:
            stored = self._partitions.get(pk, {}).get(id)
        return None if stored is None else stored.document()

    def upsert(self, body: JsonDoc, *, if_match: str | None = None) -> Document:
        pk, doc_id, stored = self._stored(body)
        with self._lock:
            partition = self._partitions.setdefault(pk, {})
            if if_match is not None:
                self._check_etag(partition.get(doc_id), pk, doc_id, if_match)
            partition[doc_id] = stored
        return stored.document()

    def upsert_many(self, bodies: Iterable[JsonDoc]) -> int:
        prepared = [self._stored(body) for body in bodies]
        with self._lock:
            for pk, doc_id, stored in prepared:
                self._partitions.setdefault(pk, {})[doc_id] = stored
        return len(prepared)

    def create_many(self, bodies: Iterable[JsonDoc]) -> int:
        prepared = [self._stored(body) for body in bodies]
        created = 0
        with self._lock:
            for pk, doc_id, stored in prepared:
                partition = self._partitions.setdefault(pk, {})
                if doc_id not in partition:
                    partition[doc_id] = stored
                    created += 1
        return created

    def replace_many(self, changes: Sequence[tuple[JsonDoc, str]]) -> list[Document | None]:
        prepared = [(self._stored(body), if_match) for body, if_match in changes]
        written: list[Document | None] = []
        with self._lock:
            for (pk, doc_id, stored), if_match in prepared:
                partition = self._partitions.setdefault(pk, {})
                found = partition.get(doc_id)
                if found is None or found.etag != if_match:
                    written.append(None)
                    continue
                partition[doc_id] = stored
                written.append(stored.document())
        return written

    def delete(self, pk: str, id: str, *, if_match: str | None = None) -> None:
        with self._lock:
            partition = self._partitions.get(pk, {})
            stored = partition.get(id)
            if if_match is not None:
                self._check_etag(stored, pk, id, if_match)
            elif stored is None:
                raise NotFound(f"no document with id {id!r} in partition {pk!r}")
            del partition[id]

    @staticmethod
    def _check_etag(stored: _Stored | None, pk: str, doc_id: str, if_match: str) -> None:
        if stored is None:
            raise NotFound(f"no document with id {doc_id!r} in partition {pk!r}")
        if stored.etag != if_match:
            raise PreconditionFailed(f"document {doc_id!r} was changed by someone else")

    def _matching(self, pk: str | None, where: Sequence[Where]) -> list[_Stored]:
        with self._lock:
            if pk is None:
                pool = [s for p in self._partitions.values() for s in p.values()]
            elif where and where[0].field == "id" and where[0].op == "in":
                # Documents by their ids (imports look items up so): read from the partition's
                # dict, as Cosmos and SQLite use their primary key, not a scan per query.
                partition = self._partitions.get(pk, {})
                ids = [i for i in where[0].value if isinstance(i, str)]
                pool = [partition[i] for i in dict.fromkeys(ids) if i in partition]
            else:
                pool = list(self._partitions.get(pk, {}).values())
        return [s for s in pool if matches(s.parsed, where)]

    def query(self, pk: str | None, query: Query, continuation: str | None = None) -> Page:
        check_query(query)
        check_order_declared(self.spec, query)
        orders = effective_order(query.order_by, [self.spec.partition_key] if pk is None else [])
        rows = [(order_values(s.parsed, orders), s) for s in self._matching(pk, query.where)]
        if continuation is not None:
            after = decode_token(continuation, orders)
            rows = [r for r in rows if compare_keys(r[0], after, orders) > 0]

        def compare(a: tuple[list[Any], _Stored], b: tuple[list[Any], _Stored]) -> int:
            return compare_keys(a[0], b[0], orders)

        rows.sort(key=cmp_to_key(compare))
        page = rows[: query.page_size]
        token = encode_token(orders, page[-1][0]) if len(rows) > query.page_size else None
        return Page([s.document() for _, s in page], token)

    def count(self, pk: str | None, where: Sequence[Where] = ()) -> int:
        for w in where:
            check_where(w)
        return len(self._matching(pk, where))


class MemoryDocumentStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._containers: dict[str, MemoryContainer] = {}

    def container(self, spec: ContainerSpec) -> MemoryContainer:
        with self._lock:
            found = self._containers.get(spec.name)
            if found is None:
                found = self._containers[spec.name] = MemoryContainer(spec, self._lock)
            found.spec = spec  # indexes mean nothing here; the documents stay
            return found

    def unit(self, *, wait: bool = True) -> AbstractContextManager[None]:
        return nullcontext()  # each call on its own, as on Cosmos

    def close(self) -> None:
        pass


# -- blobs --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Blob:
    data: bytes
    info: BlobInfo


class MemoryBlobStore:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._blobs: dict[tuple[str, str], _Blob] = {}

    def put(
        self,
        container: str,
        name: str,
        data: bytes | BinaryIO,
        *,
        content_type: str | None = None,
        overwrite: bool = True,
    ) -> BlobInfo:
        _check(container, name)
        content = bytes(data) if isinstance(data, bytes | bytearray | memoryview) else _drain(data)
        info = BlobInfo(container, name, len(content), _new_etag(), self._clock.now(), content_type)
        with self._lock:
            if not overwrite and (container, name) in self._blobs:
                raise Conflict(f"blob {name!r} already exists in {container!r}")
            self._blobs[container, name] = _Blob(content, info)
        return info

    def _blob(self, container: str, name: str) -> _Blob:
        _check(container, name)
        with self._lock:
            blob = self._blobs.get((container, name))
        if blob is None:
            raise NotFound(f"no blob {name!r} in container {container!r}")
        return blob

    def get(self, container: str, name: str) -> bytes:
        return self._blob(container, name).data

    def stream(self, container: str, name: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        data = self._blob(container, name).data
        return (data[i : i + chunk_size] for i in range(0, len(data), chunk_size))

    def info(self, container: str, name: str) -> BlobInfo:
        return self._blob(container, name).info

    def exists(self, container: str, name: str) -> bool:
        _check(container, name)
        with self._lock:
            return (container, name) in self._blobs

    def list(self, container: str, prefix: str = "") -> Iterator[BlobInfo]:
        check_container_name(container)
        with self._lock:
            infos = [b.info for (c, n), b in self._blobs.items() if c == container]
        return iter(sorted((i for i in infos if i.name.startswith(prefix)), key=_by_name))

    def list_since(self, container: str, prefix: str, since: datetime) -> Iterator[BlobInfo]:
        return (info for info in self.list(container, prefix) if info.last_modified >= since)

    def delete(self, container: str, name: str) -> None:
        _check(container, name)
        with self._lock:
            self._blobs.pop((container, name), None)

    def url(self, container: str, name: str, *, expires_in_s: int = 3600) -> str | None:
        _check(container, name)
        return None  # served by the API, like a folder's

    def write_url(self, container: str, name: str, *, expires_in_s: int = 900) -> str | None:
        _check(container, name)
        return None  # written through the API, like a folder

    def close(self) -> None:
        pass


def _check(container: str, name: str) -> None:
    check_container_name(container)
    check_blob_name(name)


def _by_name(info: BlobInfo) -> str:
    return info.name


def _drain(stream: BinaryIO) -> bytes:
    buffer = io.BytesIO()
    while chunk := stream.read(1 << 20):
        buffer.write(chunk)
    return buffer.getvalue()


# -- work queue ---------------------------------------------------------------------------------


@dataclass
class _Message:
    seq: int
    queue: str
    message_id: str
    text: str
    enqueued_at: datetime
    visible_at: datetime
    delivery_count: int = 0
    lock_token: str | None = None
    locked_until: datetime | None = None


_POLL_S = 0.05  # a wait also polls: the clock may move without telling anyone


class MemoryWorkQueue:
    def __init__(self, clock: Clock, specs: Mapping[str, QueueSpec]) -> None:
        self._clock = clock
        self._specs = dict(specs)
        self._arrived = threading.Condition(threading.Lock())
        self._messages: dict[int, _Message] = {}
        self._locked: dict[str, _Message] = {}
        self._dead: list[DeadLetter] = []
        self._seq = 0

    def _spec(self, queue: str) -> QueueSpec:
        return self._specs.get(queue) or QueueSpec(queue)

    def send(
        self,
        queue: str,
        body: JsonDoc,
        *,
        message_id: str | None = None,
        scheduled_at: datetime | None = None,
    ) -> str:
        text = encode_body(body)
        now = self._clock.now()
        visible_at = max(now, aware(scheduled_at, "scheduled_at")) if scheduled_at else now
        message_id = message_id or uuid.uuid4().hex
        with self._arrived:
            self._seq += 1
            self._messages[self._seq] = _Message(
                self._seq, queue, message_id, text, now, visible_at
            )
            self._arrived.notify_all()
        return message_id

    def receive(
        self, queue: str, *, max_messages: int = 1, wait_s: float = 0.0
    ) -> list[ReceivedMessage]:
        check_batch(max_messages)
        with self._arrived:  # a send wakes the wait
            return receive_within(
                wait_s,
                lambda: self._take(queue, max_messages),
                self._arrived.wait,
                first_s=_POLL_S,
                longest_s=_POLL_S,
            )

    def _take(self, queue: str, max_messages: int) -> list[ReceivedMessage]:
        spec, now = self._spec(queue), self._clock.now()
        visible = sorted(
            (m for m in self._messages.values() if m.queue == queue and m.visible_at <= now),
            key=lambda m: (m.visible_at, m.seq),
        )
        taken: list[ReceivedMessage] = []
        for m in visible:
            if len(taken) == max_messages:
                break
            if spec.spent(m.delivery_count):
                self._exhausted(m, now)
                continue
            if m.lock_token is not None:
                del self._locked[m.lock_token]
            m.delivery_count += 1
            m.lock_token = uuid.uuid4().hex
            m.locked_until = m.visible_at = now + timedelta(seconds=spec.lock_seconds)
            self._locked[m.lock_token] = m
            taken.append(
                ReceivedMessage(
                    queue,
                    m.message_id,
                    decode_body(m.text),
                    m.delivery_count,
                    m.enqueued_at,
                    m.locked_until,
                    m.lock_token,
                )
            )
        return taken

    def _holding(self, message: ReceivedMessage) -> tuple[_Message, datetime]:
        """The stored message if `message`'s lock is still held; `Conflict` otherwise."""
        now = self._clock.now()
        m = self._locked.get(message.lock_token)
        if m is None or m.locked_until is None or m.locked_until <= now:
            raise lock_lost(message)
        return m, now

    def _remove(self, m: _Message) -> None:
        del self._messages[m.seq]
        if m.lock_token is not None:
            self._locked.pop(m.lock_token, None)

    def _to_dead(self, m: _Message, reason: str, description: str, now: datetime) -> None:
        self._remove(m)
        self._dead.append(
            DeadLetter(
                m.queue,
                m.message_id,
                decode_body(m.text),
                m.delivery_count,
                reason,
                description,
                now,
            )
        )

    def _exhausted(self, m: _Message, now: datetime) -> None:
        self._to_dead(m, *exhausted(m.delivery_count), now)

    def complete(self, message: ReceivedMessage) -> None:
        with self._arrived:
            m, _ = self._holding(message)
            self._remove(m)

    def abandon(self, message: ReceivedMessage) -> None:
        with self._arrived:
            m, now = self._holding(message)
            if self._spec(m.queue).spent(m.delivery_count):
                self._exhausted(m, now)
                return
            del self._locked[message.lock_token]
            m.lock_token = m.locked_until = None
            m.visible_at = now
            self._arrived.notify_all()

    def renew_lock(self, message: ReceivedMessage) -> ReceivedMessage:
        with self._arrived:
            m, now = self._holding(message)
            until = now + timedelta(seconds=self._spec(m.queue).lock_seconds)
            m.locked_until = m.visible_at = until
        return replace(message, locked_until=until)

    def dead_letter(self, message: ReceivedMessage, *, reason: str, description: str = "") -> None:
        with self._arrived:
            m, now = self._holding(message)
            self._to_dead(m, reason, description, now)

    def dead_letters(self, queue: str, *, max_messages: int = 100) -> list[DeadLetter]:
        with self._arrived:
            # Messages whose last lock ran out at the maximum are dead already (as on Service Bus).
            now, spec = self._clock.now(), self._spec(queue)
            for m in list(self._messages.values()):
                if m.queue == queue and m.visible_at <= now and spec.spent(m.delivery_count):
                    self._exhausted(m, now)
            dead = [d for d in self._dead if d.queue == queue][:max_messages]
        return [replace(d, body=json.loads(json.dumps(d.body))) for d in dead]  # copies

    def redrive(self, queue: str, message_id: str) -> str:
        with self._arrived:
            found = next(
                (d for d in self._dead if d.queue == queue and d.message_id == message_id), None
            )
            if found is None:
                raise NotFound(f"no dead-lettered message {message_id!r} on queue {queue!r}")
            self._dead.remove(found)
        return self.send(queue, found.body)

    def close(self) -> None:
        pass


class MemoryEventLog:
    """Outbound events kept in a list, for tests to read (`published`)."""

    def __init__(self) -> None:
        self.published: list[JsonDoc] = []
        self._ids: set[str] = set()
        self._lock = threading.Lock()

    def publish(self, event: JsonDoc, *, event_id: str, subject: str) -> None:
        with self._lock:
            if event_id not in self._ids:  # the topic's duplicate detection
                self._ids.add(event_id)
                self.published.append(copy.deepcopy(event))

    def close(self) -> None:
        return None
