"""The items of a project, by the queries labeling, review and export make, beside the indexes
those queries need: the one place that spells an item document's field names."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from core.domain.items import ItemState
from core.domain.lanes import ASSIGNED, LEASED, PARTIAL, PUBLIC_TO
from core.domain.model import stamp_text
from core.ports import ContainerSpec, Document, Order, Page, Query, Where
from core.store.documents import scan
from core.store.repositories import ProjectScoped

ITEMS = ContainerSpec(
    "items",
    partition_key="projectId",
    # No (state, rank): no query filters by state and orders by rank, and registration would
    # write it at a place anywhere in the index for every item (rank is a hash).
    indexes=(
        ("path",),
        ("updatedAt",),
        # Labeling: the task queue, review lists (newest first), the lease sweep, assignments,
        # the newest item (the dashboard's last refresh).
        ("lane", "rank"),
        ("state", "updatedAt"),
        ("lease.until",),
        ("assignee", "rank"),
        ("createdAt",),
    ),
    # Set only while an item is leased or reserved: registration writes two b-trees fewer.
    # A lane only while the item waits for a labeler: the index holds the queue, not the
    # whole project, and labeling an item takes its entry out rather than moving it.
    sparse=("lease.until", "assignee", "lane"),
)

_RANK = (Order("rank"),)
_NEWEST = (Order("updatedAt", descending=True),)
Reviewed = Literal["approved", "unreviewed"]


@dataclass(frozen=True)
class ItemFilter:
    """What a reviewer narrows the items to; every condition given must hold."""

    state: ItemState | None = None
    label: str | None = None
    labeler: str | None = None
    path: str | None = None
    """A prefix of the item's path."""
    since: datetime | None = None
    until: datetime | None = None
    """Last changed in [since, until]."""
    disputed: bool | None = None
    """The labelers did not all answer alike (or did, with False)."""
    min_confidence: float | None = None
    max_confidence: float | None = None
    """ML assist's confidence in the item's pre-label."""
    reviewed: Reviewed | None = None
    states: tuple[ItemState, ...] = ()
    """One of these states (with `state` unset)."""
    unreviewed: bool = False
    """Never approved nor rejected (a bulk approval's own condition)."""
    attribute: str | None = None
    """The final value has this attribute set (`name`) or set to a value (`name=value`, see
    `core.domain.attributes.attribute_key`)."""

    def where(self) -> tuple[Where, ...]:
        found = []
        if self.state is not None:
            found.append(Where("state", "=", self.state.value))
        elif self.states:
            found.append(Where("state", "in", [s.value for s in self.states]))
        if self.label is not None:
            found.append(Where("labels", "contains", self.label))
        if self.labeler is not None:
            found.append(Where("labelers", "contains", self.labeler))
        if self.attribute is not None:
            found.append(Where("attributeValues", "contains", self.attribute))
        if self.path:
            found.append(Where("path", "startswith", self.path))
        if self.since is not None:
            found.append(Where("updatedAt", ">=", stamp_text(self.since)))
        if self.until is not None:
            found.append(Where("updatedAt", "<=", stamp_text(self.until)))
        if self.disputed is not None:
            found.append(Where("disputed", "=", self.disputed))
        if self.min_confidence is not None:
            found.append(Where("prediction.confidence", ">=", self.min_confidence))
        if self.max_confidence is not None:
            found.append(Where("prediction.confidence", "<=", self.max_confidence))
        if self.reviewed == "approved":
            found.append(Where("review.decision", "=", "approved"))
        elif self.reviewed == "unreviewed" or self.unreviewed:
            found.append(Where("review", "missing"))
        return tuple(found)


