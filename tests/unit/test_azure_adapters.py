"""What the Azure adapters promise beyond the port contracts: SAS URLs a plain HTTP client can
use (and cannot forge), Cosmos SQL that real Cosmos and the emulator both run, keyset paging,
Service Bus lock and dead-letter handling through the fake at the SDK seam, and the emulator
plugin's own promises."""

from __future__ import annotations

import base64
import io
import itertools
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cmp_to_key
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from azure.core.credentials import AccessToken
from azure.servicebus import ServiceBusMessage
from azure.storage.blob import BlobServiceClient, UserDelegationKey

from core.adapters.azure import cosmos_sql
from core.adapters.azure.blobs import AzureBlobStore
from core.adapters.azure.documents import CosmosContainer, CosmosDocumentStore
from core.adapters.azure.queue import MALFORMED_BODY, ServiceBusWorkQueue
from core.adapters.blob_names import check_blob_name, check_container_name
from core.adapters.jsonquery import compare_keys, effective_order, order_values
from core.adapters.memory import ManualClock
from core.domain.errors import Conflict, InvalidInput, NotFound
from core.ports import ContainerSpec, Order, Query, QueueSpec, Where
from tests.support import emulators
from tests.support.fake_servicebus import FakeServiceBusClient

ITEMS = ContainerSpec("items", "projectId", indexes=(("state", "rank"), ("value",)))
SPECS = {"work": QueueSpec("work", lock_seconds=30, max_delivery_count=2)}


# -- blob names (shared by every blob store) ----------------------------------------------------


@pytest.mark.parametrize("name", ["a", "a/b.txt", "dir/a b.txt", "ünï/猫.png", "x" * 1024])
def test_portable_blob_names_pass_unchanged(name: str) -> None:
    assert check_blob_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", ".", "..", "a/./b", "a/../b", "../a", "/a", "a/", "a//b", "a\\b", "a\x00b", "a\tb",
     "a\x7fb", "a\ufffe", "\ud800", "é" * 513],
)  # fmt: skip
def test_unportable_blob_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput):
        check_blob_name(name)


@pytest.mark.parametrize("name", ["abc", "data", "a-b-c", "x" * 63, "0ab"])
def test_valid_container_names(name: str) -> None:
    assert check_container_name(name) == name


@pytest.mark.parametrize("name", ["ab", "x" * 64, "Data", "a--b", "-ab", "ab-", "a_b", "a.b"])
def test_invalid_container_names(name: str) -> None:
    with pytest.raises(InvalidInput):
        check_container_name(name)


# -- blob SAS URLs ------------------------------------------------------------------------------


@pytest.fixture
def azure_blobs(azurite: emulators.Azurite) -> Iterator[AzureBlobStore]:
    store = AzureBlobStore(azurite.service_client())
    yield store
    store.close()


