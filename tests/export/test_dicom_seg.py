"""DICOM-SEG files of a volume's masks, read back with highdicom's own reader and pydicom: each
mask on its own source slice, one segment per project class, numbered as the classes are."""

from __future__ import annotations

import io

import highdicom as hd
import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.uid import (
    UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    MultiFrameGrayscaleWordSecondaryCaptureImageStorage,
    generate_uid,
)

from core.export.dicom_seg import NotSegmentable, segmentation

CLASSES = ("liver", "lesion", "vessel")
ROWS, COLUMNS = 32, 40


def _patient(ds: Dataset, study: str) -> None:
    ds.PatientID, ds.PatientName, ds.PatientBirthDate, ds.PatientSex = "p1", "Test^P", "", ""
    ds.StudyInstanceUID, ds.StudyID, ds.StudyDate, ds.StudyTime = study, "1", "20260101", "000000"
    ds.AccessionNumber, ds.ReferringPhysicianName = "", ""


def _image(ds: Dataset, frames: int = 1) -> None:
    ds.Rows, ds.Columns, ds.SamplesPerPixel = ROWS, COLUMNS, 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = np.zeros((frames, ROWS, COLUMNS), np.uint16).tobytes()


def _saved(ds: FileDataset) -> Dataset:
    """As a reader gets it: written and read again, without its pixels."""
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return dcmread(io.BytesIO(out.getvalue()), stop_before_pixels=True)


