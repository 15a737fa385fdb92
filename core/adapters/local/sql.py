"""The portable `Query` in SQLite SQL over JSON bodies: pure functions, no I/O.

Values always travel as parameters; only field paths (checked against `ports.FIELD_PATH`) and
the container's table name (checked here) are written into the text.

`json_extract` flattens JSON types onto SQLite's: true/false become 1/0, objects and arrays
become their JSON text. To keep the Cosmos rule that values of different JSON types never
compare (see `core.adapters.jsonquery`), each condition carries a `json_type` guard, but only
where the indexable part alone could admit another type, because the guard parses the body of
every candidate row. SQLite orders NULL < numbers < text, which makes the cheap bounds work:
`x >= ''` admits only text, `x < ''` only numbers (and booleans), and object/array text always
starts with '[' or '{'.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from core.adapters.jsonquery import MISSING, encode_body
from core.domain.errors import InvalidInput
from core.ports import FIELD_PATH, ContainerSpec, JsonDoc, Order, Where

_TABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,254}")
_NUMBER_TYPES = "('integer','real')"


def table_name(spec: ContainerSpec) -> str:
    if not _TABLE_NAME.fullmatch(spec.name) or spec.name.lower().startswith("sqlite"):
        raise InvalidInput.one("container", f"{spec.name!r} is not a usable container name")
    return f'"{spec.name}"'


def field_sql(spec: ContainerSpec, field: str) -> str:
    """The SQL for a field's value: the `id`/`pk` columns, an indexed field's own column
    (`column_name`), else `json_extract`. `Where` and `Order` check their paths when made;
    `indexed_fields` checks the spec's."""
    if field == "id":
        return "id"
    if field == spec.partition_key:
        return "pk"
    if field in indexed_fields(spec):
        return column_name(field)
    return f"json_extract(body, '$.{field}')"


def column_name(field: str) -> str:
    """The column holding an indexed field's value as `json_extract` gives it: a quoted
    identifier that no plain dotted path can turn into anything else."""
    return f'"$.{field}"'


@lru_cache(maxsize=64)
def indexed_fields(spec: ContainerSpec) -> tuple[str, ...]:
    """The fields of `spec.indexes` that get a column of their own (not `id`, not the
    partition key), in order of first mention."""
    fields: list[str] = []
    for index in spec.indexes:
        for field in index:
            if not FIELD_PATH.fullmatch(field):
                raise InvalidInput.one(
                    "indexes", f"field path {field!r} is not a plain dotted name"
                )
            if field not in ("id", spec.partition_key, *fields):
                fields.append(field)
    for field in spec.sparse:
        if field not in fields:
            raise InvalidInput.one("sparse", f"{field!r} is not an indexed field of {spec.name}")
    return tuple(fields)


def column_values(body: JsonDoc, paths: Sequence[tuple[str, ...]]) -> list[Any]:
    """What `json_extract(body, '$.field')` gives for each field, given as its path split at
    the dots (once, by the caller), computed from the parsed body: the adapter fills the
    columns at write time, so SQLite never parses a body to keep an index."""
    values = []
    for path in paths:
        value: Any = body
        for part in path:
            value = value.get(part, MISSING) if isinstance(value, dict) else MISSING
        values.append(_as_column(value))
    return values


def _as_column(value: Any) -> Any:
    if value is MISSING or value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        return float(value)
    if isinstance(value, dict | list):
        return encode_body({"v": value})[5:-1]
    return value


def index_name(spec: ContainerSpec, fields: Sequence[str]) -> str:
    # A partial index is named apart from the full one on the same fields, so that opening a
    # file made before the field was sparse drops the old index and builds the new one.
    kind = "sparse" if is_sparse(spec, fields) else "columns"
    digest = hashlib.sha256("\0".join((kind, *fields)).encode()).hexdigest()[:12]
    return f"ix_{spec.name}_{digest}"


def is_sparse(spec: ContainerSpec, fields: Sequence[str]) -> bool:
    """Whether the index on `fields` keeps only the documents having its leading field."""
    return bool(fields) and fields[0] in spec.sparse


def index_sql(spec: ContainerSpec, fields: Sequence[str]) -> str:
    """An index on (pk, fields..., id) over the fields' columns: serves equality filters on
    leading fields and ORDER BY the rest within a partition, without a sort. On a sparse
    leading field, a partial index `WHERE field IS NOT NULL`: SQLite uses it for any query
    comparing that field, since a comparison with NULL never holds."""
    columns = ["pk"]
    indexed_fields(spec)  # checks the paths
    for field in (*fields, "id"):
        column = field_sql(spec, field)
        if column not in columns:
            columns.append(column)
    name = f'"{index_name(spec, fields)}"'
    text = f"CREATE INDEX IF NOT EXISTS {name} ON {table_name(spec)} ({', '.join(columns)})"
    if is_sparse(spec, fields):
        text += f" WHERE {field_sql(spec, fields[0])} IS NOT NULL"
    return text


# -- conditions ---------------------------------------------------------------------------------


