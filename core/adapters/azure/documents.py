"""Documents in Cosmos DB for NoSQL (`azure-cosmos`), one Cosmos container per ContainerSpec.

Written to behave the same on real Cosmos and on @vercel/cosmosdb-server, the emulator the tests
run against; where the two differ the code takes the path that is correct on both and says why.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from itertools import islice
from typing import Any

from azure.core import MatchConditions
from azure.cosmos import ContainerProxy, CosmosClient, PartitionKey
from azure.cosmos.exceptions import (
    CosmosAccessConditionFailedError,
    CosmosHttpResponseError,
    CosmosResourceExistsError,
    CosmosResourceNotFoundError,
)

from core.adapters import jsonquery
from core.adapters.azure import cosmos_sql
from core.domain.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from core.ports import ContainerSpec, Document, JsonDoc, Page, Query, Where

SYSTEM_FIELDS = frozenset({"_rid", "_self", "_etag", "_attachments", "_ts"})
PARALLEL_WRITES = 16
"""Conditional replaces in flight at once for `replace_many`: Cosmos' transactional batch is
limited to one partition and 100 operations, and the emulator has none, so a bulk write is
single writes side by side (each costs its own request units either way)."""


def _strip(item: JsonDoc) -> JsonDoc:
    return {k: v for k, v in item.items() if k not in SYSTEM_FIELDS}


def _document(item: JsonDoc) -> Document:
    return Document(body=_strip(item), etag=str(item["_etag"]))


class CosmosContainer:
    """One Cosmos container; implements `core.ports.DocumentContainer`."""

    def __init__(
        self,
        spec: ContainerSpec,
        proxy: ContainerProxy,
        composites: Sequence[cosmos_sql.CompositeIndex],
    ) -> None:
        self.spec = spec
        self._proxy = proxy
        self._composites = frozenset(composites)

    # -- single documents --------------------------------------------------------------------

    def create(self, body: JsonDoc) -> Document:
        body = self._checked(body)
        try:
            return _document(self._proxy.create_item(body))
        except CosmosResourceExistsError:
            raise Conflict(
                f"a document with id {body['id']!r} already exists in {self.spec.name}"
            ) from None

    def read(self, pk: str, id: str) -> Document:
        try:
            return _document(self._proxy.read_item(item=id, partition_key=pk))
        except CosmosResourceNotFoundError:
            raise self._not_found(pk, id) from None
        except CosmosHttpResponseError as error:
            # The emulator answers 500 (not 404) for a missing id: it dereferences the missing
            # document. A 500 is only taken for "absent" once a query confirms it; any other
            # server error is raised as is.
            if error.status_code == 500 and not self._exists(pk, id):
                raise self._not_found(pk, id) from None
            raise

    def get(self, pk: str, id: str) -> Document | None:
        try:
            return self.read(pk, id)
        except NotFound:
            return None

    def upsert(self, body: JsonDoc, *, if_match: str | None = None) -> Document:
        body = self._checked(body)
        if if_match is None:
            return _document(self._proxy.upsert_item(body))
        # A conditional write is a replace: it fails with 404 when the document is gone, where
        # a conditional upsert would (on the emulator) silently create it.
        try:
            item = self._proxy.replace_item(
                item=body["id"],
                body=body,
                etag=if_match,
                match_condition=MatchConditions.IfNotModified,
            )
        except CosmosAccessConditionFailedError:
            raise self._stale(body["id"]) from None
        except CosmosResourceExistsError:
            # Two replaces racing on the emulator: the loser may get 409 rather than 412 (Cosmos
            # answers 409 to a replace only for unique keys, which Loupe declares none of).
            raise self._stale(body["id"]) from None
        except CosmosResourceNotFoundError:
            raise self._not_found(self._pk_of(body), body["id"]) from None
        return _document(item)

    def upsert_many(self, bodies: Iterable[JsonDoc]) -> int:
        # One request per document: the emulator's transactional batch is broken, and a batch
        # would also be limited to one partition and 100 operations.
        count = 0
        for body in bodies:
            self._proxy.upsert_item(self._checked(body))
            count += 1
        return count

    def create_many(self, bodies: Iterable[JsonDoc]) -> int:
        count = 0
        for body in bodies:  # one request per document, as in upsert_many
            try:
                self._proxy.create_item(self._checked(body))
            except CosmosResourceExistsError:
                continue
            count += 1
        return count

    def replace_many(self, changes: Sequence[tuple[JsonDoc, str]]) -> list[Document | None]:
        def replace(change: tuple[JsonDoc, str]) -> Document | None:
            try:
                return self.upsert(change[0], if_match=change[1])
            except (PreconditionFailed, NotFound):
                return None

        if len(changes) <= 1:
            return [replace(change) for change in changes]
        with ThreadPoolExecutor(min(PARALLEL_WRITES, len(changes))) as pool:
            return list(pool.map(replace, changes))

    def delete(self, pk: str, id: str, *, if_match: str | None = None) -> None:
        condition: dict[str, Any] = (
            {"etag": if_match, "match_condition": MatchConditions.IfNotModified}
            if if_match is not None
            else {}
        )
        try:
            self._proxy.delete_item(item=id, partition_key=pk, **condition)
        except CosmosResourceNotFoundError:
            raise self._not_found(pk, id) from None
        except CosmosAccessConditionFailedError:
            raise self._stale(id) from None

    # -- queries -------------------------------------------------------------------------------

    def query(self, pk: str | None, query: Query, continuation: str | None = None) -> Page:
        orders = cosmos_sql.orders_for(self.spec, pk, query)
        composite = cosmos_sql.composite_for(orders)
        if composite is not None and composite not in self._composites:
            order = ", ".join(f"{o.field}{' desc' if o.descending else ''}" for o in orders)
            raise InvalidInput.one(
                "query",
                f"ordering {self.spec.name} by ({order}) needs a composite index in Cosmos: add "
                "the order fields to the container's ContainerSpec.indexes (and to the deployed "
                "indexing policy, cosmos_sql.indexing_policy, where this identity cannot "
                "change it)",
            )
        sql, params = self._page_sql(pk, query, continuation)
        # One more than a page tells whether another page follows, so the last page says so.
        limit = query.page_size + 1
        items = list(islice(self._items(sql, params, pk, limit), limit))
        documents = [_document(item) for item in items[: query.page_size]]
        token = None
        if len(items) > query.page_size:
            token = jsonquery.encode_token(
                orders, jsonquery.order_values(documents[-1].body, orders)
            )
        return Page(documents, token)

    def count(self, pk: str | None, where: Sequence[Where] = ()) -> int:
        sql, params = cosmos_sql.count_sql(self.spec, pk, where)
        return int(sum(self._items(sql, params, pk, None)))

    def sql(self, pk: str | None, query: Query, continuation: str | None = None) -> str:
        """The Cosmos SQL text one page of `query` runs (for tests and diagnostics)."""
        return self._page_sql(pk, query, continuation)[0]

    # -- helpers -------------------------------------------------------------------------------

    def _items(
        self, sql: str, params: cosmos_sql.Parameters, pk: str | None, page_size: int | None
    ) -> Iterable[Any]:
        scope: dict[str, Any] = (
            {"partition_key": pk} if pk is not None else {"enable_cross_partition_query": True}
        )
        return self._proxy.query_items(sql, parameters=params, max_item_count=page_size, **scope)

    def _page_sql(
        self, pk: str | None, query: Query, continuation: str | None
    ) -> tuple[str, cosmos_sql.Parameters]:
        last = None
        if continuation is not None:
            last = jsonquery.decode_token(continuation, cosmos_sql.orders_for(self.spec, pk, query))
        return cosmos_sql.page_sql(self.spec, pk, query, last)

    def _exists(self, pk: str, id: str) -> bool:
        sql, params = cosmos_sql.count_sql(self.spec, pk, [Where("id", "=", id)])
        return int(sum(self._items(sql, params, pk, None))) > 0

    def _checked(self, body: JsonDoc) -> JsonDoc:
        """The body to store: id and partition key checked as every adapter checks them, no
        system properties (Cosmos sets its own)."""
        jsonquery.encode_body(body)
        jsonquery.document_key(self.spec, body)
        return _strip(body)

    def _pk_of(self, body: JsonDoc) -> str:
        return jsonquery.document_key(self.spec, body)[0]

    def _not_found(self, pk: str, id: str) -> NotFound:
        return NotFound(f"{self.spec.name} document {id!r} (partition {pk!r}) does not exist")

    def _stale(self, id: str) -> PreconditionFailed:
        return PreconditionFailed(
            f"{self.spec.name} document {id!r} was changed by someone else; read it again"
        )


class CosmosDocumentStore:
    """Implements `core.ports.DocumentStore` over one Cosmos database (created if missing)."""

    def __init__(self, client: CosmosClient, database: str) -> None:
        self._client = client
        self._database = client.create_database_if_not_exists(id=database)
        self._containers: dict[str, CosmosContainer] = {}

    def container(self, spec: ContainerSpec) -> CosmosContainer:
        known = self._containers.get(spec.name)
        if known is not None and known.spec == spec:
            return known
        if "." in spec.partition_key:
            raise InvalidInput.one("partition_key", "the partition key must be a top-level field")
        partition_key = PartitionKey(path=f"/{spec.partition_key}")
        proxy = self._database.create_container_if_not_exists(
            id=spec.name,
            partition_key=partition_key,
            indexing_policy=cosmos_sql.indexing_policy(spec),
        )
        properties = proxy.read()
        paths = properties.get("partitionKey", {}).get("paths")
        if paths != [partition_key.path]:
            raise InvalidInput.one(
                "partition_key",
                f"container {spec.name} exists with partition key {paths}, "
                f"not {partition_key.path}",
            )
        policy = dict(properties.get("indexingPolicy") or {})
        have = cosmos_sql.composites_in_policy(policy)
        missing = [i for i in cosmos_sql.composites_for_spec(spec) if i not in have]
        if missing:
            # An existing container gains the indexes a newer spec declares (on real Cosmos an
            # online index transformation). NB: the emulator drops a container's documents when
            # it is replaced; tests always start from fresh databases.
            policy["compositeIndexes"] = cosmos_sql.composite_policy([*have, *missing])
            try:
                proxy = self._database.replace_container(
                    proxy, partition_key=partition_key, indexing_policy=policy
                )
                have += missing
            except CosmosHttpResponseError as error:
                # Identity-based (RBAC) data access may not change containers: the deployment
                # owns the indexing policy then, and queries needing the rest say so.
                if error.status_code != 403:
                    raise
        container = CosmosContainer(spec, proxy, have)
        self._containers[spec.name] = container
        return container

    def unit(self, *, wait: bool = True) -> AbstractContextManager[None]:
        return nullcontext()  # no transaction across documents: each call on its own

    def close(self) -> None:
        self._client.close()