def _fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _with_param(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query[name] = value
    encoded = "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items())
    return parts._replace(query=encoded).geturl()


@pytest.mark.emulators
def test_sas_url_serves_the_blob_to_a_plain_http_client(azure_blobs: AzureBlobStore) -> None:
    azure_blobs.put("data", "dir/a b ü.txt", b"hello, world", content_type="text/plain")

    url = azure_blobs.url("data", "dir/a b ü.txt", expires_in_s=120)

    assert _fetch(url) == (200, b"hello, world")
    query = parse_qs(urlsplit(url).query)
    assert query["sp"] == ["r"]  # read only
    expiry = datetime.fromisoformat(query["se"][0].replace("Z", "+00:00"))
    assert timedelta(seconds=60) < expiry - datetime.now(UTC) <= timedelta(seconds=121)


@pytest.mark.emulators
def test_a_tampered_sas_url_is_refused(azure_blobs: AzureBlobStore) -> None:
    azure_blobs.put("data", "secret.txt", b"secret")
    azure_blobs.put("data", "other.txt", b"other")
    url = azure_blobs.url("data", "secret.txt")
    sig = parse_qs(urlsplit(url).query)["sig"][0]
    raw = bytearray(base64.b64decode(sig))
    raw[0] ^= 0xFF

    forged_sig = _with_param(url, "sig", base64.b64encode(bytes(raw)).decode())
    more_rights = _with_param(url, "sp", "rw")
    later = _with_param(url, "se", "2099-01-01T00:00:00Z")
    other_blob = url.replace("secret.txt", "other.txt")

    for tampered in (forged_sig, more_rights, later, other_blob):
        status, _ = _fetch(tampered)
        assert status == 403, tampered
    assert _fetch(url) == (200, b"secret")


class _Trickle(io.RawIOBase):
    """A non-seekable source that hands out at most `step` bytes a read and records reads."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._step, self.largest_read = data, step, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.largest_read = max(self.largest_read, size)
        part, self._data = self._data[: min(size, self._step)], self._data[min(size, self._step) :]
        return part


@pytest.mark.emulators
def test_a_large_stream_goes_up_in_blocks_never_whole(azure_blobs: AzureBlobStore) -> None:
    data = bytes(range(256)) * (9 * 4096 + 3)  # 9 MiB and a bit: past the single-put size
    source = _Trickle(data, step=1 << 16)

    info = azure_blobs.put("data", "big.bin", source)  # type: ignore[arg-type]

    assert info.size == len(data) == azure_blobs.info("data", "big.bin").size
    assert source.largest_read <= (4 << 20) + 1
    assert b"".join(azure_blobs.stream("data", "big.bin", chunk_size=3 << 20)) == data
    with pytest.raises(Conflict):
        azure_blobs.put("data", "big.bin", _Trickle(data, 1 << 20), overwrite=False)  # type: ignore[arg-type]
    assert azure_blobs.get("data", "big.bin") == data


class _Credential:
    """A token credential (identity-based access): no account key to sign with."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("token", int(datetime.now(UTC).timestamp()) + 3600)


class _DelegatingService(BlobServiceClient):
    """A real client whose one network call, fetching a user delegation key, is answered here."""

    def __init__(self) -> None:
        super().__init__("https://acct.blob.core.windows.net", credential=_Credential())
        self.key_requests: list[tuple[datetime, datetime]] = []

    def get_user_delegation_key(
        self, key_start_time: datetime, key_expiry_time: datetime, **kwargs: Any
    ) -> UserDelegationKey:
        self.key_requests.append((key_start_time, key_expiry_time))
        key = UserDelegationKey()
        key.signed_oid, key.signed_tid = str(uuid.uuid4()), str(uuid.uuid4())
        key.signed_start = key_start_time.strftime("%Y-%m-%dT%H:%M:%SZ")
        key.signed_expiry = key_expiry_time.strftime("%Y-%m-%dT%H:%M:%SZ")
        key.signed_service, key.signed_version = "b", "2025-01-05"
        key.value = base64.b64encode(b"k" * 32).decode()
        return key


def test_identity_based_urls_use_a_cached_user_delegation_key() -> None:
    service = _DelegatingService()
    store = AzureBlobStore(service)

    first = store.url("data", "a.txt", expires_in_s=600)
    second = store.url("data", "b.txt", expires_in_s=3600)

    assert len(service.key_requests) == 1  # one key signs many URLs
    for url in (first, second):
        query = parse_qs(urlsplit(url).query)
        assert query["sp"] == ["r"] and "skoid" in query and "sig" in query
        assert url.startswith("https://acct.blob.core.windows.net/data/")
    start, expiry = service.key_requests[0]
    assert expiry - start > timedelta(hours=12)

    store.url("data", "c.txt", expires_in_s=3 * 24 * 3600)  # outlives the cached key

    assert len(service.key_requests) == 2
    assert service.key_requests[1][1] - datetime.now(UTC) > timedelta(days=3)
    store.close()


# -- Cosmos SQL and paging ----------------------------------------------------------------------


@pytest.fixture
def cosmos_store(cosmos_emulator: emulators.CosmosEmulator) -> Iterator[CosmosDocumentStore]:
    store = CosmosDocumentStore(cosmos_emulator.client(), database=f"u{uuid.uuid4().hex[:12]}")
    yield store
    store.close()


@pytest.fixture
def cosmos_items(cosmos_store: CosmosDocumentStore) -> CosmosContainer:
    return cosmos_store.container(ITEMS)


def test_partition_query_text_keeps_the_partition_filter_and_parameters() -> None:
    query = Query(
        where=(Where("state", "=", "new"), Where("tags", "contains", "x"), Where("n", "in", [1])),
        order_by=(Order("rank", descending=True),),
        page_size=10,
    )

    sql, params = cosmos_sql.page_sql(ITEMS, "p1", query, None)

    assert sql == (
        'SELECT * FROM c WHERE c["projectId"] = @p0 AND c["state"] = @p1 AND '
        'ARRAY_CONTAINS(c["tags"], @p2) AND ARRAY_CONTAINS(@p3, c["n"]) '
        'ORDER BY c["rank"] DESC, c["id"] ASC'
    )
    assert params == [
        {"name": "@p0", "value": "p1"},
        {"name": "@p1", "value": "new"},
        {"name": "@p2", "value": "x"},
        {"name": "@p3", "value": [1]},
    ]
    for word in ("OFFSET", "LIMIT", "DISTINCT", "GROUP BY", "LIKE", "TOP"):
        assert word not in sql
    assert "'new'" not in sql and '"new"' not in sql  # values travel only as parameters


@pytest.mark.emulators
def test_later_pages_add_a_keyset_condition_never_an_offset(cosmos_items: CosmosContainer) -> None:
    cosmos_items.upsert_many({"id": f"d{i}", "projectId": "p1", "rank": i % 3} for i in range(9))
    query = Query(order_by=(Order("rank"),), page_size=4)

    page = cosmos_items.query("p1", query)
    assert page.continuation is not None
    sql = cosmos_items.sql("p1", query, page.continuation)

    assert sql.startswith('SELECT * FROM c WHERE c["projectId"] = @p0 AND ((c["rank"] > @p1) OR ')
    assert '(c["rank"] = @p2 AND c["id"] > @p3)' in sql
    assert "OFFSET" not in sql and "LIMIT" not in sql
    cross = cosmos_items.sql(None, query)
    assert cross == 'SELECT * FROM c ORDER BY c["rank"] ASC, c["id"] ASC, c["projectId"] ASC'


@pytest.mark.emulators
@pytest.mark.parametrize("descending", [False, True])
def test_keyset_paging_over_250_documents_across_partitions(
    cosmos_items: CosmosContainer, descending: bool
) -> None:
    # Ids repeat across partitions and ranks repeat, so page boundaries fall inside ties.
    bodies = [
        {"id": f"d{i % 90:03d}", "projectId": f"p{i // 90}", "state": "new", "rank": i % 4}
        for i in range(250)
    ]
    cosmos_items.upsert_many(bodies)
    query = Query(order_by=(Order("rank", descending),), page_size=7)

    seen: list[tuple[str, str]] = []
    pages, token = 0, None
    while True:
        page = cosmos_items.query(None, query, token)
        pages += 1
        assert len(page.documents) <= 7
        seen += [(d.body["projectId"], d.id) for d in page.documents]
        token = page.continuation
        if token is None:
            break

    orders = effective_order(query.order_by, ["projectId"])

    def compare(a: dict[str, Any], b: dict[str, Any]) -> int:
        return compare_keys(order_values(a, orders), order_values(b, orders), orders)

    expected = sorted(bodies, key=cmp_to_key(compare))
    assert seen == [(b["projectId"], b["id"]) for b in expected]
    assert len(set(seen)) == 250 and pages == 36
    assert cosmos_items.count(None) == 250


@pytest.mark.emulators
def test_a_token_from_another_query_is_refused(cosmos_items: CosmosContainer) -> None:
    cosmos_items.upsert_many({"id": f"d{i}", "projectId": "p1", "rank": i} for i in range(5))
    token = cosmos_items.query("p1", Query(order_by=(Order("rank"),), page_size=2)).continuation
    assert token is not None

    with pytest.raises(InvalidInput):
        cosmos_items.query("p1", Query(page_size=2), token)  # orders by id alone
    with pytest.raises(InvalidInput):
        cosmos_items.query("p1", Query(page_size=2), "not a token")


@pytest.mark.emulators
def test_reserved_words_are_plain_field_names(cosmos_items: CosmosContainer) -> None:
    cosmos_items.upsert_many(
        {"id": f"d{i}", "projectId": "p1", "value": i, "order": {"select": i % 2}} for i in range(6)
    )

    query = Query(
        where=(Where("order.select", "=", 1),), order_by=(Order("value", True),), page_size=2
    )
    page_ids = []
    token = None
    while True:
        page = cosmos_items.query("p1", query, token)
        page_ids += [d.id for d in page.documents]
        if (token := page.continuation) is None:
            break
    assert page_ids == ["d5", "d3", "d1"]


@pytest.mark.emulators
def test_not_equal_never_matches_another_type(cosmos_items: CosmosContainer) -> None:
    # The emulator alone would match 1 != "x"; real Cosmos never compares across types.
    cosmos_items.upsert_many(
        [
            {"id": "n", "projectId": "p1", "v": 1},
            {"id": "s", "projectId": "p1", "v": "y"},
            {"id": "b", "projectId": "p1", "v": True},
        ]
    )

    assert cosmos_items.count("p1", [Where("v", "!=", "x")]) == 1
    assert cosmos_items.count("p1", [Where("v", "!=", 2)]) == 1
    assert cosmos_items.count("p1", [Where("v", "!=", False)]) == 1


@pytest.mark.emulators
def test_an_order_without_a_declared_index_says_how_to_fix_it(
    cosmos_items: CosmosContainer,
) -> None:
    with pytest.raises(InvalidInput, match=r"ContainerSpec\.indexes"):
        cosmos_items.query("p1", Query(order_by=(Order("undeclared"),)))


@pytest.mark.emulators
def test_an_existing_container_gains_the_indexes_a_newer_spec_declares(
    cosmos_emulator: emulators.CosmosEmulator,
) -> None:
    database = f"u{uuid.uuid4().hex[:12]}"
    old = CosmosDocumentStore(cosmos_emulator.client(), database)
    old.container(ContainerSpec("runs", "projectId"))
    old.close()

    store = CosmosDocumentStore(cosmos_emulator.client(), database)
    runs = store.container(ContainerSpec("runs", "projectId", indexes=(("started",),)))
    runs.upsert_many({"id": f"r{i}", "projectId": "p1", "started": 3 - i} for i in range(3))

    page = runs.query("p1", Query(order_by=(Order("started"),)))
    assert [d.id for d in page.documents] == ["r2", "r1", "r0"]
    store.close()


@pytest.mark.emulators
def test_missing_documents_are_not_found_despite_the_emulators_500(
    cosmos_items: CosmosContainer,
) -> None:
    cosmos_items.create({"id": "here", "projectId": "p1"})

    with pytest.raises(NotFound):
        cosmos_items.read("p1", "absent")
    with pytest.raises(NotFound):
        cosmos_items.read("p2", "here")  # the id exists, in another partition
    assert cosmos_items.read("p1", "here").body == {"id": "here", "projectId": "p1"}


# -- Service Bus through the fake at the SDK seam -----------------------------------------------


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 1, 1, tzinfo=UTC))