def condition_sql(
    spec: ContainerSpec, where: Where, params: list[Any], *, plain_text: bool = False
) -> str:
    """`plain_text`: another condition of the query keeps the field to strings that no
    object's or array's JSON text can be (`keeps_plain_text`), so this one needs no guard
    against those."""
    x = field_sql(spec, where.field)
    if x in ("id", "pk"):
        return _column_condition(x, where, params)
    jt = f"json_type(body, '$.{where.field}')"
    op, value = where.op, where.value
    if op == "exists":
        return f"{jt} IS NOT NULL"
    if op == "missing":
        return f"({x} IS NULL AND {jt} IS NULL)"
    if op == "in":
        return _in(x, jt, list(value), params)
    if op == "contains":
        return _contains(where.field, value, params)
    if op == "startswith":
        return _startswith(x, jt, value, params)
    return _compare(x, jt, op, value, params, plain_text=plain_text)


def keeps_plain_text(where: Where) -> bool:
    """Whether `where` alone admits only strings that are not the JSON text of an object or
    array (which starts with '[' or '{'), with no `json_type` guard of its own."""
    op, value = where.op, where.value
    if op in ("=", "<", "<="):
        return isinstance(value, str) and not _may_admit_json_text(op, value)
    if op == "startswith":
        return isinstance(value, str) and value != "" and not value.startswith(("[", "{"))
    if op == "in":
        return bool(value) and all(
            isinstance(v, str) and not v.startswith(("[", "{")) for v in value
        )
    return False


def _column_condition(column: str, where: Where, params: list[Any]) -> str:
    """`id` and the partition key are always strings, so no guards are needed."""
    op, value = where.op, where.value
    if op == "exists":
        return "1"
    if op in ("missing", "contains"):
        return "0"
    if op == "in":
        strings = [v for v in value if isinstance(v, str)]
        params.extend(strings)
        return f"{column} IN ({_marks(len(strings))})" if strings else "0"
    if not isinstance(value, str):
        return "0"
    if op == "startswith":
        return _startswith(column, None, value, params)
    params.append(value)
    return f"{column} {op} ?"


def _compare(
    x: str, jt: str, op: str, value: Any, params: list[Any], *, plain_text: bool = False
) -> str:
    if value is None:  # validation lets null through with '=' only
        return f"({x} IS NULL AND {jt} = 'null')"
    if isinstance(value, bool):
        params.append(int(value))
        guard = f"'{str(value).lower()}'" if op == "=" else "'true','false'"
        return f"({x} {op} ? AND {jt} IN ({guard}))"
    params.append(value)
    parts = [f"{x} {op} ?"]
    if isinstance(value, str):
        if op in ("<", "<="):
            parts.append(f"{x} >= ''")
        if _may_admit_json_text(op, value) and not plain_text:
            parts.append(f"{jt} = 'text'")
    else:
        if op in (">", ">="):
            parts.append(f"{x} < ''")
        if _may_admit_boolean(op, value):
            parts.append(f"{jt} IN {_NUMBER_TYPES}")
    return f"({' AND '.join(parts)})"


def _may_admit_json_text(op: str, value: str) -> bool:
    """Could `x op value` hold for the JSON text of an object or array ('[...', '{...')?"""
    if op == "=":
        return value.startswith(("[", "{"))
    if op in ("<", "<="):
        return value >= "["
    return op == "!=" or value < "|"


def _may_admit_boolean(op: str, value: float) -> bool:
    """Could `x op value` hold for a boolean, which json_extract gives as 1 or 0?"""
    return {
        "=": value in (0, 1),
        "<": value > 0,
        "<=": value >= 0,
        ">": value < 1,
        ">=": value <= 1,
    }.get(op, True)


def _in(x: str, jt: str, values: list[Any], params: list[Any]) -> str:
    groups = []
    strings = [v for v in values if isinstance(v, str)]
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    booleans = sorted({str(v).lower() for v in values if isinstance(v, bool)})
    if strings:
        params.extend(strings)
        guard = any(s.startswith(("[", "{")) for s in strings)
        groups.append(f"{x} IN ({_marks(len(strings))})" + (f" AND {jt} = 'text'" * guard))
    if numbers:
        params.extend(numbers)
        guard = any(n in (0, 1) for n in numbers)
        groups.append(
            f"{x} IN ({_marks(len(numbers))})" + (f" AND {jt} IN {_NUMBER_TYPES}" * guard)
        )
    if booleans:
        groups.append(f"{jt} IN ({', '.join(repr(b) for b in booleans)})")
    if any(v is None for v in values):
        groups.append(f"{x} IS NULL AND {jt} = 'null'")
    return "(" + " OR ".join(f"({g})" for g in groups) + ")" if groups else "0"