def _new(sop_class: UID) -> FileDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("made.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, meta.MediaStorageSOPInstanceUID
    return ds


def ct_series(slices: int) -> list[Dataset]:
    """A CT series: one file per slice, 2.5 mm apart along the patient's z axis."""
    study, series, frame_of_reference = generate_uid(), generate_uid(), generate_uid()
    made = []
    for k in range(slices):
        ds = _new(CTImageStorage)
        _patient(ds, study)
        ds.Modality, ds.SeriesInstanceUID, ds.SeriesNumber = "CT", series, 1
        ds.FrameOfReferenceUID, ds.InstanceNumber = frame_of_reference, k + 1
        ds.ImagePositionPatient = [0.0, 0.0, 2.5 * k]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing, ds.SliceThickness = [0.7, 0.7], 2.5
        _image(ds)
        made.append(_saved(ds))
    return made


def multiframe(frames: int, *, frame_of_reference: bool = True) -> Dataset:
    """A multi-frame file; with its frames' places in the patient (as enhanced CT and MR files
    carry them), or without (a plain multi-frame secondary capture)."""
    ds = _new(MultiFrameGrayscaleWordSecondaryCaptureImageStorage)
    _patient(ds, generate_uid())
    ds.Modality, ds.SeriesInstanceUID, ds.SeriesNumber, ds.InstanceNumber = (
        "OT",
        generate_uid(),
        1,
        1,
    )
    ds.NumberOfFrames = frames
    if frame_of_reference:
        ds.FrameOfReferenceUID = generate_uid()
        shared = Dataset()
        measures, orientation = Dataset(), Dataset()
        measures.PixelSpacing, measures.SliceThickness = [0.7, 0.7], 2.5
        orientation.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        shared.PixelMeasuresSequence = [measures]
        shared.PlaneOrientationSequence = [orientation]
        ds.SharedFunctionalGroupsSequence = [shared]
        ds.PerFrameFunctionalGroupsSequence = [_placed(2.5 * k) for k in range(frames)]
    _image(ds, frames)
    return _saved(ds)


def _placed(z: float) -> Dataset:
    group, position = Dataset(), Dataset()
    position.ImagePositionPatient = [0.0, 0.0, z]
    group.PlanePositionSequence = [position]
    return group


def _read(data: bytes) -> hd.seg.Segmentation:
    return hd.seg.segread(io.BytesIO(data))


def test_a_series_masks_land_on_their_own_slices_with_one_segment_per_class() -> None:
    series = ct_series(5)
    liver = np.zeros((ROWS, COLUMNS), np.uint8)
    liver[5:10, 5:20] = 1
    mixed = np.zeros((ROWS, COLUMNS), np.uint8)
    mixed[10:20, 10:30] = 2
    mixed[0:3, 0:3] = 3
    data = segmentation(series, {2: liver, 3: mixed}, CLASSES, identity="item-1/export-1")

    seg = _read(data)
    assert [s.SegmentLabel for s in seg.SegmentSequence] == list(CLASSES)
    assert [s.SegmentNumber for s in seg.SegmentSequence] == [1, 2, 3]
    assert seg.SeriesInstanceUID != series[0].SeriesInstanceUID
    assert seg.StudyInstanceUID == series[0].StudyInstanceUID  # the same study: found beside it
    referenced = seg.ReferencedSeriesSequence[0]
    assert referenced.SeriesInstanceUID == series[0].SeriesInstanceUID
    volume = seg.get_pixels_by_source_instance(
        [s.SOPInstanceUID for s in series], combine_segments=True
    )
    expected = np.zeros((5, ROWS, COLUMNS), np.uint8)
    expected[2], expected[3] = liver, mixed
    assert volume.shape == expected.shape and (volume == expected).all()
    # pydicom reads it as any other instance: a Segmentation Storage object of the study.
    plain = dcmread(io.BytesIO(data))
    assert plain.SOPClassUID == "1.2.840.10008.5.1.4.1.1.66.4" and plain.Modality == "SEG"


def test_masks_drawn_at_the_display_size_come_back_to_the_source_size() -> None:
    series = ct_series(2)
    small = np.zeros((ROWS // 2, COLUMNS // 2), np.uint8)
    small[2:6, 4:8] = 1  # rows 4..12, columns 8..16 of the source
    seg = _read(segmentation(series, {1: small}, CLASSES, identity="i/e"))
    volume = seg.get_pixels_by_source_instance(
        [s.SOPInstanceUID for s in series], combine_segments=True
    )
    assert volume.shape == (2, ROWS, COLUMNS)
    assert set(zip(*np.nonzero(volume[1]), strict=True)) == {
        (r, c) for r in range(4, 12) for c in range(8, 16)
    }
    assert not volume[0].any()


def test_a_single_image_gets_a_single_frame_segmentation() -> None:
    (image,) = ct_series(1)
    mask = np.zeros((ROWS, COLUMNS), np.uint8)
    mask[3:5, 3:9] = 3
    seg = _read(segmentation([image], {0: mask}, CLASSES, identity="one"))
    pixels = seg.get_pixels_by_source_instance([image.SOPInstanceUID], combine_segments=True)
    assert (pixels[0] == mask).all()


def test_the_same_item_and_export_give_the_same_uids() -> None:
    series = ct_series(2)
    mask = np.ones((ROWS, COLUMNS), np.uint8)
    first = _read(segmentation(series, {0: mask}, CLASSES, identity="item-7/export-3"))
    again = _read(segmentation(series, {0: mask}, CLASSES, identity="item-7/export-3"))
    other = _read(segmentation(series, {0: mask}, CLASSES, identity="item-7/export-4"))
    assert first.SOPInstanceUID == again.SOPInstanceUID
    assert first.SeriesInstanceUID == again.SeriesInstanceUID
    assert other.SOPInstanceUID != first.SOPInstanceUID


def test_a_multiframe_files_masks_refer_to_its_frames() -> None:
    source = multiframe(4)
    mask = np.zeros((ROWS, COLUMNS), np.uint8)
    mask[1:4, 1:4] = 2
    seg = _read(segmentation([source], {3: mask}, CLASSES, identity="mf"))
    frames = seg.get_pixels_by_source_frame(
        source.SOPInstanceUID, [1, 2, 3, 4], combine_segments=True
    )
    assert frames.shape == (4, ROWS, COLUMNS)
    assert (frames[3] == mask).all() and not frames[:3].any()


def test_a_multiframe_file_without_places_cannot_refer_to_its_frames() -> None:
    mask = np.ones((ROWS, COLUMNS), np.uint8)
    with pytest.raises(NotSegmentable, match="Frame of Reference"):
        segmentation([multiframe(3, frame_of_reference=False)], {0: mask}, CLASSES, identity="x")


@pytest.mark.parametrize(
    ("masks", "says"),
    [
        ({5: np.ones((ROWS, COLUMNS), np.uint8)}, "slice 5 is outside the item's 2 slices"),
        ({0: np.full((ROWS, COLUMNS), 4, np.uint8)}, "class index above the 3 classes"),
        ({0: np.zeros((ROWS, COLUMNS), np.uint8)}, "no mask has any pixel"),
        ({}, "no mask has any pixel"),
    ],
)
def test_masks_that_cannot_be_written_say_why(masks: dict[int, np.ndarray], says: str) -> None:
    with pytest.raises(NotSegmentable, match=says):
        segmentation(ct_series(2), masks, CLASSES, identity="x")
