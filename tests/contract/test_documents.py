"""The DocumentStore contract, run against every adapter (see conftest.py)."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from core.domain.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from core.ports import (
    ContainerSpec,
    DocumentContainer,
    DocumentStore,
    JsonDoc,
    Order,
    Query,
    Where,
)

SPEC = ContainerSpec("items", "projectId", indexes=(("state", "rank"), ("score",)))


@pytest.fixture
def items(documents: DocumentStore) -> DocumentContainer:
    return documents.container(SPEC)


def doc(id: str, pk: str = "p1", **fields: Any) -> JsonDoc:
    return {"id": id, "projectId": pk, **fields}


def own(body: JsonDoc) -> JsonDoc:
    """The body without system properties an adapter may add (Cosmos's `_ts`, `_etag`, ...)."""
    return {k: v for k, v in body.items() if not k.startswith("_")}


def ids(container: DocumentContainer, pk: str | None, query: Query) -> list[str]:
    """Every match, following continuations to the end."""
    found: list[str] = []
    continuation = None
    while True:
        page = container.query(pk, query, continuation)
        assert len(page.documents) <= query.page_size
        found += [d.id for d in page.documents]
        continuation = page.continuation
        if continuation is None:
            return found


# -- create, read, upsert, delete ----------------------------------------------------------------


def test_writes_inside_a_unit_are_stored_when_it_ends(
    documents: DocumentStore, items: DocumentContainer
) -> None:
    items.create(doc("a", state="new"))
    for wait in (True, False):  # a free store is taken at once either way
        with documents.unit(wait=wait):
            items.create(doc(f"b{wait}", state="new"))
            items.upsert(doc("a", state="seen"), if_match=items.read("p1", "a").etag)
    assert ids(items, "p1", Query()) == ["a", "bFalse", "bTrue"]
    assert items.read("p1", "a").body["state"] == "seen"


def test_create_then_read_and_get_return_the_body(items: DocumentContainer) -> None:
    created = items.create(doc("a", state="new", n=1, nested={"x": [1, 2]}))

    assert own(created.body) == doc("a", state="new", n=1, nested={"x": [1, 2]})
    assert isinstance(created.etag, str) and created.etag
    read = items.read("p1", "a")
    assert own(read.body) == own(created.body)
    assert read.etag == created.etag
    got = items.get("p1", "a")
    assert got is not None and got.etag == created.etag


def test_create_over_an_existing_id_conflicts(items: DocumentContainer) -> None:
    items.create(doc("a", v=1))

    with pytest.raises(Conflict):
        items.create(doc("a", v=2))
    assert items.read("p1", "a").body["v"] == 1


def test_missing_document_read_raises_and_get_returns_none(items: DocumentContainer) -> None:
    with pytest.raises(NotFound):
        items.read("p1", "nope")
    assert items.get("p1", "nope") is None


def test_upsert_inserts_then_replaces_with_a_new_etag_each_write(
    items: DocumentContainer,
) -> None:
    first = items.upsert(doc("a", v=1))
    second = items.upsert(doc("a", v=2))
    third = items.upsert(doc("a", v=2))

    assert len({first.etag, second.etag, third.etag}) == 3
    assert own(items.read("p1", "a").body) == doc("a", v=2)
    assert items.read("p1", "a").etag == third.etag


def test_upsert_with_the_current_etag_replaces(items: DocumentContainer) -> None:
    created = items.create(doc("a", v=1))

    updated = items.upsert(doc("a", v=2), if_match=created.etag)

    assert updated.etag != created.etag
    assert items.read("p1", "a").body["v"] == 2


def test_upsert_with_a_stale_etag_fails_and_changes_nothing(items: DocumentContainer) -> None:
    created = items.create(doc("a", v=1))
    current = items.upsert(doc("a", v=2))

    with pytest.raises(PreconditionFailed):
        items.upsert(doc("a", v=3), if_match=created.etag)

    after = items.read("p1", "a")
    assert after.body["v"] == 2
    assert after.etag == current.etag


def test_if_match_on_a_deleted_document_raises_not_found(items: DocumentContainer) -> None:
    created = items.create(doc("a", v=1))
    items.delete("p1", "a")

    with pytest.raises(NotFound):
        items.upsert(doc("a", v=2), if_match=created.etag)
    with pytest.raises(NotFound):
        items.delete("p1", "a", if_match=created.etag)
    assert items.get("p1", "a") is None


def test_delete_removes_and_a_missing_document_raises(items: DocumentContainer) -> None:
    items.create(doc("a"))

    items.delete("p1", "a")

    assert items.get("p1", "a") is None
    with pytest.raises(NotFound):
        items.delete("p1", "a")


def test_delete_with_a_stale_etag_fails_and_keeps_the_document(
    items: DocumentContainer,
) -> None:
    created = items.create(doc("a", v=1))
    current = items.upsert(doc("a", v=2))

    with pytest.raises(PreconditionFailed):
        items.delete("p1", "a", if_match=created.etag)
    assert items.read("p1", "a").body["v"] == 2

    items.delete("p1", "a", if_match=current.etag)
    assert items.get("p1", "a") is None


def test_upsert_many_writes_all_and_returns_the_count(items: DocumentContainer) -> None:
    items.create(doc("d0", v=0))

    written = items.upsert_many(doc(f"d{i}", v=i + 10) for i in range(5))

    assert written == 5
    assert [items.read("p1", f"d{i}").body["v"] for i in range(5)] == [10, 11, 12, 13, 14]


def test_create_many_inserts_only_what_is_absent_and_leaves_the_rest_as_stored(
    items: DocumentContainer,
) -> None:
    kept = items.create(doc("c1", state="leased", v=1))
    bodies = [doc(f"c{i}", state="new", v=i + 10) for i in range(4)]
    bodies += [doc("c2", state="twice", v=99), doc("c1", "p2", state="new", v=7)]

    created = items.create_many(bodies)

    assert created == 4  # c0, c2, c3, and c1 of the other partition
    assert items.read("p1", "c1") == kept  # body and etag untouched
    assert items.read("p1", "c2").body["v"] == 12  # of two in one call, the first
    assert items.read("p2", "c1").body["v"] == 7
    query = Query(where=(Where("state", "=", "new"),))
    assert ids(items, "p1", query) == ["c0", "c2", "c3"]  # indexed as it was written
    assert items.create_many([doc("c0", v=0)]) == 0 and items.create_many([]) == 0


def test_create_many_from_writers_at_once_inserts_each_document_once(
    items: DocumentContainer,
) -> None:
    """Registrations of one folder racing (an upload, the watcher, a sweep): every document
    is stored once, as the first writer made it, and the counts add up to what is stored."""
    bodies = [[doc(f"r{i:03d}", by=writer) for i in range(60)] for writer in range(3)]
    with ThreadPoolExecutor(3) as pool:
        created = list(pool.map(items.create_many, bodies))
    assert sum(created) == 60
    stored = [items.read("p1", f"r{i:03d}").body["by"] for i in range(60)]
    assert all(Counter(stored)[writer] == count for writer, count in enumerate(created))


def test_replace_many_writes_each_document_only_over_the_version_it_names(
    items: DocumentContainer,
) -> None:
    current = [items.create(doc(f"r{i}", v=i)) for i in range(5)]
    items.upsert(doc("r1", v=100))  # someone else's write: r1's etag moves on
    items.delete("p1", "r3")  # gone

    written = items.replace_many(
        [(doc(f"r{i}", v=i + 10), current[i].etag) for i in range(5)]
        + [(doc("never", v=0), current[0].etag)]
    )

    assert [w is not None for w in written] == [True, False, True, False, True, False]
    assert [items.read("p1", f"r{i}").body["v"] for i in (0, 1, 2, 4)] == [10, 100, 12, 14]
    assert items.get("p1", "r3") is None and items.get("p1", "never") is None
    for i in (0, 2, 4):
        document = written[i]
        assert document is not None
        assert own(document.body) == doc(f"r{i}", v=i + 10)
        assert document.etag == items.read("p1", f"r{i}").etag != current[i].etag
    with pytest.raises(PreconditionFailed):  # the etag it returned is the one now stored
        items.upsert(doc("r0", v=0), if_match=current[0].etag)
    assert items.replace_many([]) == []


@pytest.mark.parametrize("write", ["replace_many", "upsert"])
def test_conditional_writes_keep_indexed_queries_right_whichever_fields_change(
    items: DocumentContainer, write: str
) -> None:
    current = [items.create(doc(f"q{i}", state="new", rank=i / 10, score=i)) for i in range(4)]
    changes = [
        (doc("q0", state="done", rank=0.0, score=0), current[0].etag),  # one field moves
        (doc("q1", state="new", rank=0.1, score=1.0), current[1].etag),  # 1 becomes 1.0
        (doc("q2", state="done", rank=0.9, score=True), current[2].etag),  # all move
        (doc("q3", state="new", rank=0.3, score=3), current[3].etag),  # none moves
    ]

    if write == "replace_many":
        items.replace_many(changes)
    else:
        for body, etag in changes:
            items.upsert(body, if_match=etag)

    def matching(*where: Where) -> list[str]:
        return sorted(ids(items, "p1", Query(where=where)))

    assert matching(Where("state", "=", "new")) == ["q1", "q3"]
    assert matching(Where("state", "=", "done"), Where("rank", ">", 0.5)) == ["q2"]
    assert matching(Where("score", "=", 1)) == ["q1"]
    assert matching(Where("score", "=", True)) == ["q2"]
    assert matching(Where("score", ">=", 0)) == ["q0", "q1", "q3"]


def test_stored_documents_are_copies(items: DocumentContainer) -> None:
    body = doc("a", tags=["x"])
    created = items.create(body)
    body["tags"].append("changed-after-create")
    created.body["tags"].append("changed-returned")
    items.read("p1", "a").body["tags"].append("changed-read")

    assert items.read("p1", "a").body["tags"] == ["x"]


def test_partitions_are_isolated(items: DocumentContainer) -> None:
    items.create(doc("same", "p1", v=1))
    items.create(doc("same", "p2", v=2))

    assert items.read("p1", "same").body["v"] == 1
    assert items.read("p2", "same").body["v"] == 2
    items.delete("p1", "same")
    assert items.get("p1", "same") is None
    assert items.read("p2", "same").body["v"] == 2
    assert ids(items, "p2", Query()) == ["same"]
    assert ids(items, "p1", Query()) == []


def test_unicode_round_trips_and_matches(items: DocumentContainer) -> None:
    text = "Zoë 猫 🐈 \u00e9\u0301 ‮rtl"
    items.create(doc("ünï-猫", name=text))

    assert items.read("p1", "ünï-猫").body["name"] == text
    assert ids(items, "p1", Query(where=(Where("name", "=", text),))) == ["ünï-猫"]
    assert ids(items, "p1", Query(where=(Where("name", "startswith", "Zoë 猫"),))) == ["ünï-猫"]


# -- queries -------------------------------------------------------------------------------------

CORPUS = [
    doc("d1", state="unlabeled", rank=3, score=0.5, tags=["cat", "dog"], name="Ünï",
        flag=True, meta={"who": "ann"}),
    doc("d2", state="labeled", rank=1, score=0.9, tags=["dog"], name="alpha", flag=False,
        meta={"who": "bob"}),
    doc("d3", state="labeled", rank=2, tags=[], name="alphabet", flag=True),
    doc("d4", state="skipped", rank=5, score=0, name="beta", meta={"who": None}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (Where("state", "=", "labeled"), ["d2", "d3"]),
        (Where("state", "!=", "labeled"), ["d1", "d4"]),
        (Where("rank", "<", 3), ["d2", "d3"]),
        (Where("rank", "<=", 3), ["d1", "d2", "d3"]),
        (Where("rank", ">", 2), ["d1", "d4"]),
        (Where("rank", ">=", 5), ["d4"]),
        (Where("score", "<", 0.6), ["d1", "d4"]),
        (Where("score", "!=", 0.5), ["d2", "d4"]),  # d3 has no score: never matches
        (Where("score", "=", 0), ["d4"]),
        (Where("score", "=", False), []),  # booleans are not numbers
        (Where("flag", "=", True), ["d1", "d3"]),
        (Where("flag", "=", False), ["d2"]),
        (Where("state", "in", ["unlabeled", "skipped", "nope"]), ["d1", "d4"]),
        (Where("rank", "in", [1, 5]), ["d2", "d4"]),
        (Where("state", "in", []), []),
        (Where("score", "exists"), ["d1", "d2", "d4"]),
        (Where("score", "missing"), ["d3"]),
        (Where("tags", "contains", "dog"), ["d1", "d2"]),
        (Where("tags", "contains", "bird"), []),
        (Where("name", "startswith", "alpha"), ["d2", "d3"]),
        (Where("name", "startswith", "Ü"), ["d1"]),
        (Where("meta.who", "=", "bob"), ["d2"]),
        (Where("meta.who", "=", None), ["d4"]),
        (Where("meta.who", "exists"), ["d1", "d2", "d4"]),  # null is present
        (Where("meta.who", "missing"), ["d3"]),
        (Where("nothing.here", "=", "x"), []),
    ],
    ids=repr,
)
def test_each_condition_selects_exactly_its_documents(
    items: DocumentContainer, where: Where, expected: list[str]
) -> None:
    items.upsert_many(CORPUS)

    assert ids(items, "p1", Query(where=(where,))) == expected
    assert items.count("p1", [where]) == len(expected)


def test_conditions_combine_with_and(items: DocumentContainer) -> None:
    items.upsert_many(CORPUS)

    where = (Where("state", "=", "labeled"), Where("flag", "=", True))
    assert ids(items, "p1", Query(where=where)) == ["d3"]
    assert items.count("p1", where) == 1


def test_string_conditions_together_never_match_objects_arrays_or_other_types(
    items: DocumentContainer,
) -> None:
    values = ["2b", "4q", "[note]", ["4q"], {"a": "4q"}, 3, True, None]
    items.upsert_many([doc(f"v{n}", state=value) for n, value in enumerate(values)])

    def matching(*where: Where) -> list[str]:
        found = ids(items, "p1", Query(where=where))
        assert items.count("p1", where) == len(found)
        return found

    # The next task's public lanes: a range whose upper bound is below '[' and '{'.
    assert matching(Where("state", ">", "1r"), Where("state", "<", "5")) == ["v0", "v1"]
    assert matching(Where("state", ">", "1r"), Where("state", "<=", "4q")) == ["v0", "v1"]
    assert matching(Where("state", ">", "1r"), Where("state", "<", "~")) == ["v0", "v1", "v2"]
    assert matching(Where("state", ">=", "2"), Where("state", "startswith", "4")) == ["v1"]
    assert matching(Where("state", "!=", "2b"), Where("state", "in", ["4q", "[note]"])) == [
        "v1",
        "v2",
    ]
    assert matching(Where("state", "!=", "2b"), Where("state", "=", "4q")) == ["v1"]


def test_order_ascending_and_descending_breaks_ties_by_ascending_id(
    items: DocumentContainer,
) -> None:
    items.upsert_many(
        [doc("b", rank=1), doc("a", rank=1), doc("c", rank=0), doc("d", rank=2), doc("e", rank=1)]
    )

    assert ids(items, "p1", Query(order_by=(Order("rank"),))) == ["c", "a", "b", "e", "d"]
    assert ids(items, "p1", Query(order_by=(Order("rank", descending=True),))) == [
        "d", "a", "b", "e", "c",
    ]  # fmt: skip
    assert ids(items, "p1", Query()) == ["a", "b", "c", "d", "e"]


def test_filtered_order_pages_by_continuation(items: DocumentContainer) -> None:
    items.upsert_many(
        doc(f"i{i:03d}", state="unlabeled" if i % 3 else "labeled", rank=i % 4) for i in range(30)
    )
    query = Query(where=(Where("state", "=", "unlabeled"),), order_by=(Order("rank"),), page_size=4)

    expected = sorted((i % 4, f"i{i:03d}") for i in range(30) if i % 3)
    assert ids(items, "p1", query) == [i for _, i in expected]


@pytest.mark.parametrize("descending", [False, True])
def test_paging_250_documents_returns_each_once_in_order(
    items: DocumentContainer, descending: bool
) -> None:
    items.upsert_many(doc(f"doc-{i:03d}", rank=i % 7, score=i / 10) for i in range(250))
    items.upsert_many(doc(f"other-{i}", "p2", rank=i) for i in range(5))
    query = Query(order_by=(Order("rank", descending),), page_size=100)

    pages = []
    continuation = None
    while True:
        page = items.query("p1", query, continuation)
        pages.append([d.id for d in page.documents])
        continuation = page.continuation
        if continuation is None:
            break

    seen = [i for page in pages for i in page]
    by_rank = sorted(((i % 7) * (-1 if descending else 1), f"doc-{i:03d}") for i in range(250))
    assert seen == [i for _, i in by_rank]
    assert len(set(seen)) == 250
    assert len(pages) >= 3 and all(len(page) <= 100 for page in pages)


def test_cross_partition_query_and_count(items: DocumentContainer) -> None:
    items.upsert_many(doc(f"x{i}", f"p{i % 3}", state="s", rank=i) for i in range(12))
    items.create(doc("x0", "p1", state="t", rank=99))  # an id repeated in another partition

    everything = ids(items, None, Query(page_size=5))
    assert sorted(everything) == sorted([f"x{i}" for i in range(12)] + ["x0"])
    assert ids(items, None, Query(where=(Where("state", "=", "t"),))) == ["x0"]
    assert ids(items, None, Query(where=(Where("rank", ">=", 10),))) == ["x0", "x10", "x11"]
    assert items.count(None) == 13
    assert items.count(None, [Where("state", "=", "s")]) == 12
    assert items.count("p1", [Where("state", "=", "s")]) == 4


def test_empty_results(items: DocumentContainer) -> None:
    page = items.query("p1", Query(where=(Where("state", "=", "none"),)))

    assert page.documents == []
    assert page.continuation is None
    assert items.count("p1") == 0


@pytest.mark.parametrize(
    "order_by",
    [
        (Order("path"),),  # not indexed at all
        (Order("rank"), Order("state")),  # indexed fields, wrong order
        (Order("state"), Order("rank", descending=True)),  # mixed directions
    ],
)
def test_an_order_no_index_serves_is_refused_everywhere(
    items: DocumentContainer, order_by: tuple[Order, ...]
) -> None:
    """Cosmos serves only declared orders; the other adapters refuse the same ones, so a unit
    test on memory catches what would fail on Azure."""
    with pytest.raises(InvalidInput, match=r"ContainerSpec\.indexes"):
        items.query("p1", Query(order_by=order_by))
