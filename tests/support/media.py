"""Real files made on the spot, for ingestion tests: every image type Loupe takes, DICOM from
pydicom's bundled test files (no download), and the bad inputs users bring."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import (
    ExplicitVRLittleEndian,
    SecondaryCaptureImageStorage,
    generate_uid,
)
from pydicom.uid import (
    MultiFrameGrayscaleWordSecondaryCaptureImageStorage as MULTIFRAME_WORD_CAPTURE,
)

FORMAT_OF = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".jpe": "JPEG",
    ".jfif": "JPEG",
    ".png": "PNG",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}


def image_bytes(
    fmt: str = "PNG", size: tuple[int, int] = (40, 30), mode: str = "RGB", **save: object
) -> bytes:
    out = io.BytesIO()
    image = Image.new(mode, size, "red" if mode in ("RGB", "RGBA") else 128)
    if mode == "RGB":  # a gradient, so a thumbnail has something to show
        image = Image.linear_gradient("L").resize(size).convert("RGB")
    image.save(out, fmt, **save)
    return out.getvalue()


def jpeg_with_orientation(size: tuple[int, int], orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return image_bytes("JPEG", size, exif=exif.tobytes())


def multipage_tiff(pages: int, size: tuple[int, int] = (20, 10)) -> bytes:
    out = io.BytesIO()
    frames = [Image.new("L", size, 40 * i) for i in range(pages)]
    frames[0].save(out, "TIFF", save_all=True, append_images=frames[1:])
    return out.getvalue()


def bundled_dicom(name: str) -> bytes:
    path = get_testdata_file(name)  # shipped inside pydicom: found locally, never downloaded
    assert path is not None, name
    return Path(str(path)).read_bytes()


def made_dicom(
    pixels: np.ndarray,
    *,
    photometric: str = "MONOCHROME2",
    modality: str = "CR",
    window: tuple[float, float] | None = None,
    rows: int | None = None,
    columns: int | None = None,
    frames: int | None = None,
    with_pixels: bool = True,
) -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("made.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.Rows = rows or pixels.shape[0]
    ds.Columns = columns or pixels.shape[1]
    if frames:
        ds.NumberOfFrames = frames
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    if window:
        ds.WindowCenter, ds.WindowWidth = window
    if with_pixels:
        ds.PixelData = pixels.astype(np.uint16).tobytes()
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def multiframe_dicom(
    frames: int,
    size: tuple[int, int] = (48, 64),
    *,
    step: int = 200,
    modality: str = "CT",
    window: tuple[float, float] | None = None,
) -> bytes:
    """A greyscale volume (12 bits stored) whose frame k is a left-to-right ramp lifted by
    `step` × k, so that each frame tells itself apart by its values."""
    rows, columns = size
    ramp = np.tile(np.arange(columns, dtype=np.uint16) * 4, (rows, 1))
    volume = np.stack([ramp + step * k for k in range(frames)])
    assert int(volume.max()) < 4096, "keep the values within 12 bits"
    return made_dicom(
        volume, modality=modality, window=window, rows=rows, columns=columns, frames=frames
    )


def read_dicom_rows(data: bytes) -> int:
    return int(dcmread(io.BytesIO(data), stop_before_pixels=True).Rows)


def series_slice(
    series_uid: str,
    *,
    z: float | None,
    number: int | None = None,
    value: int = 0,
    size: tuple[int, int] = (16, 16),
    sop_uid: str | None = None,
) -> bytes:
    """One CT slice of series `series_uid`, at height `z` (None: no position), filled with
    `value` so that each slice tells itself apart by its pixels."""
    ds = dcmread(io.BytesIO(made_dicom(np.full(size, value), modality="CT")))
    ds.SeriesInstanceUID = series_uid
    if sop_uid is not None:
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    if z is not None:
        ds.ImagePositionPatient = [-100.0, -100.0, z]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    if number is not None:
        ds.InstanceNumber = number
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def of_a_study(data: bytes, *, study: str = "1.2.826.0.1.3680043.2.1125.77.9") -> bytes:
    """A made DICOM file with what a file from a real study has and DICOM-SEG refers to: the
    patient, the study and the series' number (the same per `study`), and for a slice placed
    in the patient its frame of reference and spacing, so highdicom can segment it."""
    ds = dcmread(io.BytesIO(data))
    ds.PatientID, ds.PatientName, ds.PatientBirthDate, ds.PatientSex = "p1", "Test^P", "", ""
    ds.StudyInstanceUID, ds.StudyID, ds.StudyDate, ds.StudyTime = study, "1", "20260101", "000000"
    ds.AccessionNumber, ds.ReferringPhysicianName = "", ""
    ds.SeriesNumber = 1
    if "SeriesInstanceUID" not in ds:
        ds.SeriesInstanceUID = study + ".1"
    if int(ds.get("NumberOfFrames", 1) or 1) > 1:  # the secondary capture class of many frames
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = MULTIFRAME_WORD_CAPTURE
    if "ImagePositionPatient" in ds:  # a slice placed in the patient
        ds.FrameOfReferenceUID = study + ".2"
        ds.PixelSpacing, ds.SliceThickness = [0.7, 0.7], 2.5
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()