class Items(ProjectScoped):
    """One project's items."""

    SPEC = ITEMS

    # The task queue (`core.domain.lanes`): one indexed query per step.

    def leased_to(self, user: str, size: int) -> list[Document]:
        """The items under `user`'s live leases, first `size` in queue order."""
        query = Query(where=(Where("lane", "=", LEASED + user),), order_by=_RANK, page_size=size)
        return self.container.query(self.project_id, query).documents

    def assigned_to(self, user: str, window: int, pages: int) -> Iterator[list[Document]]:
        """Items reserved for `user` and not answered by them, in windows, queue order."""
        return self._windows((Where("lane", "=", ASSIGNED + user),), _RANK, window, pages)

    def awaiting_consensus(self, window: int, pages: int) -> Iterator[list[Document]]:
        """Items some labelers answered, waiting for more answers."""
        return self._windows((Where("lane", "=", PARTIAL),), _RANK, window, pages)

    def in_public_lanes(self, window: int, pages: int) -> Iterator[list[Document]]:
        """Items anyone may take, by lane priority, then queue order."""
        public = (Where("lane", ">", PARTIAL), Where("lane", "<", PUBLIC_TO))
        return self._windows(public, (Order("lane"), Order("rank")), window, pages)

    def leases_expired(self, now: datetime) -> list[Document]:
        """Items whose lease ran out before `now`, the oldest lease first."""
        expired = (Where("lease.until", "<", stamp_text(now)),)
        query = Query(where=expired, order_by=(Order("lease.until"),), page_size=200)
        return list(scan(self.container, self.project_id, query))

    def reserved_for(self, labeler: str) -> Iterator[Document]:
        """Every item assigned to `labeler` (answered or not), queue order."""
        query = Query(where=(Where("assignee", "=", labeler),), order_by=_RANK)
        return scan(self.container, self.project_id, query)

    def under_path(self, prefix: str) -> Iterator[Document]:
        """Every item whose path starts with `prefix`, by path."""
        query = Query(where=(Where("path", "startswith", prefix),), order_by=(Order("path"),))
        return scan(self.container, self.project_id, query)

    def with_ids(self, ids: Sequence[str]) -> list[Document]:
        """Those of `ids` the project has (one query: keep `ids` to a page)."""
        query = Query(where=(Where("id", "in", list(ids)),), page_size=len(ids))
        return list(scan(self.container, self.project_id, query))  # a store may split a page

    def existing(self, ids: Sequence[str], per_query: int = 500) -> set[str]:
        """Those of `ids` the project has, `per_query` ids looked up at a time."""
        return {
            found.id
            for start in range(0, len(ids), per_query)
            for found in self.with_ids(ids[start : start + per_query])
        }

    def newest_created(self) -> Document | None:
        """The item registered last."""
        query = Query(order_by=(Order("createdAt", descending=True),), page_size=1)
        return next(iter(self.container.query(self.project_id, query).documents), None)

    # Counts (indexed COUNT queries).

    def count(self, where: ItemFilter | None = None) -> int:
        return self.container.count(self.project_id, where.where() if where else ())

    def count_in_state(self, state: ItemState) -> int:
        return self.count(ItemFilter(state=state))

    def count_in_lane(self, lane: str, *, prefix: bool = False, audit: bool | None = None) -> int:
        """Items in `lane` (every lane starting with it, with `prefix`), those in ML assist's
        random sample only, with `audit`."""
        where = [Where("lane", "startswith" if prefix else "=", lane)]
        if audit is not None:
            where.append(Where("audit", "=", audit))
        return self.container.count(self.project_id, where)

    def changed_since(self, since: datetime) -> int:
        return self.container.count(self.project_id, [Where("updatedAt", ">=", stamp_text(since))])

    # Pages and scans.

    def newest(
        self, *filters: ItemFilter | None, page_size: int, continuation: str | None = None
    ) -> Page:
        """A page of the items matching every filter, the most recently changed first."""
        where = tuple(w for f in filters if f is not None for w in f.where())
        query = Query(where=where, order_by=_NEWEST, page_size=page_size)
        return self.container.query(self.project_id, query, continuation)

    def addressed_to(self, user: str, page_size: int, continuation: str | None = None) -> Page:
        """A page of the items whose comments name `user`, most recently changed first."""
        query = Query(
            where=(Where("notify", "contains", user),), order_by=_NEWEST, page_size=page_size
        )
        return self.container.query(self.project_id, query, continuation)

    def page(self, page_size: int, continuation: str | None = None) -> Page:
        """A page of every item, in no particular order."""
        return self.container.query(self.project_id, Query(page_size=page_size), continuation)

    def every(self, page_size: int = 1000) -> Iterator[Document]:
        return scan(self.container, self.project_id, Query(page_size=page_size))

    def in_states(self, states: Sequence[ItemState | str], page_size: int) -> Iterator[Document]:
        """Every item in one of `states`."""
        return scan(self.container, self.project_id, self._in_states(states, page_size))

    def in_states_after(
        self, states: Sequence[ItemState | str], cursor: str | None, page_size: int
    ) -> Iterator[Document]:
        """Every item in one of `states` with an id after `cursor` (all, if None), by id."""
        query = self._in_states(states, page_size)
        if cursor is not None:
            query = Query(where=(*query.where, Where("id", ">", cursor)), page_size=page_size)
        return scan(self.container, self.project_id, query)

    @staticmethod
    def _in_states(states: Sequence[ItemState | str], page_size: int) -> Query:
        values = [s.value if isinstance(s, ItemState) else s for s in states]
        return Query(where=(Where("state", "in", values),), page_size=page_size)

    def _windows(
        self, where: tuple[Where, ...], order: tuple[Order, ...], window: int, pages: int
    ) -> Iterator[list[Document]]:
        continuation: str | None = None
        for _ in range(pages):
            query = Query(where=where, order_by=order, page_size=window)
            page = self.container.query(self.project_id, query, continuation)
            yield list(page.documents)
            if not (continuation := page.continuation):
                return


# A stored item's fields read without parsing the whole item (the task queue reads many).


def lane_of(document: Document) -> str | None:
    lane: str | None = document.body.get("lane")
    return lane


def answered_by(document: Document, user: str) -> bool:
    return user in document.body.get("labelers", ())


def assignee_of(document: Document) -> str | None:
    assignee: str | None = document.body.get("assignee")
    return assignee
