"""Every frame of a multi-frame DICOM item, over HTTP: counted at ingestion, each one rendered
on first request (and the frames around it while the file is at hand), to members only, with
its ETag; a frame the item lacks is a 404 that says how many there are."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from core.domain.items import MediaFacts
from core.services import frames
from core.services.derivatives import DERIVATIVES
from core.services.frames import NEAR_FRAMES, FrameRendition, frame_name
from core.services.worklog import read_item
from tests.api.test_serving import World, upload, world
from tests.support.assist import drain
from tests.support.media import image_bytes, multiframe_dicom

__all__ = ["world"]  # the fixture, shared with the other serving tests

FRAMES = 40


def frame_url(world: World, item: dict[str, object], frame: int | str, kind: str) -> str:
    return f"/api/projects/{world.project}/items/{item['id']}/media/frames/{frame}/{kind}"


def values_of(body: bytes, shape: tuple[int, int]) -> np.ndarray:
    offset, scale = struct.unpack("<dd", body[:16])
    stored = np.frombuffer(zlib.decompress(body[16:]), dtype="<u2").reshape(shape)
    return stored.astype(np.float64) * scale + offset


def test_each_frame_is_served_to_members_with_its_etag(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Neighbours are rendered for as long as the file took to fetch, at least NEAR_SECONDS: on a
    # busy machine 50 ms may not cover them all, so the test gives them all the time they need.
    monkeypatch.setattr(frames, "NEAR_SECONDS", 60.0)
    item = upload(world, "scans/volume.dcm", multiframe_dicom(FRAMES, step=80), "application/dicom")
    drain(world.deps)
    base = f"/api/projects/{world.project}"
    # Counted at ingestion; the labeling task and the review view both say where the frames are.
    stored = read_item(world.deps, world.project, str(item["id"])).value
    assert stored.media is not None and stored.media.frames == FRAMES
    task = world.client.post(f"{base}/tasks/next", json={}, headers=world.auth("lee")).json()
    (shown,) = task["items"]
    assert shown["frames"] == FRAMES and shown["dicom"]["pixelsUrl"]
    assert shown["framesUrl"] == f"{base}/items/{item['id']}/media/frames"
    view = world.client.get(f"{base}/items/{item['id']}", headers=world.auth("rita")).json()
    assert view["frames"] == FRAMES and view["framesUrl"] == shown["framesUrl"]
    assert view["dicomView"]["pixelsUrl"] == shown["dicom"]["pixelsUrl"]

    # Frame k's values are its own: the ramp lifted by 80 × k, whatever the frame before.
    for k in (7, 0, FRAMES - 1, 8):
        pixels = world.client.get(frame_url(world, item, k, "pixels"), headers=world.auth("lee"))
        assert pixels.status_code == 200, pixels.text
        assert pixels.headers["content-type"] == "application/octet-stream"
        got = values_of(pixels.content, (48, 64))
        np.testing.assert_array_equal(got[0], np.arange(64) * 4 + 80 * k)
        display = world.client.get(frame_url(world, item, k, "display"), headers=world.auth("rita"))
        assert display.status_code == 200 and display.headers["content-type"] == "image/jpeg"
        assert display.headers["content-disposition"].startswith("inline")
        assert display.headers["x-content-type-options"] == "nosniff"

    # The frames near one asked for were rendered with it: the file was fetched once for them.
    assert all(
        world.deps.blobs.exists(DERIVATIVES, frame_name(stored, n, FrameRendition.DISPLAY))
        for n in range(8, 8 + NEAR_FRAMES // 2)
    )

    # ETag: unchanged frames are not sent again, and only after the same access checks.
    url = frame_url(world, item, 3, "display")
    etag = world.client.get(url, headers=world.auth("olive")).headers["etag"]
    assert (
        etag
        != world.client.get(
            frame_url(world, item, 4, "display"), headers=world.auth("olive")
        ).headers["etag"]
    )
    again = world.client.get(url, headers=world.auth("lee") | {"If-None-Match": etag})
    assert again.status_code == 304 and not again.content
    assert (
        world.client.get(url, headers=world.auth("sam") | {"If-None-Match": etag}).status_code
        == 403
    )
    assert world.client.get(url, headers=world.auth("ada")).status_code == 403  # admin, not member
    assert world.client.get(url).status_code == 401

    # Out of range: a 404 that says how many there are; not a frame number: 422.
    past = world.client.get(frame_url(world, item, FRAMES, "display"), headers=world.auth("lee"))
    assert past.status_code == 404 and f"numbered 0 to {FRAMES - 1}" in past.json()["detail"]
    for bad in ("-1", "one", "1.5"):
        refused = world.client.get(
            frame_url(world, item, bad, "display"), headers=world.auth("lee")
        )
        assert refused.status_code == 422, (bad, refused.text)
    wrong = world.client.get(frame_url(world, item, 0, "thumbnail"), headers=world.auth("lee"))
    assert wrong.status_code == 422


def test_one_frame_items_have_frame_zero_only(world: World) -> None:
    png = upload(world, "cat.png", image_bytes("PNG", (64, 48)), "image/png")
    drain(world.deps)
    base = f"/api/projects/{world.project}"
    view = world.client.get(f"{base}/items/{png['id']}", headers=world.auth("rita")).json()
    assert view["frames"] == 1 and "framesUrl" not in view and "dicomView" not in view
    first = world.client.get(frame_url(world, png, 0, "display"), headers=world.auth("lee"))
    assert first.status_code == 200 and first.headers["content-type"] == "image/png"  # itself
    second = world.client.get(frame_url(world, png, 1, "display"), headers=world.auth("lee"))
    assert second.status_code == 404 and "has 1 frame, numbered 0 to 0" in second.json()["detail"]
    colourless = world.client.get(frame_url(world, png, 0, "pixels"), headers=world.auth("lee"))
    assert colourless.status_code == 404 and "greyscale" in colourless.json()["detail"]


def test_items_stored_before_frames_were_counted_read_as_one_frame() -> None:
    assert MediaFacts.model_validate({"format": "dicom", "bytes": 10}).frames == 1
