"""Masks on a volume over HTTP: slices uploaded one by one make one item; a mask names the
slice it is painted on (a slice the item lacks is a 422 naming the field); an export job in
DICOM-SEG gives a zip whose Segmentation highdicom reads back with each mask on its own source
slice; a project without masks is refused the format with a 422 that says why."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import highdicom as hd
import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydicom import dcmread

from core.export.mask_pixels import counts_of_grid
from core.http.app import create_app
from core.settings import Settings
from tests.api.test_serving import World
from tests.support.assist import drain
from tests.support.deps import local_deps
from tests.support.labeling import creator
from tests.support.labeling import users as make_users
from tests.support.media import image_bytes, of_a_study, series_slice

SERIES = "1.2.826.0.1.3680043.2.1125.99.7"
SIDE = 16


def project(world: World, task: str) -> str:
    made = world.client.post(
        "/api/projects",
        json={
            "name": f"Scans {task}",
            "taskType": task,
            "labelClasses": [{"name": "liver"}, {"name": "lesion"}],
            "ingest": {"dicomSeries": True},
        },
        headers=world.auth("olive"),
    )
    assert made.status_code == 201, made.text
    drain(world.deps)
    return str(made.json()["id"])


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    deps = local_deps(tmp_path)
    tokens = make_users(deps, "olive")
    creator(deps, "olive")
    app = create_app(lambda: deps, Settings(webui_dir=None))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield World(deps, client, tokens, "")
    deps.close()


def square(top: int, side: int) -> np.ndarray:
    grid = np.zeros((SIDE, SIDE), dtype=bool)
    grid[top : top + side, top : top + side] = True
    return grid


def test_masks_on_slices_export_as_a_segmentation_a_viewer_reads(world: World) -> None:
    base = f"/api/projects/{project(world, 'image_semantic_segmentation')}"
    files = {}
    for n in (1, 0, 2):  # one request per file, out of order
        files[n] = of_a_study(series_slice(SERIES, z=5.0 * n, value=100 * n))
        sent = world.client.put(
            f"{base}/files/ct/{n}.dcm",
            content=files[n],
            headers=world.auth("olive") | {"Content-Type": "application/dicom"},
        )
        assert sent.status_code == 201, sent.text
    drain(world.deps)
    task = world.client.post(f"{base}/tasks/next", json={}, headers=world.auth("olive")).json()
    (item,) = task["items"]
    url = f"{base}/items/{item['id']}/annotation"

    def painted(grid: np.ndarray, slice: int) -> dict[str, object]:
        counts = counts_of_grid(grid)
        return {"label": "liver", "size": [SIDE, SIDE], "counts": counts, "slice": slice}

    bad = world.client.post(
        url, json={"value": {"masks": [painted(square(2, 4), 3)]}}, headers=world.auth("olive")
    )
    assert bad.status_code == 422
    [error] = bad.json()["errors"]
    assert error["field"] == "value.masks[0].slice"
    assert "the item has 3 slices, numbered 0 to 2" in error["rule"]
    value = {"masks": [painted(square(2, 4), 0), painted(square(6, 8), 2)]}
    done = world.client.post(url, json={"value": value}, headers=world.auth("olive"))
    assert done.status_code == 200, done.text

    job = world.client.post(
        f"{base}/exports", json={"format": "dicom_seg"}, headers=world.auth("olive")
    )
    assert job.status_code == 202, job.text
    drain(world.deps)
    view = world.client.get(f"{base}/exports/{job.json()['id']}", headers=world.auth("olive"))
    assert view.json()["status"] == "succeeded", view.text
    assert "hd.seg.segread" in view.json()["snippet"]
    data = world.client.get(view.json()["url"]).content
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        [name] = [n for n in archive.namelist() if n.endswith(".dcm")]
        seg = hd.seg.segread(io.BytesIO(archive.read(name)))
        assert archive.read("skipped.csv") == b"path,reason\r\n"
    uids = [dcmread(io.BytesIO(files[n])).SOPInstanceUID for n in (0, 1, 2)]
    volume = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=uids, segment_numbers=[1], combine_segments=True
    )
    assert np.array_equal(volume[0].astype(bool), square(2, 4))
    assert not volume[1].any()
    assert np.array_equal(volume[2].astype(bool), square(6, 8))


def test_a_project_without_masks_is_refused_dicom_seg(world: World) -> None:
    base = f"/api/projects/{project(world, 'image_bounding_box')}"
    job = world.client.post(
        f"{base}/exports", json={"format": "dicom_seg"}, headers=world.auth("olive")
    )
    assert job.status_code == 422
    [error] = job.json()["errors"]
    assert error["field"] == "format" and "holds masks" in error["rule"]
    streamed = world.client.get(
        f"{base}/export", params={"format": "dicom_seg"}, headers=world.auth("olive")
    )
    assert streamed.status_code == 422


def test_a_mask_on_a_slice_of_an_image_that_is_no_volume_is_refused(world: World) -> None:
    base = f"/api/projects/{project(world, 'image_semantic_segmentation')}"
    sent = world.client.put(
        f"{base}/files/photo.png",
        content=image_bytes("PNG", (SIDE, SIDE)),
        headers=world.auth("olive") | {"Content-Type": "image/png"},
    )
    assert sent.status_code == 201, sent.text
    drain(world.deps)
    task = world.client.post(f"{base}/tasks/next", json={}, headers=world.auth("olive")).json()
    (item,) = task["items"]
    painted = {"label": "liver", "size": [SIDE, SIDE], "counts": counts_of_grid(square(2, 4))}
    url = f"{base}/items/{item['id']}/annotation"
    bad = world.client.post(
        url, json={"value": {"masks": [painted | {"slice": 0}]}}, headers=world.auth("olive")
    )
    assert bad.status_code == 422
    [error] = bad.json()["errors"]
    assert error["field"] == "value.masks[0].slice" and "has no slices" in error["rule"]
    done = world.client.post(url, json={"value": {"masks": [painted]}}, headers=world.auth("olive"))
    assert done.status_code == 200, done.text
