"""DICOM-SEG as an export format: a mask project's DICOM items each become one Segmentation
instance over their source files, read back with highdicom's own reader and pydicom (segments
numbered as the classes are, each mask on its own frame, pixel for pixel); items that cannot
be segmented are listed in skipped.csv with the reason; the same file streamed and written by
an export job in parts; refused with a 422 for projects without masks and for a split."""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

import highdicom as hd
import numpy as np
import numpy.typing as npt
import pytest
from pydicom import dcmread

from core.domain import exports as export_domain
from core.domain.errors import InvalidInput
from core.domain.exports import ExportFormat
from core.export.mask_pixels import counts_of_grid
from core.ports import Deps
from core.services import exports, projects
from core.services.exports import ExportOptions
from tests.export.test_export_services import run_exports
from tests.export.test_volume_exports import answer_each, in_parts, streamed
from tests.services.test_ingestion import drain, settings
from tests.support.labeling import creator
from tests.support.media import image_bytes, multiframe_dicom, of_a_study, series_slice

SERIES = "1.2.826.0.1.3680043.2.1125.77.5"
SERIES_PATH = f"in/ct/{SERIES}.dcm"
ROWS, COLUMNS = 24, 20
# (file, height along the normal): the file names run against the slice order.
SLICES = [("in/ct/s3.dcm", 30.0), ("in/ct/s1.dcm", 10.0), ("in/ct/s2.dcm", 20.0)]


def square(top: int, left: int, side: int) -> npt.NDArray[np.bool_]:
    grid = np.zeros((ROWS, COLUMNS), dtype=bool)
    grid[top : top + side, left : left + side] = True
    return grid


def mask(label: str, grid: npt.NDArray[np.bool_], slice: int | None = None) -> dict[str, Any]:
    made: dict[str, Any] = {"label": label, "size": [ROWS, COLUMNS]}
    made["counts"] = counts_of_grid(grid)
    return made | ({"slice": slice} if slice is not None else {})


ANSWERS: dict[str, list[dict[str, Any]]] = {
    SERIES_PATH: [
        mask("a", square(2, 2, 5), slice=0),
        mask("b", square(10, 8, 6), slice=0),
        mask("b", square(4, 4, 9), slice=2),
    ],
    "in/clip.dcm": [mask("a", square(1, 1, 4), slice=1)],
    "in/photo.png": [mask("a", square(0, 0, 3))],
}


def labeled(
    deps: Deps,
    task: str = "image_semantic_segmentation",
    answers: dict[str, list[dict[str, Any]]] = ANSWERS,
) -> str:
    """A series of three slices with masks on slices 0 and 2, a multi-frame file without
    places (highdicom cannot refer to its frames) and a PNG, all of one study."""
    creator(deps, "ann")
    for name, z in SLICES:
        data = series_slice(SERIES, z=z, size=(ROWS, COLUMNS), value=int(z))
        deps.blobs.put("lake", name, of_a_study(data))
    deps.blobs.put("lake", "in/clip.dcm", of_a_study(multiframe_dicom(3, (ROWS, COLUMNS))))
    deps.blobs.put("lake", "in/photo.png", image_bytes("PNG", (COLUMNS, ROWS)))
    chosen = settings(task=task, ingest={"dicomSeries": True})
    project_id = projects.create_project(deps, settings=chosen, actor="ann").value.id
    drain(deps)
    answer_each(deps, project_id, "masks", answers)
    return project_id


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_a_series_masks_are_one_segmentation_read_back_slice_by_slice(deps: Deps) -> None:
    project_id = labeled(deps)
    files = members(streamed(deps, project_id, ExportFormat.DICOM_SEG))
    assert set(files) == {f"in_ct_{SERIES}.dcm", "skipped.csv"}  # named after its path
    [name] = [n for n in files if n.endswith(".dcm")]
    seg = hd.seg.segread(io.BytesIO(files[name]))
    assert [s.SegmentLabel for s in seg.SegmentSequence] == ["a", "b"]
    sources = {n: dcmread(io.BytesIO(deps.blobs.get("lake", n))) for n, _ in SLICES}
    by_uid = {ds.SOPInstanceUID: n for n, ds in sources.items()}
    # Slice order runs along the normal: s1 (z 10), s2, s3.
    order = ["in/ct/s1.dcm", "in/ct/s2.dcm", "in/ct/s3.dcm"]
    expected = {
        ("in/ct/s1.dcm", 1): square(2, 2, 5),
        ("in/ct/s1.dcm", 2): square(10, 8, 6),
        ("in/ct/s3.dcm", 2): square(4, 4, 9),
    }
    uids = [sources[n].SOPInstanceUID for n in order]
    volume = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=uids, segment_numbers=[1, 2], combine_segments=False
    )
    assert volume.shape == (3, ROWS, COLUMNS, 2)
    for k, uid in enumerate(uids):
        for segment in (1, 2):
            want = expected.get((by_uid[uid], segment), np.zeros((ROWS, COLUMNS), bool))
            assert np.array_equal(volume[k, :, :, segment - 1].astype(bool), want)
    plain = dcmread(io.BytesIO(files[name]))  # pydicom alone: a Segmentation of the same study
    assert plain.Modality == "SEG" and plain.StudyInstanceUID == sources[order[0]].StudyInstanceUID
    assert int(plain.NumberOfFrames) == 3  # one frame per (slice, segment) painted, no empties