@pytest.fixture
def fake(clock: ManualClock) -> FakeServiceBusClient:
    return FakeServiceBusClient(clock, SPECS)


@pytest.fixture
def queue(fake: FakeServiceBusClient, clock: ManualClock) -> Iterator[ServiceBusWorkQueue]:
    q = ServiceBusWorkQueue(fake, clock)
    yield q
    q.close()


def test_a_lost_lock_is_a_conflict_and_the_new_holder_completes(
    fake: FakeServiceBusClient, queue: ServiceBusWorkQueue, clock: ManualClock
) -> None:
    other = ServiceBusWorkQueue(FakeServiceBusClient(clock, SPECS, namespace=fake.namespace), clock)
    queue.send("work", {"item": "a"})
    (stale,) = queue.receive("work")
    clock.advance(31)

    (current,) = other.receive("work")  # another worker takes it over

    assert current.message_id == stale.message_id and current.delivery_count == 2
    for settle in (queue.complete, queue.abandon, queue.renew_lock):
        with pytest.raises(Conflict, match="lock"):
            settle(stale)
    other.complete(current)
    with pytest.raises(Conflict):
        other.complete(current)  # settled already
    other.close()


def test_max_delivery_count_dead_letters_with_service_bus_reason(
    queue: ServiceBusWorkQueue, clock: ManualClock
) -> None:
    queue.send("work", {"item": "poison"}, message_id="poison-1")
    for attempt in (1, 2):
        (message,) = queue.receive("work")
        assert message.delivery_count == attempt
        queue.abandon(message)

    assert queue.receive("work") == []
    (dead,) = queue.dead_letters("work")
    assert (dead.message_id, dead.body, dead.delivery_count) == ("poison-1", {"item": "poison"}, 2)
    assert dead.reason == "MaxDeliveryCountExceeded"
    assert "2 delivery attempts" in dead.description
    assert len(queue.dead_letters("work")) == 1  # peeking leaves it there


