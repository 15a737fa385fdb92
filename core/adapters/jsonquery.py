"""What a portable `Query` means, written once for the adapters that evaluate it themselves.

The semantics follow Cosmos DB, so every adapter agrees with the real service:

- a condition holds only between values of the same JSON type (ints and floats are both
  numbers; booleans are not numbers); across types it is simply false, `!=` included;
- `null` is compared with `=` and `in` only, and a missing field matches nothing but `missing`;
- values are scalars (string, number, boolean, null), so no adapter has to compare objects;
- ordering is by the order fields, then `id` ascending, then (across partitions) the
  partition key, so that keyset paging never skips or repeats a document.

The in-memory container evaluates queries with the functions here; the SQLite container
translates the same rules to SQL (`core.adapters.local.sql`) and shares the validation and the
continuation-token format.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Final, get_args

from core.domain.errors import InvalidInput
from core.domain.json_text import compact_json, read_json
from core.ports import ContainerSpec, JsonDoc, Op, Order, Query, Where

MISSING: Final = object()
"""What `field_value` returns for an absent field (distinct from JSON null)."""

_TOKEN_ENCODER = json.JSONEncoder(separators=(",", ":"))
_FORBIDDEN_ID_CHARS = frozenset("/\\?#")


# -- documents ----------------------------------------------------------------------------------


def encode_body(body: JsonDoc) -> str:
    """Compact JSON text of a JSON object; `InvalidInput` for what JSON cannot hold."""
    if not isinstance(body, dict):
        raise InvalidInput.one("body", "must be a JSON object")
    try:
        return compact_json(body)
    except (TypeError, ValueError) as error:
        raise InvalidInput.one("body", f"is not JSON: {error}") from error


def decode_body(text: str) -> JsonDoc:
    """A stored document's body from its text (as `encode_body` wrote it)."""
    body: JsonDoc = read_json(text)
    return body


def document_key(spec: ContainerSpec, body: JsonDoc) -> tuple[str, str]:
    """(partition key, id) of a body, checked as Cosmos checks them."""
    if not isinstance(body, dict):
        raise InvalidInput.one("body", "must be a JSON object")
    doc_id = body.get("id")
    if not isinstance(doc_id, str) or not 0 < len(doc_id) <= 255:
        raise InvalidInput.one("id", "must be a string of 1 to 255 characters")
    if not _FORBIDDEN_ID_CHARS.isdisjoint(doc_id):
        raise InvalidInput.one("id", "must not contain '/', '\\', '?' or '#'")
    pk = body.get(spec.partition_key)
    if not isinstance(pk, str):
        raise InvalidInput.one(spec.partition_key, "partition key must be a string")
    return pk, doc_id


# -- validation ---------------------------------------------------------------------------------


def is_scalar(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | int | bool)


_OPS = frozenset(get_args(Op))


def check_where(where: Where) -> None:
    op, value = where.op, where.value
    if op not in _OPS:  # adapters write the operator into SQL: only known ones get there
        raise InvalidInput.one("query", f"{where.field}: unknown operator {op!r}")
    if op in ("exists", "missing"):
        return
    if op == "in":
        if isinstance(value, str | bytes) or not isinstance(value, Sequence | set | frozenset):
            raise InvalidInput.one("query", f"{where.field} in: value must be a list")
        bad = [v for v in value if not is_scalar(v)]
    elif op == "startswith":
        bad = [] if isinstance(value, str) else [value]
    elif op in ("=", "contains"):
        bad = [] if is_scalar(value) else [value]
    else:  # != and ranges: null only compares equal to null
        bad = [] if is_scalar(value) and value is not None else [value]
    if bad:
        raise InvalidInput.one("query", f"{where.field} {op}: unsupported value {bad[0]!r}")


def check_query(query: Query) -> None:
    if not isinstance(query.page_size, int) or query.page_size < 1:
        raise InvalidInput.one("query", "page_size must be a positive integer")
    for where in query.where:
        check_where(where)


def check_order_declared(spec: ContainerSpec, query: Query) -> None:
    """Refuse an order Cosmos could not serve: its fields (before `id`) must be a suffix of one
    of `spec.indexes`, all in one direction, because Cosmos needs a composite index for every
    multi-field ORDER BY. Checking it in memory and SQLite too means a unit test catches a
    query that would fail only on Azure."""
    fields = []
    for order in query.order_by:
        if order.field == "id":
            break
        fields.append(order)
    if not fields:
        return
    names = tuple(o.field for o in fields)
    one_direction = len({o.descending for o in fields}) == 1
    declared = any(index[len(index) - len(names) :] == names for index in spec.indexes)
    if not (one_direction and declared):
        raise InvalidInput.one(
            "query",
            f"ordering {spec.name} by {', '.join(names)} needs those fields, in one direction, "
            "at the end of one of its ContainerSpec.indexes (Cosmos serves no other order)",
        )