def test_items_left_out_are_listed_with_the_reason(deps: Deps) -> None:
    project_id = labeled(deps)
    files = members(streamed(deps, project_id, ExportFormat.DICOM_SEG))
    rows = list(csv.DictReader(io.StringIO(files["skipped.csv"].decode())))
    reasons = {row["path"]: row["reason"] for row in rows}
    assert set(reasons) == {"in/clip.dcm", "in/photo.png"}
    assert "not a DICOM file (it is png)" in reasons["in/photo.png"]
    assert "Frame of Reference" in reasons["in/clip.dcm"]


def test_an_export_job_in_parts_writes_the_same_files(deps: Deps) -> None:
    project_id = labeled(deps)
    whole = members(streamed(deps, project_id, ExportFormat.DICOM_SEG))
    parted = members(in_parts(deps, project_id, ExportFormat.DICOM_SEG))
    assert parted.keys() == whole.keys() and parted["skipped.csv"] == whole["skipped.csv"]
    name = f"in_ct_{SERIES}.dcm"
    a, b = (dcmread(io.BytesIO(files[name])) for files in (whole, parted))
    assert a.PixelData == b.PixelData  # the instance is the same, UIDs too, but for its times
    assert (a.SOPInstanceUID, a.SeriesInstanceUID) == (b.SOPInstanceUID, b.SeriesInstanceUID)
    assert a.PerFrameFunctionalGroupsSequence == b.PerFrameFunctionalGroupsSequence
    assert a.DimensionIndexSequence == b.DimensionIndexSequence


def test_a_mask_without_a_slice_is_on_the_first_frame(deps: Deps) -> None:
    whole = [mask("b", square(0, 0, 6)), mask("a", square(3, 3, 3), slice=0)]
    project_id = labeled(deps, "image_instance_segmentation", ANSWERS | {SERIES_PATH: whole})
    files = members(streamed(deps, project_id, ExportFormat.DICOM_SEG))
    [name] = [n for n in files if n.endswith(".dcm")]
    seg = hd.seg.segread(io.BytesIO(files[name]))
    first = dcmread(io.BytesIO(deps.blobs.get("lake", "in/ct/s1.dcm"))).SOPInstanceUID
    labels = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=[first], segment_numbers=[1, 2], combine_segments=True
    )[0]
    want = np.where(square(0, 0, 6), 2, 0)
    want[square(3, 3, 3)] = 1  # the frame's own mask wins the pixels both paint
    assert np.array_equal(labels, want)


@pytest.mark.parametrize(
    ("task", "options", "field", "says"),
    [
        ("image_bounding_box", {}, "format", "a DICOM Segmentation holds masks"),
        ("image_semantic_segmentation", {"validation": 0.2}, "validation", "no train/valid"),
    ],
)
def test_refused_where_it_does_not_apply(
    deps: Deps, task: str, options: dict[str, Any], field: str, says: str
) -> None:
    creator(deps, "ann")
    project_id = projects.create_project(deps, settings=settings(task=task), actor="ann").value.id
    with pytest.raises(InvalidInput) as refused:
        exports.request_export(
            deps,
            project_id=project_id,
            actor="ann",
            format=ExportFormat.DICOM_SEG,
            options=ExportOptions(**options),
        )
    [violation] = refused.value.violations
    assert violation.field == field and says in violation.rule


def test_its_parts_hold_few_items_whatever_the_part_size_setting(
    deps: Deps, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each item reads every source file of its volume: a part of the usual 5,000 items could
    outlast a Function's time limit, so DICOM-SEG's parts are capped (here at one item)."""
    project_id = labeled(deps)
    monkeypatch.setattr(export_domain, "SEG_PART_ITEMS", 1)
    assert deps.export_part_items == export_domain.PART_ITEMS
    job = exports.request_export(
        deps,
        project_id=project_id,
        actor="ann",
        format=ExportFormat.DICOM_SEG,
        options=ExportOptions(),
    )
    run_exports(deps)
    done = exports.get_export(deps, project_id=project_id, actor="ann", export_id=job.id).job
    assert done.status.value == "succeeded" and done.items == 3
    assert done.parts == 4  # an item a part, and the empty last one that says all are written