def test_the_sdk_counts_prior_deliveries_and_the_port_this_one(
    fake: FakeServiceBusClient, queue: ServiceBusWorkQueue
) -> None:
    queue.send("work", {"n": 1})
    raw = fake.get_queue_receiver("work")

    (sdk_message,) = raw.receive_messages(max_message_count=1, max_wait_time=1)

    assert sdk_message.delivery_count == 0  # the AMQP header, as the real Python SDK shows it
    raw.abandon_message(sdk_message)
    (message,) = queue.receive("work")
    assert message.delivery_count == 2


def test_many_dead_letters_are_peeked_in_batches(
    queue: ServiceBusWorkQueue, clock: ManualClock
) -> None:
    for n in range(130):
        queue.send("work", {"n": n})
    for message in itertools.chain.from_iterable(
        queue.receive("work", max_messages=50) for _ in range(3)
    ):
        queue.dead_letter(message, reason="Bad", description=f"n={message.body['n']}")

    dead = queue.dead_letters("work", max_messages=500)

    assert [d.body["n"] for d in dead] == list(range(130))
    assert len(queue.dead_letters("work", max_messages=120)) == 120


def test_a_body_that_is_not_a_json_object_is_dead_lettered_on_receipt(
    fake: FakeServiceBusClient, queue: ServiceBusWorkQueue
) -> None:
    fake.get_queue_sender("work").send_messages(ServiceBusMessage("not json", message_id="junk"))
    queue.send("work", {"ok": True})

    received = queue.receive("work", max_messages=5)

    assert [m.body for m in received] == [{"ok": True}]
    (dead,) = queue.dead_letters("work")
    assert (dead.message_id, dead.reason) == ("junk", MALFORMED_BODY)


