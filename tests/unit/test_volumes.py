"""Volumes in the domain: a series' slices in order through the patient, refused slices with
their reason, shapes that name their slice (validated against the item's frames, matched per
slice by consensus, moved when a slice arrives between them), and per-slice grouping."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.domain.annotation_json import read_value
from core.domain.annotations import Box, BoxSet, Polygon, PolygonSet, validate_annotation
from core.domain.consensus import Verdict, decide
from core.domain.errors import InvalidAnnotation
from core.domain.items import Annotation, Item, MediaFacts
from core.domain.series import (
    DicomSeries,
    SeriesSlice,
    frame_source,
    ordered,
    position_along_normal,
    renumbering,
    with_slice,
)
from core.domain.task_types import MediaKind, TaskType
from core.domain.volumes import renumbered, slice_shapes, source_files, volume_frames

BOXES, POLYS = TaskType.IMAGE_BOUNDING_BOX, TaskType.IMAGE_POLYGON
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def member(path: str, position: float | None = None, number: int | None = None, **more: object):
    return SeriesSlice.model_validate(
        {"path": path, "position": position, "number": number, "width": 8, "height": 8} | more
    )


def series(*slices: SeriesSlice) -> DicomSeries:
    found = DicomSeries(uid="1.2.3")
    for one in slices:
        found = with_slice(found, one)
    return found


def test_position_is_measured_along_the_slice_normal() -> None:
    axial = (1, 0, 0, 0, 1, 0)
    assert position_along_normal((5, 7, -12.5), axial) == -12.5
    sagittal = (0, 1, 0, 0, 0, -1)  # rows along y, columns down z: the normal is -x
    assert position_along_normal((3, 0, 0), sagittal) == -3
    assert position_along_normal((1, 2, 3), None) is None
    assert position_along_normal((1, 2), axial) is None
    assert position_along_normal((1, 2, 3), (1, 0, 0, 1, 0, 0)) is None  # no plane


def test_slices_go_by_position_else_by_instance_number_and_arrival_order_does_not_matter() -> None:
    by_position = [member("c", 3.0, 1), member("a", 1.0, 3), member("b", 2.0, 2)]
    assert [s.path for s in ordered(by_position)] == ["a", "b", "c"]
    one_missing = [member("c", 3.0, 1), member("a", None, 3), member("b", 2.0, 2)]
    assert [s.path for s in ordered(one_missing)] == ["c", "b", "a"]
    forwards, backwards = series(*by_position), series(*reversed(by_position))
    assert forwards == backwards and forwards.version == backwards.version


def test_a_slice_that_cannot_join_is_kept_with_its_reason_and_not_shown() -> None:
    found = series(
        member("a", 1.0, sop_uid="9.1"),
        member("b", 2.0, width=16),
        member("copy", 3.0, sop_uid="9.1"),
    )
    assert [s.path for s in found.shown] == ["a"]
    reasons = {s.path: s.error for s in found.slices if s.error}
    assert "16 × 8 pixels, unlike the series' 8 × 8 (in 'a')" in (reasons["b"] or "")
    assert "a copy of the slice in 'a'" in (reasons["copy"] or "")
    assert with_slice(found, member("a", 1.0, sop_uid="9.1")) == found  # delivered again
    assert frame_source("s.dcm", found, 0).path == "a"
    assert frame_source("multi.dcm", None, 4) == frame_source("multi.dcm", None, 4)
    with pytest.raises(IndexError):
        frame_source("s.dcm", found, 1)


def test_shapes_name_a_slice_within_the_items_frames() -> None:
    box = {"label": "Cat", "x": 0.1, "y": 0.2, "w": 0.3, "h": 0.4}
    value = validate_annotation(
        BOXES, {"boxes": [box | {"slice": 4}]}, label_names={"Cat"}, frames=5
    )
    assert value == BoxSet((Box("Cat", 0.1, 0.2, 0.3, 0.4, slice=4),))
    assert value.to_json() == {"boxes": [box | {"slice": 4}]}
    whole = validate_annotation(BOXES, {"boxes": [box]}, label_names={"Cat"}, frames=5)
    assert whole.to_json() == {"boxes": [box]}  # no slice: no key, as before slices existed
    assert read_value({"boxes": [box]}) == whole
    for wrong, rule in [
        (5, "is slice 5, but the item has 5 slices, numbered 0 to 4"),
        (-1, "is slice -1, but the item has 5 slices"),
        ("2", "must be a whole number, the slice from 0 (the item has 5 slices)"),
    ]:
        with pytest.raises(InvalidAnnotation) as caught:
            validate_annotation(
                POLYS,
                {
                    "polygons": [
                        {"label": "Cat", "points": [[0, 0], [1, 0], [1, 1]], "slice": wrong}
                    ]
                },
                label_names={"Cat"},
                frames=5,
            )
        [violation] = caught.value.violations
        assert violation.field == "polygons[0].slice" and rule in violation.rule
    with pytest.raises(InvalidAnnotation, match="the item has 1 slice, numbered 0 to 0"):
        validate_annotation(BOXES, {"boxes": [box | {"slice": 1}]}, label_names={"Cat"})


def test_consensus_matches_shapes_on_the_same_slice_only() -> None:
    on = [
        BoxSet((Box("Cat", 0.1, 0.1, 0.3, 0.3, slice=2),)),
        BoxSet((Box("Cat", 0.1, 0.1, 0.3, 0.3, slice=2),)),
    ]
    agreed = decide(BOXES, on, min_labelers=2, max_labelers=2)
    assert agreed.verdict is Verdict.AGREED and agreed.final == on[0]
    apart = [on[0], BoxSet((Box("Cat", 0.1, 0.1, 0.3, 0.3, slice=3),))]
    assert decide(BOXES, apart, min_labelers=2, max_labelers=2).verdict is not Verdict.AGREED
    square = ((0.1, 0.1), (0.5, 0.1), (0.5, 0.5), (0.1, 0.5))
    polygons = [
        PolygonSet((Polygon("Cat", square, slice=1),)),
        PolygonSet((Polygon("Cat", square, slice=1),)),
    ]
    merged = decide(POLYS, polygons, min_labelers=2, max_labelers=2).final
    assert merged == polygons[0]


def test_shapes_follow_their_slices_when_one_arrives_between_them() -> None:
    before = series(member("a", 1.0), member("c", 3.0))
    after = with_slice(before, member("b", 2.0))
    moves = renumbering(before, after)
    assert moves == {0: 0, 1: 2}
    assert [s.path for s in after.shown] == ["a", "b", "c"]
    value = BoxSet((Box("Cat", 0.1, 0.1, 0.2, 0.2, slice=1), Box("Cat", 0.5, 0.5, 0.2, 0.2)))
    item = Item(
        id="i",
        project_id="p",
        path="s.dcm",
        kind=MediaKind.IMAGE,
        rank=0.5,
        media=MediaFacts(format="dicom", bytes=1, frames=2),
        annotations=[Annotation(user="lee", at=NOW, value=value)],
        final=value,
        created_at=NOW,
        updated_at=NOW,
    )
    moved = renumbered(item, moves)
    assert moved.final == BoxSet(
        (Box("Cat", 0.1, 0.1, 0.2, 0.2, slice=2), Box("Cat", 0.5, 0.5, 0.2, 0.2))
    )
    assert moved.annotations[0].value == moved.final
    assert volume_frames(item) == 2
    assert slice_shapes(moved.final) == {
        None: [Box("Cat", 0.5, 0.5, 0.2, 0.2)],
        2: [Box("Cat", 0.1, 0.1, 0.2, 0.2, slice=2)],
    }


def test_a_volumes_source_files_are_in_slice_order() -> None:
    found = series(member("late", 3.0), member("early", 1.0), member("wide", 2.0, width=9))
    item = Item(
        id="i",
        project_id="p",
        path="ct/1.2.3.dcm",
        kind=MediaKind.IMAGE,
        rank=0.5,
        series=found,
        created_at=NOW,
        updated_at=NOW,
    )
    assert source_files(item) == ["early", "late"]
    assert source_files(item.model_copy(update={"series": None})) == ["ct/1.2.3.dcm"]
