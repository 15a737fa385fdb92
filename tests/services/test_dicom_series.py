"""DICOM series as one item: single-frame files sharing a SeriesInstanceUID, arriving in any
order and by any road (the initialization's batches, blob events, the sweep), become one item
whose frames are the slices in their order through the patient, served like a multi-frame
file's; a bad slice is recorded with its reason and the series stays."""

from __future__ import annotations

import re
import zlib

import numpy as np
import pytest

from core.domain.errors import NotFound
from core.domain.items import Item, ItemState
from core.ports import Deps
from core.services import labeling, projects, tasks
from core.services.frames import FRAME_PIXELS, FrameRendition, item_frame
from core.services.ingestion import ingestion_progress
from core.services.links import frame_count, frames_url
from core.services.refresh import register_blob, register_blobs
from tests.services.test_ingestion import drain, items_of, settings
from tests.support.labeling import creator
from tests.support.media import bundled_dicom, series_slice

SERIES = "1.2.826.0.1.3680043.2.1125.77.1"
# (file name, height along the normal in mm, InstanceNumber, pixel value): the names and the
# instance numbers run against the positions, which alone decide the order.
SLICES = [
    ("in/ct/a.dcm", 30.0, 1, 300),
    ("in/ct/b.dcm", 10.0, 2, 100),
    ("in/ct/c.dcm", 20.0, 3, 200),
]


@pytest.fixture(autouse=True)
def _people(deps: Deps) -> None:
    creator(deps, "ann")


def series_project(deps: Deps, task: str = "image_bounding_box") -> str:
    chosen = settings(task=task, ingest={"dicomSeries": True})
    return projects.create_project(deps, settings=chosen, actor="ann").value.id


def put_slices(deps: Deps, slices: list[tuple[str, float, int, int]]) -> None:
    for name, z, number, value in slices:
        deps.blobs.put("lake", name, series_slice(SERIES, z=z, number=number, value=value))


def frame_value(deps: Deps, project_id: str, item_id: str, frame: int) -> float:
    """The value a (constant) frame holds, read from its pixels as the browser gets them."""
    served = item_frame(
        deps,
        project_id=project_id,
        item_id=item_id,
        frame=frame,
        rendition=FrameRendition.PIXELS,
        actor="ann",
    )
    data = b"".join(served.chunks)
    offset, scale = FRAME_PIXELS.unpack_from(data)
    values = np.frombuffer(zlib.decompress(data[FRAME_PIXELS.size :]), "<u2") * scale + offset
    return float(values.mean())


def only_item(deps: Deps, project_id: str) -> Item:
    items = list(items_of(deps, project_id).values())
    assert len(items) == 1, [i.path for i in items]
    return items[0]


def test_the_files_of_a_series_become_one_item_ordered_along_the_normal(deps: Deps) -> None:
    put_slices(deps, SLICES)
    project_id = series_project(deps)
    drain(deps)

    item = only_item(deps, project_id)
    assert item.path == f"in/ct/{SERIES}.dcm" and item.state is ItemState.UNLABELED
    assert item.series is not None and item.media is not None and item.media.frames == 3
    assert [s.path for s in item.series.shown] == ["in/ct/b.dcm", "in/ct/c.dcm", "in/ct/a.dcm"]
    assert [frame_value(deps, project_id, item.id, n) for n in range(3)] == [100, 200, 300]
    with pytest.raises(NotFound, match="has 3 frames, numbered 0 to 2"):
        frame_value(deps, project_id, item.id, 3)
    # The labeler's task links the frames exactly as for a multi-frame file.
    assert frame_count(item) == 3 and frames_url(item) is not None


def test_a_slice_arriving_later_joins_in_its_place_and_redelivery_changes_nothing(
    deps: Deps,
) -> None:
    put_slices(deps, SLICES[:2])
    project_id = series_project(deps)
    drain(deps)
    first = only_item(deps, project_id)
    assert first.media is not None and first.media.frames == 2
    etag = first.media.etag

    put_slices(deps, SLICES[2:])  # the middle slice, by a blob event, three times
    for _ in range(3):
        assert [i.id for i in register_blob(deps, container="lake", name=SLICES[2][0])] == [
            first.id
        ]
    drain(deps)
    item = only_item(deps, project_id)
    assert item.media is not None and item.media.frames == 3 and item.media.etag != etag
    assert item.rank == first.rank and item.created_at == first.created_at
    assert [frame_value(deps, project_id, item.id, n) for n in range(3)] == [100, 200, 300]
    register_blob(deps, container="lake", name=SLICES[0][0])  # an old slice again
    assert only_item(deps, project_id) == item


