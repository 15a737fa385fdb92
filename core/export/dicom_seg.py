"""DICOM-SEG: the masks of one DICOM item (a multi-frame file, or a series of single-frame
files) as a Segmentation instance that refers to its source images, so that a DICOM viewer or
a pipeline reading the study finds each mask on its own slice.

Written with highdicom, the reference implementation of the standard's Segmentation IOD. Each
project class is one segment, numbered as the class is in the project (segment n is class
n-1), so the numbering is the same in every item's file; the classes are user-defined, so each
is coded in a private coding scheme (`99LOUPE`, as the standard allows for local codes) under
the generic category "Anatomical structure" only when nothing better is known. The labels come
from people (`MANUAL`). Masks drawn at the item's display size are brought back to the source's
own rows and columns by nearest neighbour (`mask_pixels.resized`, as every export of masks
does), which keeps every pixel one class."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import highdicom as hd
import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from core.export import mask_pixels

CODING_SCHEME = "99LOUPE"
"""Local codes (the standard reserves designators starting with 99 for them)."""
CATEGORY = hd.sr.CodedConcept("91723000", "SCT", "Anatomical Structure")
"""The category of a class the project says nothing more of."""
SERIES_NUMBER = 9100
"""Where the segmentation sorts among the study's series in a viewer (after the images)."""


class NotSegmentable(ValueError):
    """The item's masks cannot be written as DICOM-SEG (the reason says why)."""


def segmentation(
    sources: Sequence[Dataset],
    masks: Mapping[int, npt.NDArray[np.integer]],
    classes: Sequence[str],
    *,
    identity: str,
    software: str = "Loupe",
) -> bytes:
    """The DICOM-SEG file of `masks` (slice index → class-index mask, 0 = background, 1 + the
    class's position in `classes` otherwise) over `sources`: one multi-frame dataset (slices
    are its frames) or one single-frame dataset per slice, in slice order. Slices without a
    mask are background. `identity` (an item and an export, say) fixes the new UIDs, so that a
    part written again is the same instance."""
    if not sources:
        raise NotSegmentable("no source images")
    frames = _frames(sources)
    rows, columns = int(sources[0].Rows), int(sources[0].Columns)
    labels = np.zeros((frames, rows, columns), dtype=np.uint8 if len(classes) < 256 else np.uint16)
    for index, mask in masks.items():
        if not 0 <= index < frames:
            raise NotSegmentable(f"slice {index} is outside the item's {frames} slices")
        if int(mask.max(initial=0)) > len(classes):
            raise NotSegmentable(
                f"slice {index} has a class index above the {len(classes)} classes"
            )
        labels[index] = _resized(mask, rows, columns)
    if not labels.any():
        raise NotSegmentable("no mask has any pixel of a class")
    try:
        seg = _written(sources, labels, classes, identity, software)
    except ValueError as error:  # what highdicom finds wrong with the sources
        raise NotSegmentable(str(error)) from error
    except AttributeError as error:  # highdicom reads what a Segmentation refers to as it goes
        raise NotSegmentable(
            f"the source images lack {error.name or 'an attribute'}, which a Segmentation "
            "refers to (a DICOM file of a study: patient, study and series)"
        ) from error
    except (IndexError, KeyError) as error:  # sources whose frames' descriptions disagree
        raise NotSegmentable(f"highdicom cannot read the source frames: {error!r}") from error
    _organized(seg, generate_uid(entropy_srcs=[identity, "dimensions"]))
    out = io.BytesIO()
    seg.save_as(out)
    return out.getvalue()


def _written(
    sources: Sequence[Dataset],
    labels: npt.NDArray[np.integer],
    classes: Sequence[str],
    identity: str,
    software: str,
) -> hd.seg.Segmentation:
    return hd.seg.Segmentation(
        source_images=list(sources),
        pixel_array=labels if len(labels) > 1 else labels[0],
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[_segment(number, name) for number, name in enumerate(classes, 1)],
        series_instance_uid=generate_uid(entropy_srcs=[identity, "series"]),
        series_number=SERIES_NUMBER,
        sop_instance_uid=generate_uid(entropy_srcs=[identity, "instance"]),
        instance_number=1,
        manufacturer=software,
        manufacturer_model_name=software,
        software_versions=software,
        device_serial_number="none",
        omit_empty_frames=True,
    )


def _organized(seg: hd.seg.Segmentation, uid: str) -> None:
    """The dimension organization highdicom names with a random UID, named from the identity
    instead: every UID of the instance is then the same when it is written again."""
    for group in seg.DimensionOrganizationSequence:
        group.DimensionOrganizationUID = uid
    for index in seg.DimensionIndexSequence:
        index.DimensionOrganizationUID = uid


def _frames(sources: Sequence[Dataset]) -> int:
    if len(sources) == 1:
        return int(getattr(sources[0], "NumberOfFrames", 1) or 1)
    if any(int(getattr(s, "NumberOfFrames", 1) or 1) > 1 for s in sources):
        raise NotSegmentable("a series of multi-frame files: one file per slice expected")
    sizes = {(int(s.Rows), int(s.Columns)) for s in sources}
    if len(sizes) > 1:
        raise NotSegmentable(f"the slices differ in size: {sorted(sizes)}")
    return len(sources)


def _resized(mask: npt.NDArray[np.integer], rows: int, columns: int) -> npt.NDArray[np.integer]:
    if mask.ndim != 2:
        raise NotSegmentable(f"a mask must be 2-D, not of shape {mask.shape}")
    return mask_pixels.resized(mask, rows, columns)


def _segment(number: int, name: str) -> hd.seg.SegmentDescription:
    return hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=name[:64],  # LO: at most 64 characters
        segmented_property_category=CATEGORY,
        segmented_property_type=hd.sr.CodedConcept(f"C{number}", CODING_SCHEME, name[:64]),
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
    )
