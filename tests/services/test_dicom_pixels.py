"""Greyscale DICOM keeps its values for a true window/level in the browser: the modality LUT
applied, packed as zlib'd uint16 with offset and scale, at the display size; colour DICOM and
ordinary images get none."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from core.domain.datasets import Dataset, DataSource
from core.domain.projects import ProjectSettings
from core.http.routes.labeling import dicom_view
from core.media.dicom import raw_pixels
from core.media.probe import render
from core.ports import Deps
from core.services import projects
from core.services.derivatives import DERIVATIVES
from tests.services.test_ingestion import drain, items_of
from tests.support.labeling import creator
from tests.support.media import bundled_dicom, image_bytes, made_dicom

LIMIT = 10**9


def unpack(data: bytes, offset: float, scale: float, shape: tuple[int, int]) -> np.ndarray:
    stored = np.frombuffer(zlib.decompress(data), dtype="<u2").reshape(shape)
    return stored.astype(np.float64) * scale + offset


def test_ct_values_come_back_in_hounsfield_units() -> None:
    from pydicom import dcmread
    from pydicom.data import get_testdata_file
    from pydicom.pixels.processing import apply_modality_lut

    data = bundled_dicom("CT_small.dcm")
    made = render(".dcm", data, max_pixels=LIMIT)
    assert made.pixels is not None
    ds = dcmread(str(get_testdata_file("CT_small.dcm")))
    expected = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
    assert expected.min() < 0  # CT below water: the offset carries the sign
    got = unpack(made.pixels.data, made.pixels.offset, made.pixels.scale, expected.shape)
    assert made.pixels.scale == 1.0
    np.testing.assert_array_equal(got, expected)


def test_window_from_the_file_and_values_of_a_ramp() -> None:
    ramp = np.tile(np.arange(0, 4096, 16, dtype=np.uint16), (8, 1))  # 8 × 256
    made = render(".dcm", made_dicom(ramp, window=(1000, 500)), max_pixels=LIMIT)
    assert made.dicom is not None
    assert (made.dicom.window_center, made.dicom.window_width) == (1000.0, 500.0)
    assert made.pixels is not None
    np.testing.assert_array_equal(
        unpack(made.pixels.data, made.pixels.offset, made.pixels.scale, ramp.shape), ramp
    )


def test_big_or_fractional_values_scale_into_16_bits_at_the_display_size() -> None:
    values = np.linspace(-100_000.5, 100_000.5, 300 * 200).reshape(200, 300)
    packed = raw_pixels(values, (150, 100))
    got = unpack(packed.data, packed.offset, packed.scale, (100, 150))
    assert packed.scale == pytest.approx(200_001 / 65535, rel=0.02)  # resizing trims the ends
    assert values.min() - 5 <= got.min() < -99_000 and 99_000 < got.max() <= values.max() + 5
    assert np.all(np.diff(got.ravel()) >= -packed.scale)  # still a ramp, to one step


def test_colour_dicom_and_plain_images_have_no_pixels() -> None:
    assert render(".dcm", bundled_dicom("SC_rgb_rle_2frame.dcm"), max_pixels=LIMIT).pixels is None
    assert render(".png", image_bytes("PNG", (64, 48)), max_pixels=LIMIT).pixels is None


def test_the_derivatives_stage_stores_the_pixels_and_the_task_links_them(deps: Deps) -> None:
    deps.blobs.put("lake", "scans/ct.dcm", bundled_dicom("CT_small.dcm"))
    deps.blobs.put("lake", "scans/photo.png", image_bytes("PNG", (64, 48)))
    deps.blobs.put(
        "lake", "scans/inverted.dcm", made_dicom(np.zeros((4, 4)), photometric="MONOCHROME1")
    )
    fields: dict[str, object] = {
        "name": "Scans",
        "taskType": "image_multiclass",
        "labelClasses": [{"name": "a"}],
        "dataset": Dataset(source=DataSource.BLOB, container="lake", path="scans/**"),
    }
    creator(deps, "ann")
    project = projects.create_project(
        deps, settings=ProjectSettings.model_validate(fields), actor="ann"
    ).value
    drain(deps)
    items = items_of(deps, project.id)
    ct = items["scans/ct.dcm"]
    assert ct.derivatives is not None and ct.derivatives.pixels is not None
    container, name = ct.derivatives.pixels.path.split("/", 1)
    assert container == DERIVATIVES and name.endswith("pixels.u16le.zlib")
    stored = deps.blobs.get(container, name)
    shape = (ct.derivatives.height, ct.derivatives.width)
    assert unpack(stored, ct.derivatives.pixels.offset, 1.0, shape).shape == shape
    view = dicom_view(ct)
    assert view is not None and view.pixels_url and view.modality == "CT"
    assert view.window_width == ct.dicom.window_width if ct.dicom else False
    assert not view.invert
    inverted = dicom_view(items["scans/inverted.dcm"])
    assert inverted is not None and inverted.invert
    photo = items["scans/photo.png"]
    assert photo.derivatives is not None and photo.derivatives.pixels is None
    assert dicom_view(photo) is None
