"""The portable `Query` in Cosmos SQL: pure functions, no I/O.

The meaning of a query (types, nulls, order, tokens) is `core.adapters.jsonquery`'s, shared with
the memory and SQLite adapters; this module only writes it in Cosmos SQL.

Paging is keyset paging: the continuation token carries the last document's order values (its
order fields, id, and across partitions its partition key), and the next page asks for what
sorts after them. Cosmos's own continuation tokens work within one partition (on the emulator
too), but the Python SDK does not support them across partitions (azure-sdk-for-python#13953;
#37230, #41434: the token it returns for a cross-partition ORDER BY does not resume it). Keyset
paging is correct on real Cosmos and on the emulator, within a partition or across, needs no
OFFSET, and tells exactly when the last page has been read.

Field paths are written in bracket form (`c["a"]["b"]`) so reserved words such as `value` or
`order` stay plain field names (the emulator's parser rejects `c.value`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.adapters.jsonquery import check_query, check_where, effective_order
from core.domain.errors import InvalidInput
from core.ports import ContainerSpec, JsonDoc, Order, Query, Where

Parameters = list[dict[str, Any]]

_COMPARISONS = frozenset({"=", "<", "<=", ">", ">="})


def field_ref(path: str) -> str:
    """`a.b` → `c["a"]["b"]` (paths are already checked against ports.FIELD_PATH)."""
    return "c" + "".join(f'["{part}"]' for part in path.split("."))


def index_path(path: str) -> str:
    """`a.b` → `/a/b`, the path form of indexing policies."""
    return "/" + path.replace(".", "/")


class _Params:
    def __init__(self) -> None:
        self.values: Parameters = []

    def add(self, value: Any) -> str:
        name = f"@p{len(self.values)}"
        self.values.append({"name": name, "value": value})
        return name


def _kind_test(value: Any) -> str:
    if isinstance(value, bool):
        return "IS_BOOL"
    return "IS_NUMBER" if isinstance(value, int | float) else "IS_STRING"


def _condition(where: Where, params: _Params) -> str:
    check_where(where)
    ref = field_ref(where.field)
    if where.op == "!=":
        # Across types a comparison is undefined (no match) on Cosmos; the emulator answers
        # true for `1 != "x"`, so the type is tested explicitly (check_where allows only a
        # string, number or boolean here).
        return f"({_kind_test(where.value)}({ref}) AND {ref} != {params.add(where.value)})"
    if where.op in _COMPARISONS:
        return f"{ref} {where.op} {params.add(where.value)}"
    if where.op == "in":
        return f"ARRAY_CONTAINS({params.add(list(where.value))}, {ref})"
    if where.op == "exists":
        return f"IS_DEFINED({ref})"
    if where.op == "missing":
        return f"NOT IS_DEFINED({ref})"
    if where.op == "contains":
        return f"ARRAY_CONTAINS({ref}, {params.add(where.value)})"
    if where.op == "startswith":
        return f"STARTSWITH({ref}, {params.add(where.value)})"
    raise InvalidInput.one("query", f"unknown operator {where.op!r}")


def _after(orders: Sequence[Order], last: Sequence[Any], params: _Params) -> str:
    """Keyset condition: sorts strictly after `last` in `orders`.
    (f1 > v1) OR (f1 = v1 AND f2 > v2) OR ... with < for descending fields."""
    alternatives = []
    for i, order in enumerate(orders):
        equal = [
            f"{field_ref(o.field)} = {params.add(v)}"
            for o, v in zip(orders[:i], last[:i], strict=True)
        ]
        op = "<" if order.descending else ">"
        alternatives.append(
            " AND ".join([*equal, f"{field_ref(order.field)} {op} {params.add(last[i])}"])
        )
    return "(" + " OR ".join(f"({a})" for a in alternatives) + ")"


def _where(spec: ContainerSpec, pk: str | None, where: Sequence[Where], params: _Params) -> str:
    # The partition filter stays in the text: the emulator refuses a partition-scoped query
    # without it, and it states the scope on real Cosmos too.
    conditions = [f"{field_ref(spec.partition_key)} = {params.add(pk)}"] if pk is not None else []
    conditions += [_condition(w, params) for w in where]
    return " WHERE " + " AND ".join(conditions) if conditions else ""


def count_sql(
    spec: ContainerSpec, pk: str | None, where: Sequence[Where]
) -> tuple[str, Parameters]:
    params = _Params()
    # Values travel as parameters; field paths are checked names (ports.FIELD_PATH).
    return f"SELECT VALUE COUNT(1) FROM c{_where(spec, pk, where, params)}", params.values  # noqa: S608


def orders_for(spec: ContainerSpec, pk: str | None, query: Query) -> tuple[Order, ...]:
    """The order used: the query's fields, `id`, and across partitions (where ids repeat) the
    partition key, exactly as `jsonquery` orders for the other adapters."""
    return effective_order(query.order_by, [spec.partition_key] if pk is None else [])


def page_sql(
    spec: ContainerSpec, pk: str | None, query: Query, last: Sequence[Any] | None
) -> tuple[str, Parameters]:
    """One page's query: filters, the keyset condition after `last` (if any), ORDER BY."""
    check_query(query)
    params = _Params()
    orders = orders_for(spec, pk, query)
    text = _where(spec, pk, query.where, params)
    if last is not None:
        text += (" AND " if text else " WHERE ") + _after(orders, last, params)
    order_text = ", ".join(
        f"{field_ref(o.field)} {'DESC' if o.descending else 'ASC'}" for o in orders
    )
    return f"SELECT * FROM c{text} ORDER BY {order_text}", params.values  # noqa: S608