def _contains(field: str, value: Any, params: list[Any]) -> str:
    if value is None or isinstance(value, bool):
        match = f"je.type = '{str(value).lower() if value is not None else 'null'}'"
    else:
        params.append(value)
        kind = "= 'text'" if isinstance(value, str) else f"IN {_NUMBER_TYPES}"
        match = f"je.type {kind} AND je.value = ?"
    path = f"'$.{field}'"
    each = f"SELECT 1 FROM json_each(body, {path}) AS je WHERE {match}"  # noqa: S608 (checked path)
    return f"(json_type(body, {path}) = 'array' AND EXISTS ({each}))"


def _startswith(x: str, jt: str | None, prefix: str, params: list[Any]) -> str:
    """A range, so an index on the field serves it: prefix <= x < successor(prefix)."""
    if not prefix:
        return f"{jt} = 'text'" if jt else "1"
    params.append(prefix)
    parts = [f"{x} >= ?"]
    upper = successor(prefix)
    if upper is None:  # the prefix is all U+10FFFF: no string sorts above its range
        params.extend([len(prefix), prefix])
        parts.append(f"substr({x}, 1, ?) = ?")
    else:
        params.append(upper)
        parts.append(f"{x} < ?")
    if jt and prefix.startswith(("[", "{")):
        parts.append(f"{jt} = 'text'")
    return f"({' AND '.join(parts)})"


def successor(prefix: str) -> str | None:
    """The least string above every string starting with `prefix`, in code point order (which
    is SQLite's BINARY order on UTF-8), or None if there is none."""
    chars = list(prefix)
    while chars:
        code = ord(chars.pop()) + 1
        if code <= 0x10FFFF:
            return "".join(chars) + chr(0xE000 if 0xD800 <= code <= 0xDFFF else code)
    return None


def _marks(n: int) -> str:
    return ", ".join("?" * n)


# -- ordering and keyset paging -----------------------------------------------------------------


def order_sql(spec: ContainerSpec, orders: Sequence[Order]) -> str:
    return ", ".join(field_sql(spec, o.field) + (" DESC" if o.descending else "") for o in orders)


def after_sql(
    spec: ContainerSpec, orders: Sequence[Order], last: Sequence[Any], params: list[Any]
) -> str:
    """Rows strictly after `last` in `orders`: an inclusive bound on the first field, which
    SQLite turns into an index range (it does not for a row-value comparison over expression
    columns), and the exact nested condition."""
    exprs = [field_sql(spec, o.field) for o in orders]
    if len(exprs) == 1:
        return _nested_after(exprs, orders, last, params)
    params.append(last[0])
    lead = f"{exprs[0]} {'<=' if orders[0].descending else '>='} ?"
    return f"({lead} AND {_nested_after(exprs, orders, last, params)})"


def _nested_after(
    exprs: Sequence[str], orders: Sequence[Order], last: Sequence[Any], params: list[Any]
) -> str:
    op = "<" if orders[0].descending else ">"
    params.append(last[0])
    if len(exprs) == 1:
        return f"{exprs[0]} {op} ?"
    params.append(last[0])
    rest = _nested_after(exprs[1:], orders[1:], last[1:], params)
    return f"({exprs[0]} {op} ? OR ({exprs[0]} = ? AND {rest}))"


# -- statements ---------------------------------------------------------------------------------


def _filters(
    spec: ContainerSpec, pk: str | None, where: Sequence[Where], params: list[Any]
) -> list[str]:
    conditions = []
    if pk is not None:
        params.append(pk)
        conditions.append("pk = ?")
    # A guard parses the body of every row the index range admits: the next task's public
    # lanes (lane > '1r' AND lane < '5') need none, as the upper bound keeps out '[' and '{'.
    plain = {w.field for w in where if keeps_plain_text(w)}
    return conditions + [condition_sql(spec, w, params, plain_text=w.field in plain) for w in where]


def page_sql(
    spec: ContainerSpec,
    pk: str | None,
    where: Sequence[Where],
    orders: Sequence[Order],
    last: Sequence[Any] | None,
    limit: int,
) -> tuple[str, list[Any]]:
    """A page's query: each row is (body, etag, its values of `orders`...)."""
    params: list[Any] = []
    conditions = _filters(spec, pk, where, params)
    if last is not None:
        conditions.append(after_sql(spec, orders, last, params))
    params.append(limit)
    # The order values come with each row, as SQLite compares them (booleans are 1/0): the
    # next page's keyset, taken without parsing the last body.
    selected = ", ".join(["body", "etag", *(field_sql(spec, o.field) for o in orders)])
    text = f"SELECT {selected} FROM {table_name(spec)}"  # noqa: S608 (checked name)
    if conditions:
        text += " WHERE " + " AND ".join(conditions)
    return f"{text} ORDER BY {order_sql(spec, orders)} LIMIT ?", params


def count_sql(spec: ContainerSpec, pk: str | None, where: Sequence[Where]) -> tuple[str, list[Any]]:
    params: list[Any] = []
    conditions = _filters(spec, pk, where, params)
    text = f"SELECT COUNT(*) FROM {table_name(spec)}"  # noqa: S608 (checked name)
    return (text + " WHERE " + " AND ".join(conditions) if conditions else text), params