def effective_order(
    order_by: Sequence[Order], tie_breakers: Sequence[str] = ()
) -> tuple[Order, ...]:
    """The order actually used: the requested fields, then `id` ascending (as in
    `core.adapters.azure.cosmos_sql`), then `tie_breakers` (the partition key field when the
    query spans partitions, where ids may repeat). Fields after an explicit `id` change nothing."""
    return _effective_order(tuple(order_by), tuple(tie_breakers))


@lru_cache(maxsize=512)
def _effective_order(
    order_by: tuple[Order, ...], tie_breakers: tuple[str, ...]
) -> tuple[Order, ...]:
    orders: list[Order] = []
    for order in order_by:
        orders.append(order)
        if order.field == "id":
            break
    else:
        orders.append(Order("id"))
    orders += [Order(f) for f in tie_breakers if all(o.field != f for o in orders)]
    return tuple(orders)


# -- evaluation ---------------------------------------------------------------------------------


def field_value(body: JsonDoc, path: str) -> Any:
    value: Any = body
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _same(a: object, b: object) -> bool:
    return _kind(a) == _kind(b) and a == b


def _holds(where: Where, value: Any) -> bool:
    op, operand = where.op, where.value
    if op == "missing":
        return value is MISSING
    if value is MISSING:
        return False
    if op == "exists":
        return True
    if op == "=":
        return _same(value, operand)
    if op == "in":
        return any(_same(value, v) for v in operand)
    if op == "contains":
        return isinstance(value, list) and any(_same(item, operand) for item in value)
    if op == "startswith":
        return isinstance(value, str) and value.startswith(operand)
    if _kind(value) != _kind(operand) or _kind(value) not in ("string", "number", "bool"):
        return False
    if op == "!=":
        return bool(value != operand)
    if op == "<":
        return bool(value < operand)
    if op == "<=":
        return bool(value <= operand)
    if op == ">":
        return bool(value > operand)
    return bool(value >= operand)


def matches(body: JsonDoc, where: Sequence[Where]) -> bool:
    return all(_holds(w, field_value(body, w.field)) for w in where)


_KIND_RANK = {"missing": 0, "null": 1, "bool": 2, "number": 3, "string": 4, "array": 5}


def compare_values(a: Any, b: Any) -> int:
    """Cosmos order: undefined < null < booleans < numbers < strings < arrays < objects."""
    ka = "missing" if a is MISSING else _kind(a)
    kb = "missing" if b is MISSING else _kind(b)
    if ka != kb:
        return -1 if _KIND_RANK.get(ka, 6) < _KIND_RANK.get(kb, 6) else 1
    if ka in ("bool", "number", "string"):
        return int(a > b) - int(a < b)
    return 0


def order_values(body: JsonDoc, orders: Sequence[Order]) -> list[Any]:
    return [field_value(body, o.field) for o in orders]


def compare_keys(a: Sequence[Any], b: Sequence[Any], orders: Sequence[Order]) -> int:
    for x, y, order in zip(a, b, orders, strict=True):
        c = compare_values(x, y)
        if c:
            return -c if order.descending else c
    return 0


# -- continuation tokens ------------------------------------------------------------------------


def _signature(orders: Sequence[Order]) -> str:
    return ",".join(f"{o.field}:{'d' if o.descending else 'a'}" for o in orders)


def encode_token(orders: Sequence[Order], values: Sequence[Any]) -> str:
    """The last row's order values, so the next page starts strictly after it (keyset), and
    the order they belong to, so a token cannot resume a different query by mistake."""
    payload = [_signature(orders), *(None if v is MISSING else v for v in values)]
    return base64.urlsafe_b64encode(_TOKEN_ENCODER.encode(payload).encode()).decode().rstrip("=")


def decode_token(token: str, orders: Sequence[Order]) -> list[Any]:
    try:
        payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        payload = None
    if (
        not isinstance(payload, list)
        or len(payload) != len(orders) + 1
        or payload[0] != _signature(orders)
        or not all(map(is_scalar, payload[1:]))
    ):
        raise InvalidInput.one("continuation", "is not a token this query returned")
    return payload[1:]
