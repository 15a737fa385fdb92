"""Saving DICOM series items: each file of a series arrives on its own (an initialization
batch, a blob event, an upload, a sweep), possibly twice, possibly at once with its
neighbours in another worker. Registration makes a series item holding that one slice; here it
is created, or merged into the stored series item under its etag (a concurrent merge is read
again and merged again), so that every slice lands once whatever the order of arrival.

A slice that changes the series (a new one, a file written again) changes the series'
version: the renditions are made again, and shapes already drawn on slices move with their
slices when one arrives between them (`core.domain.series.renumbering`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from core.domain.errors import Conflict
from core.domain.items import Item
from core.domain.messages import INGEST_DERIVATIVES, MakeDerivatives
from core.domain.series import DicomSeries, renumbering, with_slice
from core.domain.volumes import renumbered
from core.ports import Deps
from core.services.worklog import item_target
from core.store.collections import ITEMS
from core.store.update import update


def save_series(deps: Deps, project_id: str, items: Iterable[Item]) -> int:
    """Create or extend the series items among `items` (each holding the slices that just
    arrived); returns how many series items are new."""
    merged: dict[str, Item] = {}
    for item in items:
        assert item.series is not None
        before = merged.get(item.id)
        merged[item.id] = item if before is None else joined(item.series)(before) or before
    container = deps.documents.container(ITEMS)
    created, changed = 0, []
    for item in merged.values():
        assert item.series is not None
        try:
            container.create(item.to_doc())
            created += 1
            continue
        except Conflict:
            pass
        done = update(item_target(deps, project_id, item.id, gone_ok=True), joined(item.series))
        if done is not None and done.written:
            changed.append(item.id)
    if changed:  # new items get theirs from the caller, as every new item does
        message = MakeDerivatives(project_id=project_id, item_ids=changed)
        deps.queue.send(INGEST_DERIVATIVES, message.to_doc())
    return created


def joined(arrived: DicomSeries) -> Callable[[Item], Item | None]:
    """The change that adds the slices of `arrived` to a stored series item; None when they
    are there already (a redelivery)."""

    def change(stored: Item) -> Item | None:
        if stored.series is None or stored.media is None:
            return None
        series = stored.series
        for member in arrived.slices:
            series = with_slice(series, member)
        if series == stored.series:
            return None
        moves = renumbering(stored.series, series)
        return renumbered(stored, moves).model_copy(
            update={"series": series, "media": stored.media.of_series(series)}
        )

    return change
