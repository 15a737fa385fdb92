"""The interfaces services depend on. Adapters in `core.adapters` implement them three times:
in memory (fakes for tests), locally (SQLite, a folder) and on Azure (Cosmos, Blob, Service Bus).

Every adapter raises the domain's errors: `NotFound` for a missing document or blob, `Conflict`
for a create over an existing id, `PreconditionFailed` for a stale etag.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from random import Random
from typing import Any, BinaryIO, Literal, Protocol

from core.domain.capacity import DEFAULT_ITEM_CAP
from core.domain.datasets import DatasetRoot
from core.domain.errors import InvalidInput
from core.domain.exports import PART_ITEMS
from core.domain.links import LinkSigner
from core.settings import Settings

# ---------------------------------------------------------------------------------------------
# Documents: Cosmos-shaped containers of JSON documents with a partition key and etags.
# ---------------------------------------------------------------------------------------------

JsonDoc = dict[str, Any]

FIELD_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")

Op = Literal["=", "!=", "<", "<=", ">", ">=", "in", "exists", "missing", "contains", "startswith"]


@dataclass(frozen=True)
class Where:
    """One condition on a dotted field path. A document without the field never matches,
    except for `missing`. `contains` tests membership in an array field; `in` tests the
    field's value against a list."""

    field: str
    op: Op
    value: Any = None

    def __post_init__(self) -> None:
        if not FIELD_PATH.fullmatch(self.field):
            raise InvalidInput.one("query", f"field path {self.field!r} is not a plain dotted name")


@dataclass(frozen=True)
class Order:
    field: str
    descending: bool = False

    def __post_init__(self) -> None:
        if not FIELD_PATH.fullmatch(self.field):
            raise InvalidInput.one("query", f"field path {self.field!r} is not a plain dotted name")


@dataclass(frozen=True)
class Query:
    """A portable query: conditions joined by AND, an order, a page size.

    It is translated to Cosmos SQL, to SQLite over JSON, and to Python filters, so it stays
    within what all three do alike: no OFFSET/LIMIT (paging is by continuation token), no
    GROUP BY or DISTINCT. Order fields must be present (non-null) on every matching
    document; `id`, ascending, is always the final tie-breaker."""

    where: tuple[Where, ...] = ()
    order_by: tuple[Order, ...] = ()
    page_size: int = 100


@dataclass(frozen=True)
class Document:
    body: JsonDoc
    etag: str

    @property
    def id(self) -> str:
        return str(self.body["id"])


@dataclass(frozen=True)
class Page:
    documents: list[Document]
    continuation: str | None
    """Opaque token for the next page, or None when this was the last."""


@dataclass(frozen=True)
class ContainerSpec:
    """A container's name, its partition key field (top-level), and the field tuples that
    filtered and ordered queries use. SQLite builds an index per tuple (over columns it fills
    from the bodies); Cosmos gets the composite indexes they imply. A query may order only by a
    suffix of one tuple, in one direction (every adapter refuses other orders, as Cosmos does),
    and order fields hold one JSON type."""

    name: str
    partition_key: str
    indexes: tuple[tuple[str, ...], ...] = ()
    sparse: tuple[str, ...] = ()
    """Fields leading some of `indexes` that most documents lack (null or missing): SQLite
    keeps only the documents that have one in those indexes (a partial index, one b-tree
    fewer to write per document without), so a query that index serves must compare the field
    (=, <, in, startswith...); one asking for it missing, or ordering by it alone, is answered
    all the same, from another index or a scan. Cosmos indexes every path anyway."""


class DocumentContainer(Protocol):
    spec: ContainerSpec

    def create(self, body: JsonDoc) -> Document:
        """Insert a new document; `Conflict` if its id exists in its partition."""
        ...

    def read(self, pk: str, id: str) -> Document:
        """`NotFound` when absent."""
        ...

    def get(self, pk: str, id: str) -> Document | None: ...

    def upsert(self, body: JsonDoc, *, if_match: str | None = None) -> Document:
        """Insert or replace. With `if_match`, replace only if the stored etag is that one
        (`PreconditionFailed` otherwise, `NotFound` if the document is gone)."""
        ...

    def upsert_many(self, bodies: Iterable[JsonDoc]) -> int:
        """Insert or replace many documents without etag checks; returns how many."""
        ...

    def create_many(self, bodies: Iterable[JsonDoc]) -> int:
        """Insert the documents whose id is absent from their partition and leave the stored
        ones as they are (no `Conflict`): an insert that cannot overwrite what another writer
        stored after the caller last looked. Returns how many were inserted."""
        ...

    def replace_many(self, changes: Sequence[tuple[JsonDoc, str]]) -> list[Document | None]:
        """Replace each document `body` only if its stored etag is still the one given: many
        conditional writes at the cost of few, each written or not on its own (no transaction
        across documents: Cosmos has none). In order, the written document, or None where the
        stored one changed since or is gone (read it again)."""
        ...

    def delete(self, pk: str, id: str, *, if_match: str | None = None) -> None:
        """`NotFound` when absent; with `if_match`, `PreconditionFailed` if the etag differs."""
        ...

    def query(self, pk: str | None, query: Query, continuation: str | None = None) -> Page:
        """One page of matches within partition `pk` (None: across partitions)."""
        ...

    def count(self, pk: str | None, where: Sequence[Where] = ()) -> int: ...