# ---------------------------------------------------------------------------------------------
# Composite indexes
# ---------------------------------------------------------------------------------------------

CompositeIndex = tuple[tuple[str, str], ...]
"""((path, "ascending" | "descending"), ...), the shape of an indexing policy entry."""


def composite_for(orders: Sequence[Order]) -> CompositeIndex | None:
    """The composite index an ORDER BY needs (Cosmos serves a one-field ORDER BY without one)."""
    if len(orders) < 2:
        return None
    return tuple(
        (index_path(o.field), "descending" if o.descending else "ascending") for o in orders
    )


def composites_for_spec(spec: ContainerSpec) -> list[CompositeIndex]:
    """Composite indexes for the orders `spec.indexes` implies.

    An index tuple may start with equality filters, so each of its suffixes may be the ORDER
    BY; each is indexed all ascending and all descending, then `id` ascending, then (for
    cross-partition queries) the partition key. Real Cosmos and the emulator both refuse a
    multi-field ORDER BY without its composite index, and the emulator only takes an exact
    match (real Cosmos also serves the fully reversed order)."""
    suffixes: list[tuple[str, ...]] = [()]
    for fields in spec.indexes:
        suffixes += [tuple(fields[start:]) for start in range(len(fields))]
    found: list[CompositeIndex] = []
    for fields in suffixes:
        for descending in (False, True) if fields else (False,):
            for pk in (None, "any"):
                query = Query(order_by=tuple(Order(f, descending) for f in fields))
                index = composite_for(orders_for(spec, pk, query))
                if index is not None and index not in found:
                    found.append(index)
    return found


def indexing_policy(spec: ContainerSpec) -> JsonDoc:
    """The container's indexing policy: Cosmos's default (every path) plus the composite
    indexes `spec` implies. Infrastructure code deploys the same policy."""
    return {
        "indexingMode": "consistent",
        "automatic": True,
        "includedPaths": [{"path": "/*"}],
        "excludedPaths": [{"path": '/"_etag"/?'}],
        "compositeIndexes": composite_policy(composites_for_spec(spec)),
    }


def composite_policy(indexes: Sequence[CompositeIndex]) -> list[list[dict[str, str]]]:
    return [[{"path": path, "order": order} for path, order in index] for index in indexes]


def composites_in_policy(policy: JsonDoc) -> list[CompositeIndex]:
    return [
        tuple((entry["path"], entry.get("order", "ascending")) for entry in index)
        for index in policy.get("compositeIndexes") or []
    ]