def test_a_queue_missing_from_the_namespace_is_not_found(clock: ManualClock) -> None:
    queue = ServiceBusWorkQueue(FakeServiceBusClient(clock, SPECS, strict_entities=True), clock)

    with pytest.raises(NotFound, match="infra"):
        queue.send("nope", {"x": 1})
    with pytest.raises(NotFound):
        queue.receive("nope")
    with pytest.raises(NotFound):
        queue.dead_letters("nope")
    queue.send("work", {"x": 1})
    queue.close()


def test_handlers_are_reused_and_closed_with_the_adapter(
    fake: FakeServiceBusClient, clock: ManualClock
) -> None:
    queue = ServiceBusWorkQueue(fake, clock)
    for _ in range(3):
        queue.send("work", {"x": 1})
        queue.receive("work")

    sender, receiver = fake._handlers[0], fake._handlers[1]
    assert len(fake._handlers) == 2
    queue.close()
    with pytest.raises(ValueError, match="shutdown"):
        sender._check_live()
    with pytest.raises(ValueError, match="shutdown"):
        receiver._check_live()


# -- the emulator plugin ------------------------------------------------------------------------


def test_missing_node_modules_fail_with_the_command_to_run() -> None:
    with pytest.raises(emulators.EmulatorError, match="make test"):
        emulators._executable("no-such-emulator")