class StoreBusy(Exception):
    """`DocumentStore.unit(wait=False)`: another writer holds the store, so writing would
    wait; nothing was read or written."""


class DocumentStore(Protocol):
    def container(self, spec: ContainerSpec) -> DocumentContainer:
        """The container for `spec`, created if it does not exist yet."""
        ...

    def unit(self, *, wait: bool = True) -> AbstractContextManager[None]:
        """The calls this thread makes inside, done together where the store can: on SQLite
        one transaction (all written, or none on an error), taken at once, or `StoreBusy`
        without `wait` when another writer holds it; elsewhere each call on its own."""
        ...

    def close(self) -> None: ...


# ---------------------------------------------------------------------------------------------
# Blobs: named byte streams in containers (Blob Storage, a folder, a dict).
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlobInfo:
    container: str
    name: str
    size: int
    etag: str
    last_modified: datetime
    content_type: str | None = None


class BlobStore(Protocol):
    def put(
        self,
        container: str,
        name: str,
        data: bytes | BinaryIO,
        *,
        content_type: str | None = None,
        overwrite: bool = True,
    ) -> BlobInfo:
        """Write a blob from bytes or a readable stream (streamed, never read whole).
        With `overwrite=False`, `Conflict` if it exists."""
        ...

    def get(self, container: str, name: str) -> bytes: ...

    def stream(self, container: str, name: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The blob's bytes in chunks; `NotFound` is raised before the first chunk."""
        ...

    def info(self, container: str, name: str) -> BlobInfo: ...

    def exists(self, container: str, name: str) -> bool: ...

    def list(self, container: str, prefix: str = "") -> Iterator[BlobInfo]:
        """Every blob whose name starts with `prefix`, in name order, fetched page by page.
        (Azure orders by UTF-16 code units, the others by code points: they differ only for
        characters beyond the Basic Multilingual Plane.)"""
        ...

    def list_since(self, container: str, prefix: str, since: datetime) -> Iterator[BlobInfo]:
        """Every blob under `prefix` written, replaced or moved in at or after `since` (by the
        store's clock), in name order: what a reconciliation sweep needs. It may also yield
        older blobs, never leaves a newer one out. A folder skips the folders whose entries
        did not change since then, so its cost follows what changed; a blob rewritten in
        place (same file, no rename) is found by the watcher's events, not here. Blob Storage
        has no such filter: it lists the whole prefix and filters by last-modified."""
        ...

    def delete(self, container: str, name: str) -> None:
        """Idempotent: deleting a missing blob is not an error."""
        ...

    def url(self, container: str, name: str, *, expires_in_s: int = 3600) -> str | None:
        """A URL a client can GET straight from the store without other credentials, valid for
        `expires_in_s` (a SAS on Azure); None when the store has no such links, and the API
        serves the blob on a link of its own (`core.domain.links`)."""
        ...

    def write_url(self, container: str, name: str, *, expires_in_s: int = 900) -> str | None:
        """A URL a client can PUT exactly this blob to (with `x-ms-blob-type: BlockBlob`)
        without other credentials, valid for `expires_in_s`: a user delegation SAS allowing
        create and write of that one blob on Azure; None when the store has no such links, and
        the API takes the upload on a write link of its own (`core.domain.links`)."""
        ...

    def close(self) -> None: ...


# ---------------------------------------------------------------------------------------------
# Work queues: Service Bus semantics (peek-lock, lock expiry, delivery count, dead-letter).
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMessage:
    queue: str
    message_id: str
    body: JsonDoc
    delivery_count: int
    """1 on first delivery; grows each time the lock expires or the message is abandoned."""
    enqueued_at: datetime
    locked_until: datetime
    lock_token: str


@dataclass(frozen=True)
class DeadLetter:
    queue: str
    message_id: str
    body: JsonDoc
    delivery_count: int
    reason: str
    description: str
    dead_lettered_at: datetime | None = None


EXHAUSTED = "MaxDeliveryCountExceeded"
"""The dead-letter reason of a message delivered `max_delivery_count` times without being
completed: Service Bus's own words, which the local queues use too."""


@dataclass(frozen=True)
class QueueSpec:
    """A queue's settings. Service Bus queues exist only if deployed with these settings
    (`core.services.stages` declares them); the local queues honour them directly."""

    name: str
    lock_seconds: float = 60.0
    max_delivery_count: int = 10

    def spent(self, delivery_count: int) -> bool:
        """Whether a message delivered this often may not be delivered again: once its lock
        runs out or it is abandoned, it is a dead letter (`EXHAUSTED`)."""
        return delivery_count >= self.max_delivery_count


class WorkQueue(Protocol):
    def send(
        self,
        queue: str,
        body: JsonDoc,
        *,
        message_id: str | None = None,
        scheduled_at: datetime | None = None,
    ) -> str:
        """Enqueue; returns the message id. Delivery waits until `scheduled_at` if given."""
        ...

    def receive(
        self, queue: str, *, max_messages: int = 1, wait_s: float = 0.0
    ) -> list[ReceivedMessage]:
        """Lock up to `max_messages` visible messages. A message whose delivery count would
        pass the queue's maximum goes to the dead-letter queue instead. Service Bus waits at
        least a second when nothing is there."""
        ...

    def complete(self, message: ReceivedMessage) -> None:
        """Remove a locked message. `Conflict` if the lock was lost (expired and re-taken)."""
        ...

    def abandon(self, message: ReceivedMessage) -> None:
        """Release the lock now so the message is delivered again."""
        ...

    def renew_lock(self, message: ReceivedMessage) -> ReceivedMessage: ...

    def dead_letter(
        self, message: ReceivedMessage, *, reason: str, description: str = ""
    ) -> None: ...

    def dead_letters(self, queue: str, *, max_messages: int = 100) -> list[DeadLetter]:
        """Peek at the dead-letter queue without removing anything."""
        ...

    def redrive(self, queue: str, message_id: str) -> str:
        """Move the dead-lettered message `message_id` back onto `queue` as a fresh message
        (delivery count reset) and drop the dead letter; returns the new message's id.
        The id is new because Service Bus's duplicate detection would drop a copy sent under
        the old one. `NotFound` when no such dead letter is there."""
        ...

    def close(self) -> None: ...


# ---------------------------------------------------------------------------------------------
# Outbound events: what integrations may subscribe to (a Service Bus topic on Azure).
# ---------------------------------------------------------------------------------------------


class EventPublisher(Protocol):
    def publish(self, event: JsonDoc, *, event_id: str, subject: str) -> None:
        """Send one event; `event_id` lets the topic drop a repeat (duplicate detection)."""
        ...

    def close(self) -> None: ...


class DiscardEvents:
    """Publishes nowhere: a dependency set built without an event publisher (benchmarks)."""

    def publish(self, event: JsonDoc, *, event_id: str, subject: str) -> None:
        return None

    def close(self) -> None:
        return None


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class Ids(Protocol):
    def token(self, length: int = 32) -> str:
        """A new id: `length` lowercase hex digits, unique with the odds of a random uuid."""
        ...


class RandomIds:
    """Ids of random hex digits from the system's random source (`length` of them; an audit
    event takes one per item, so a bulk change of thousands makes them by the thousand)."""

    def token(self, length: int = 32) -> str:
        return secrets.token_hex((length + 1) // 2)[:length]


class CountingIds:
    """Ids 0, 1, 2… as zero-padded hex: the same ids on every run of a test."""

    def __init__(self) -> None:
        self.issued = 0

    def token(self, length: int = 32) -> str:
        issued, self.issued = self.issued, self.issued + 1
        return f"{issued:0{length}x}"[-length:]


# ---------------------------------------------------------------------------------------------
# The dependency set services receive (built by `core.bootstrap`).
# ---------------------------------------------------------------------------------------------


@dataclass
class Deps:
    documents: DocumentStore
    blobs: BlobStore
    queue: WorkQueue
    clock: Clock
    ids: Ids = field(default_factory=RandomIds)
    random: Random = field(default_factory=Random)
    """Chance where it spreads load (not secrecy): seeded in tests, so runs repeat."""
    data_container: str = "data"
    dataset_roots: tuple[DatasetRoot, ...] = ()
    """Where blob datasets may read (`Settings.dataset_roots`): nowhere unless told."""
    task_lease: timedelta = timedelta(seconds=Settings.task_lease_s)
    """How long a labeler holds a task (`Settings.task_lease_s`, its one source)."""
    item_cap: int = DEFAULT_ITEM_CAP
    """The most items one project holds (`Settings.item_cap`; an owner may set fewer)."""
    export_part_items: int = PART_ITEMS
    """Items one stage call of an export job writes (`Settings.export_part_items`)."""
    events: EventPublisher = field(default_factory=DiscardEvents)
    links: LinkSigner = field(default_factory=lambda: LinkSigner(secrets.token_bytes(32)))
    """Signs the API's own blob links (where `blobs.url` gives none)."""
    gpu_profile: str | None = None
    """The GPU profile this process was started on (`Settings.gpu_profile`): featurizing on
    the CPU there is a fallback that runs record."""

    def close(self) -> None:
        for closeable in (self.events, self.queue, self.blobs, self.documents):
            closeable.close()