def test_without_positions_the_instance_numbers_order_the_slices(deps: Deps) -> None:
    for name, number, value in [("in/s/x.dcm", 2, 20), ("in/s/y.dcm", 1, 10)]:
        deps.blobs.put("lake", name, series_slice(SERIES, z=None, number=number, value=value))
    project_id = series_project(deps)
    drain(deps)
    item = only_item(deps, project_id)
    assert [frame_value(deps, project_id, item.id, n) for n in range(2)] == [10, 20]


def test_a_bad_slice_is_recorded_with_its_reason_and_the_series_stays(deps: Deps) -> None:
    put_slices(deps, SLICES)
    deps.blobs.put("lake", "in/ct/wide.dcm", series_slice(SERIES, z=40.0, size=(16, 32)))
    deps.blobs.put("lake", "in/ct/cut.dcm", series_slice(SERIES, z=50.0)[:200])
    project_id = series_project(deps)
    drain(deps)

    items = items_of(deps, project_id)
    assert set(items) == {f"in/ct/{SERIES}.dcm", "in/ct/cut.dcm"}
    assert items["in/ct/cut.dcm"].state is ItemState.ERROR  # no header: no series to join
    series = items[f"in/ct/{SERIES}.dcm"]
    assert series.state is ItemState.UNLABELED
    assert series.series is not None and len(series.series.shown) == 3
    refused = {s.path: s.error for s in series.series.slices if s.error}
    assert list(refused) == ["in/ct/wide.dcm"]
    assert "32 × 16 pixels, unlike the series' 16 × 16" in (refused["in/ct/wide.dcm"] or "")

    deps.blobs.delete("lake", "in/ct/c.dcm")  # a slice's file deleted before it was shown
    with pytest.raises(
        NotFound, match=re.escape("in/ct/c.dcm' was deleted, frame 1 cannot be shown")
    ):
        frame_value(deps, project_id, series.id, 1)
    assert frame_value(deps, project_id, series.id, 2) == 300


def test_series_stay_files_unless_the_project_asks_and_multi_frame_files_stay_whole(
    deps: Deps,
) -> None:
    put_slices(deps, SLICES)
    deps.blobs.put("lake", "in/ct_small.dcm", bundled_dicom("CT_small.dcm"))
    plain = projects.create_project(deps, settings=settings(), actor="ann").value.id
    drain(deps)
    assert sorted(items_of(deps, plain)) == sorted([*(s[0] for s in SLICES), "in/ct_small.dcm"])


def test_a_shape_may_name_a_slice_of_the_series(deps: Deps) -> None:
    put_slices(deps, SLICES)
    project_id = series_project(deps)
    drain(deps)
    task = tasks.next_task(deps, project_id=project_id, actor="ann")
    box = {"label": "a", "x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2}
    labeling.submit_annotation(
        deps,
        project_id=project_id,
        item_id=task.items[0].id,
        value={"boxes": [box | {"slice": 2}]},
        actor="ann",
    )
    item = only_item(deps, project_id)
    assert item.final is not None and item.final.to_json() == {"boxes": [box | {"slice": 2}]}


def test_shapes_move_with_their_slice_when_one_arrives_between_them(deps: Deps) -> None:
    put_slices(deps, [SLICES[0], SLICES[1]])  # a (30 mm) and b (10 mm): b is slice 0
    project_id = series_project(deps)
    drain(deps)
    [item] = tasks.next_task(deps, project_id=project_id, actor="ann").items
    box = {"label": "a", "x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2}
    on_a, on_b, whole = box | {"slice": 1}, box | {"slice": 0}, box
    labeling.submit_annotation(
        deps,
        project_id=project_id,
        item_id=item.id,
        value={"boxes": [on_a, on_b, whole]},
        actor="ann",
    )
    put_slices(deps, [SLICES[2]])  # c (20 mm) arrives between them
    register_blob(deps, container="lake", name=SLICES[2][0])
    moved = only_item(deps, project_id)
    expected = {"boxes": [box | {"slice": 2}, on_b, whole]}
    assert moved.final is not None and moved.final.to_json() == expected
    assert moved.annotations[0].value.to_json() == expected
    assert moved.state is ItemState.LABELED


def test_a_series_is_one_item_against_the_item_cap(deps: Deps) -> None:
    chosen = settings(task="image_bounding_box", ingest={"dicomSeries": True, "itemCap": 1})
    project_id = projects.create_project(deps, settings=chosen, actor="ann").value.id
    drain(deps)
    put_slices(deps, SLICES)  # a folder watcher's batch: three files, one item
    assert register_blobs(deps, container="lake", names=[name for name, *_ in SLICES]) == 1
    item = only_item(deps, project_id)
    assert item.media is not None and item.media.frames == 3
    progress = ingestion_progress(deps, project_id=project_id, actor="ann")
    assert "over the item cap" not in progress.skipped_reasons
