"""Cosmos-shaped document containers in SQLite: one table per container, (pk, id, body, etag),
and a column per field that `ContainerSpec.indexes` names (`sql.indexed_fields`).

The adapter fills those columns from the parsed body when it writes, so SQLite never parses a
body to keep an index (an expression index on `json_extract` parses the body once per index on
every write). Each `indexes` entry becomes an index on (pk, fields' columns..., id), so filtered,
ordered queries within a partition read the index in order and stop at the page size; one led by
a `sparse` field is partial, holding only the documents that have it. A file
written before a field had its column (the expression indexes) gets the column, filled once by
`json_extract`, when it is opened; its old indexes are dropped.
"""

from __future__ import annotations

import itertools
import os
import secrets
import sqlite3
import threading
from collections.abc import Hashable, Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, NoReturn

from core.adapters.jsonquery import (
    check_order_declared,
    check_query,
    check_where,
    decode_body,
    decode_token,
    document_key,
    effective_order,
    encode_body,
    encode_token,
)
from core.adapters.local import sql
from core.adapters.local.connections import Connections
from core.domain.errors import Conflict, NotFound, PreconditionFailed
from core.ports import ContainerSpec, Document, JsonDoc, Order, Page, Query, Where


class _Etags:
    """Unique etags without a system call per write: a random prefix and a counter. The prefix
    is drawn again in a forked child, so that two processes never hand out the same etag."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count()

    def __call__(self) -> str:
        return f"{self._prefix}-{next(self._counter):x}"


new_etag = _Etags()
_LOOKUP = 500
"""Ids looked up by one query (SQLite allows 32,766 parameters)."""


_FIRST_PAGES = 1024
"""First-page statements a container remembers (all are forgotten when it is full)."""


def _first_page_key(pk: str | None, query: Query) -> Hashable | None:
    """What a first page's statement depends on, or None for a query not worth remembering
    (one with a list of values). Each value goes with its type: a Query treats True and 1
    as equal, while the statement for each is different."""
    where = []
    for w in query.where:
        if not isinstance(w.value, str | int | float | bool | None):
            return None
        where.append((w.field, w.op, type(w.value), w.value))
    return (pk, tuple(where), tuple(query.order_by), query.page_size)


def _key(row: tuple[Any, ...]) -> tuple[str, str]:
    return row[0], row[1]


def _same(value: Any, stored: Any) -> bool:
    """Whether an indexed column keeps its value (1 and 1.0 are equal, but not the same)."""
    return type(value) is type(stored) and value == stored


class _Stored(Document):
    """A document of a query page, its body parsed from the stored text on first use: the task
    queue reads candidates a window at a time but mostly takes the first (parsing an item
    costs more than reading its row)."""

    def __init__(self, body: JsonDoc | None = None, etag: str = "", *, text: str = "") -> None:
        # `body` too, so that dataclasses.replace (which passes every field) makes a copy.
        if body is not None:
            object.__setattr__(self, "body", body)
        object.__setattr__(self, "_text", text)
        object.__setattr__(self, "etag", etag)

    def __getattr__(self, name: str) -> Any:
        if name != "body":
            raise AttributeError(name)
        body = decode_body(self.__dict__["_text"])
        object.__setattr__(self, "body", body)
        return body

    def __eq__(self, other: object) -> bool:  # equal to any Document of the same content
        if not isinstance(other, Document):
            return NotImplemented
        return self.body == other.body and self.etag == other.etag


class SqliteContainer:
    def __init__(self, spec: ContainerSpec, connections: Connections) -> None:
        self.spec = spec
        self._db = connections
        table = sql.table_name(spec)
        self._fields = sql.indexed_fields(spec)
        self._paths = [tuple(field.split(".")) for field in self._fields]
        columns = [sql.column_name(f) for f in self._fields]
        names = ", ".join(["pk", "id", "body", "etag", *columns])
        marks = ", ".join("?" * (4 + len(columns)))
        self._insert = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608
        updates = ", ".join(f"{c} = excluded.{c}" for c in ("body", "etag", *columns))
        self._upsert = f"{self._insert} ON CONFLICT (pk, id) DO UPDATE SET {updates}"
        self._insert_new = f"{self._insert} ON CONFLICT (pk, id) DO NOTHING"
        self._select = f"SELECT body, etag FROM {table} WHERE pk = ? AND id = ?"  # noqa: S608
        self._delete = f"DELETE FROM {table} WHERE pk = ? AND id = ?"  # noqa: S608
        self._table, self._columns = table, columns
        selected = ", ".join(["id", "etag", *columns])
        self._lookup = f"SELECT {selected} FROM {table} WHERE pk = ? AND id IN ({{marks}})"  # noqa: S608
        self._columns_of = (
            f"SELECT {', '.join(['etag', *columns])} FROM {table} WHERE pk = ? AND id = ?"  # noqa: S608
        )
        self._replaces: dict[tuple[int, ...], str] = {}
        self._first_pages: dict[Hashable, tuple[str, tuple[Any, ...], tuple[Order, ...]]] = {}

    def _row(self, body: JsonDoc) -> tuple[Any, ...]:
        """(pk, id, text, etag, indexed fields' values...) of a body about to be written."""
        pk, doc_id = document_key(self.spec, body)
        text = encode_body(body)
        return (pk, doc_id, text, new_etag(), *sql.column_values(body, self._paths))

    def create(self, body: JsonDoc) -> Document:
        row = self._row(body)
        try:
            self._db.get().execute(self._insert, row)
        except sqlite3.IntegrityError:
            raise Conflict(f"a document with id {row[1]!r} already exists") from None
        return Document(body, row[3])  # as written (its text is what is stored): no parse

    def read(self, pk: str, id: str) -> Document:
        document = self.get(pk, id)
        if document is None:
            raise NotFound(f"no document with id {id!r} in partition {pk!r}")
        return document

    def get(self, pk: str, id: str) -> Document | None:
        found = self._db.get().execute(self._select, (pk, id)).fetchone()
        return None if found is None else Document(decode_body(found[0]), found[1])

    def upsert(self, body: JsonDoc, *, if_match: str | None = None) -> Document:
        row = self._row(body)
        pk, doc_id, _, etag = row[:4]
        if if_match is None:
            self._db.get().execute(self._upsert, row)
            return Document(body, etag)
        with self._db.write() as conn:
            before = (
                conn.execute(self._columns_of, (pk, doc_id)).fetchone()
                if self._columns
                else (if_match,)  # nothing to compare: the UPDATE checks the etag itself
            )
            if before is None or before[0] != if_match:
                self._raise_mismatch(conn, pk, doc_id)
            if not self._replace_row(conn, row, before, if_match):
                self._raise_mismatch(conn, pk, doc_id)
        return Document(body, etag)

    def _replace_row(
        self, conn: sqlite3.Connection, row: tuple[Any, ...], before: tuple[Any, ...], etag: str
    ) -> bool:
        """`row` written over the stored version `etag`, whose (etag, indexed columns...) are
        `before`; False when that version is no longer the stored one. Only the indexed columns
        whose values change are set: SQLite rewrites the entries of every index whose column an
        UPDATE sets, even to the same value (an item has eight)."""
        moved = tuple(n for n, value in enumerate(row[4:]) if not _same(value, before[1 + n]))
        params = (*row[2:4], *(row[4 + n] for n in moved), row[0], row[1], etag)
        return bool(conn.execute(self._replace_sql(moved), params).rowcount)

    def upsert_many(self, bodies: Iterable[JsonDoc]) -> int:
        # Encoded before the write lock is taken, so that other writers' work overlaps with
        # this; in key order (stable: of two writes of one document the last still wins),
        # so that consecutive rows share the pages of the primary key and id-ordered indexes.
        rows = sorted((self._row(body) for body in bodies), key=_key)
        with self._db.write() as conn:
            conn.executemany(self._upsert, rows)
        return len(rows)

    def create_many(self, bodies: Iterable[JsonDoc]) -> int:
        rows = sorted((self._row(body) for body in bodies), key=_key)  # as in upsert_many
        with self._db.write() as conn:
            before = conn.total_changes
            conn.executemany(self._insert_new, rows)
            return conn.total_changes - before

    def replace_many(self, changes: Sequence[tuple[JsonDoc, str]]) -> list[Document | None]:
        rows = [self._row(body) for body, _ in changes]
        written: list[Document | None] = []
        with self._db.write() as conn:  # one transaction: one commit for them all
            stored = self._stored_columns(conn, rows)
            for row, (body, if_match) in zip(rows, changes, strict=True):
                before = stored.get((row[0], row[1]))
                if before is None or before[0] != if_match:
                    written.append(None)
                    continue
                if not self._replace_row(conn, row, before, if_match):
                    written.append(None)
                    continue
                stored[(row[0], row[1])] = row[3:]  # a later change of the same document
                # The body as written (its text is what is stored): no second parse per item.
                written.append(Document(body, row[3]))
        return written

    def _stored_columns(
        self, conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]
    ) -> dict[tuple[str, str], tuple[Any, ...]]:
        """(etag, indexed columns...) of the stored documents that `rows` would replace, by
        (pk, id): one query per partition and `_LOOKUP` ids."""
        ids: dict[str, list[str]] = {}
        for row in rows:
            ids.setdefault(row[0], []).append(row[1])
        stored: dict[tuple[str, str], tuple[Any, ...]] = {}
        for pk, keys in ids.items():
            for start in range(0, len(keys), _LOOKUP):
                chunk = keys[start : start + _LOOKUP]
                text = self._lookup.format(marks=", ".join("?" * len(chunk)))
                for found in conn.execute(text, (pk, *chunk)):
                    stored[(pk, found[0])] = found[1:]
        return stored

    def _replace_sql(self, moved: tuple[int, ...]) -> str:
        """The conditional UPDATE setting the body, the etag and the columns numbered `moved`."""
        found = self._replaces.get(moved)
        if found is None:
            sets = ", ".join(
                f"{c} = ?" for c in ("body", "etag", *(self._columns[n] for n in moved))
            )
            found = self._replaces[moved] = (
                f"UPDATE {self._table} SET {sets} WHERE pk = ? AND id = ? AND etag = ?"  # noqa: S608
            )
        return found

    def delete(self, pk: str, id: str, *, if_match: str | None = None) -> None:
        if if_match is None:
            if not self._db.get().execute(self._delete, (pk, id)).rowcount:
                raise NotFound(f"no document with id {id!r} in partition {pk!r}")
            return
        with self._db.write() as conn:
            if not conn.execute(f"{self._delete} AND etag = ?", (pk, id, if_match)).rowcount:
                self._raise_mismatch(conn, pk, id)

    def _raise_mismatch(self, conn: sqlite3.Connection, pk: str, doc_id: str) -> NoReturn:
        if conn.execute(self._select, (pk, doc_id)).fetchone() is None:
            raise NotFound(f"no document with id {doc_id!r} in partition {pk!r}")
        raise PreconditionFailed(f"document {doc_id!r} was changed by someone else")

    def _page_sql(
        self, pk: str | None, query: Query, continuation: str | None
    ) -> tuple[str, list[Any], tuple[Order, ...]]:
        # A first page's statement is remembered: the task queue asks the same few queries
        # (a labeler's leases, their assigned items, the lanes) for every next task, and
        # building one costs about as much as SQLite answering it from its index.
        key = _first_page_key(pk, query) if continuation is None else None
        if key is not None and (found := self._first_pages.get(key)) is not None:
            return found[0], list(found[1]), found[2]
        text, params, orders = self._build_page_sql(pk, query, continuation)
        if key is not None:
            if len(self._first_pages) >= _FIRST_PAGES:
                self._first_pages.clear()
            self._first_pages[key] = (text, tuple(params), orders)
        return text, params, orders

    def _build_page_sql(
        self, pk: str | None, query: Query, continuation: str | None
    ) -> tuple[str, list[Any], tuple[Order, ...]]:
        check_query(query)
        check_order_declared(self.spec, query)
        orders = effective_order(query.order_by, [self.spec.partition_key] if pk is None else [])
        last = None if continuation is None else decode_token(continuation, orders)
        text, params = sql.page_sql(self.spec, pk, query.where, orders, last, query.page_size + 1)
        return text, params, orders

    def query(self, pk: str | None, query: Query, continuation: str | None = None) -> Page:
        text, params, orders = self._page_sql(pk, query, continuation)
        rows = self._db.get().execute(text, params).fetchall()
        kept = rows[: query.page_size]
        documents: list[Document] = [_Stored(text=row[0], etag=row[1]) for row in kept]
        more = len(rows) > query.page_size
        return Page(documents, encode_token(orders, kept[-1][2:]) if more else None)

    def count(self, pk: str | None, where: Sequence[Where] = ()) -> int:
        for w in where:
            check_where(w)
        text, params = sql.count_sql(self.spec, pk, where)
        return int(self._db.get().execute(text, params).fetchone()[0])

    def explain(self, pk: str | None, query: Query, continuation: str | None = None) -> list[str]:
        """SQLite's plan for `query` (EXPLAIN QUERY PLAN details), to check index use."""
        text, params, _ = self._page_sql(pk, query, continuation)
        rows = self._db.get().execute(f"EXPLAIN QUERY PLAN {text}", params).fetchall()
        return [str(row[-1]) for row in rows]


class SqliteDocumentStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = Connections(path)
        self._lock = threading.Lock()
        self._containers: dict[str, SqliteContainer] = {}

    def container(self, spec: ContainerSpec) -> SqliteContainer:
        with self._lock:
            found = self._containers.get(spec.name)
        if found is not None and found.spec == spec:
            return found
        # Prepared outside the lock: the write waits for SQLite's, which another thread's unit
        # may hold while it asks for a container in turn. Preparing twice does nothing more.
        with self._db.write() as conn:
            _prepare(conn, spec)
        made = SqliteContainer(spec, self._db)
        if self._db.in_unit():
            return made  # not remembered: the unit may yet roll the table back
        with self._lock:
            self._containers[spec.name] = made
        return made

    def prepare(self, specs: Iterable[ContainerSpec]) -> None:
        """Make these containers now, outside any unit (a server's start: a container first
        asked for inside units would be made again in each, as none may keep it)."""
        for spec in specs:
            self.container(spec)

    def unit(self, *, wait: bool = True) -> AbstractContextManager[None]:
        return self._db.unit(wait=wait)

    def checkpoint(self) -> None:
        self._db.checkpoint()

    def close(self) -> None:
        self._db.close()


def _prepare(conn: sqlite3.Connection, spec: ContainerSpec) -> None:
    """The container's table, a column per indexed field (added and filled from the bodies
    where an older file lacks it) and its indexes; indexes of this container that its spec no
    longer makes (the old expression indexes) are dropped. In the caller's write transaction,
    so processes opening the same file at once do it once."""
    table = sql.table_name(spec)
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {table} (pk TEXT NOT NULL, id TEXT NOT NULL,"
        " body TEXT NOT NULL, etag TEXT NOT NULL, PRIMARY KEY (pk, id))"
    )
    wanted = {sql.index_name(spec, fields) for fields in spec.indexes}
    prefix = f"ix_{spec.name}_"
    for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (spec.name,)
    ).fetchall():
        if name.startswith(prefix) and name not in wanted:
            conn.execute('DROP INDEX "{}"'.format(name.replace('"', '""')))
    present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
    # Filled before the new indexes exist: SQLite builds each one in a single pass after.
    added = [f for f in sql.indexed_fields(spec) if f"$.{f}" not in present]
    for field in added:
        conn.execute(f"ALTER TABLE {table} ADD COLUMN {sql.column_name(field)}")
    if added:
        fills = ", ".join(f"{sql.column_name(f)} = json_extract(body, '$.{f}')" for f in added)
        conn.execute(f"UPDATE {table} SET {fills}")  # noqa: S608 (checked names and paths)
    for fields in spec.indexes:
        conn.execute(sql.index_sql(spec, fields))
