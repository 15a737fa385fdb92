"""Masks and keypoints on a DICOM series in a real browser: the mask editor paints on the slice
on screen, the keyboard alone moves between slices (`.` and `,`), each slice keeps its own
painting and shows no other's, the slider ticks the painted slices; what the API holds is each
slice's mask with its slice number, pixel for pixel what the canvas showed; the reviewer finds
each mask on its slice only. Keypoint instances likewise belong to the slice they are placed
on."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import highdicom as hd
import numpy as np
import pytest
from playwright.sync_api import Locator, Page, expect
from pycocotools import mask as coco_mask  # type: ignore[import-untyped]

from tests.e2e.test_ui_shapes import Canvas
from tests.support.media import of_a_study, series_slice
from tests.support.ui import Ui, eventually

pytestmark = pytest.mark.slow

SERIES = "1.2.826.0.1.3680043.2.1125.88.7"
COUNT, SIDE = 4, 64
ROAD = (0xE6, 0x19, 0x4B)  # the UI's colour of the first class


def on_slice(frames: Locator, n: int) -> None:
    expect(frames.locator("#frame-readout")).to_contain_text(f"{n + 1} / {COUNT}")
    expect(frames).to_have_attribute("data-shown", str(n))


def series(
    ui: Ui, name: str, task: str, classes: list[str], **settings: Any
) -> tuple[str, dict[str, Any]]:
    project_id = ui.project(name, task, classes, ingest={"dicomSeries": True}, **settings)
    ui.upload(
        project_id,
        {
            f"ct/{n:03d}.dcm": of_a_study(
                series_slice(SERIES, z=5.0 * n, value=300 * n, size=(SIDE, SIDE))
            )
            for n in range(COUNT)
        },
    )
    ui.wait_running(project_id, 1)
    item = eventually(
        lambda: [i for i in ui.items(project_id) if i.get("derivatives") and i["frames"] == COUNT]
    )[0]
    return project_id, item


def painted(page: Page, where: str = "#stage") -> np.ndarray:
    """The pixels the mask canvas shows in the first class's colour."""
    data = page.evaluate(
        """(sel) => {
            const c = document.querySelector(sel + ' #mask-canvas');
            return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data);
        }""",
        where,
    )
    rgba = np.array(data, dtype=np.int16).reshape(SIDE, SIDE, 4)
    return (rgba[..., 3] > 0) & (abs(rgba[..., :3] - ROAD) <= 4).all(axis=-1)


def stroke(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    box = page.locator("#mask-canvas").bounding_box()
    assert box is not None
    at = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in (start, end)]
    page.mouse.move(*at[0])
    page.mouse.down()
    page.mouse.move(*at[1], steps=8)
    page.mouse.up()


def test_masks_are_painted_slice_by_slice_and_reviewed_on_their_slice(ui: Ui, page: Page) -> None:
    project_id, item = series(ui, "Road series", "image_semantic_segmentation", ["road", "sky"])
    ui.sign_in(page, at=f"/p/{project_id}/label")
    frames = page.locator("#stage #frames")
    on_slice(frames, 0)
    expect(page.locator("#mask-canvas")).to_be_visible()
    page.keyboard.press("b")
    page.keyboard.press("]")
    stroke(page, (0.1, 0.2), (0.4, 0.2))
    first = painted(page)
    assert first[:, : SIDE // 2].any() and not first[:, SIDE // 2 + 8 :].any()

    page.keyboard.press(".")  # the keyboard alone: the next slice, where nothing is painted
    on_slice(frames, 1)
    assert not painted(page).any()
    stroke(page, (0.6, 0.7), (0.9, 0.7))
    second = painted(page)
    assert second[:, SIDE // 2 :].any() and not second[:, : SIDE // 2 - 8].any()
    expect(frames.locator("#frame-marks .frame-mark")).to_have_count(2)

    page.keyboard.press(",")  # back: the first slice kept its painting, and only its own
    on_slice(frames, 0)
    assert (painted(page) == first).all()
    page.keyboard.press(".")
    on_slice(frames, 1)
    assert (painted(page) == second).all()

    page.keyboard.press("Enter")
    [labeled] = eventually(lambda: ui.items(project_id, "labeled"))
    masks = {m["slice"]: m for m in labeled["final"]["masks"]}
    assert sorted(masks) == [0, 1] and {m["label"] for m in masks.values()} == {"road"}
    for n, shown in ((0, first), (1, second)):
        rle = {"size": masks[n]["size"], "counts": masks[n]["counts"].encode()}
        assert (coco_mask.decode(rle).astype(bool) == shown).all()

    # The reviewer: each mask on its own slice only.
    page.goto(f"{ui.url}/#/p/{project_id}/data")
    tile = page.locator(f'article[data-item-id="{item["id"]}"]')
    expect(tile.locator(".frames-badge")).to_have_text(f"{COUNT} frames · shapes on 2")
    tile.click()
    viewer = page.locator("#viewer")
    frames = viewer.locator("#frames")
    on_slice(frames, 0)
    expect(viewer.locator("#mask-canvas")).to_be_visible()
    page.wait_for_function("() => document.querySelector('#viewer #mask-tool')?.textContent")
    assert (painted(page, "#viewer") == first).all()
    page.keyboard.press(".")
    on_slice(frames, 1)
    assert (painted(page, "#viewer") == second).all()
    page.keyboard.press(".")
    on_slice(frames, 2)
    assert not painted(page, "#viewer").any()

    # The export dialog offers DICOM-SEG to a mask project: one Segmentation for the series.
    page.keyboard.press("Escape")
    expect(viewer).to_have_count(0)
    ui.sign_in(page, at=f"/p/{project_id}/details")
    page.click("#export-open")
    page.select_option("#export-format", "dicom_seg")
    page.click("#export-start")
    link = page.locator("#export-download")
    expect(link).to_be_visible(timeout=20_000)
    with page.expect_download() as download:
        link.click()
    with zipfile.ZipFile(download.value.path()) as archive:
        [name] = [n for n in archive.namelist() if n.endswith(".dcm")]
        seg = hd.seg.segread(io.BytesIO(archive.read(name)))
    assert [s.SegmentLabel for s in seg.SegmentSequence] == ["road", "sky"]
    assert int(seg.NumberOfFrames) == 2  # road on two slices, sky on none


WET_ROAD = {"name": "road", "attributes": [{"name": "wet", "type": "boolean"}]}


def test_a_slice_mask_carries_its_own_attributes(ui: Ui, page: Page) -> None:
    project_id, _ = series(
        ui, "Wet road series", "image_semantic_segmentation", [], labelClasses=[WET_ROAD]
    )
    ui.sign_in(page, at=f"/p/{project_id}/label")
    frames = page.locator("#stage #frames")
    on_slice(frames, 0)
    panel = page.locator("#attributes")
    page.keyboard.press("b")
    page.keyboard.press("]")
    stroke(page, (0.1, 0.2), (0.4, 0.2))
    page.keyboard.press(".")
    on_slice(frames, 1)
    expect(panel).to_be_hidden()  # road has no mask on this slice yet
    stroke(page, (0.6, 0.7), (0.9, 0.7))
    expect(panel).to_be_visible()
    page.keyboard.press("Shift+Digit1")  # this slice's road is wet
    expect(panel.locator('input[data-attribute="wet"]')).to_be_checked()
    stroke(page, (0.6, 0.5), (0.9, 0.5))  # repainting keeps it
    page.keyboard.press(",")
    on_slice(frames, 0)
    expect(panel.locator('input[data-attribute="wet"]')).not_to_be_checked()
    page.keyboard.press("Enter")
    [labeled] = eventually(lambda: ui.items(project_id, "labeled"))
    masks = {m["slice"]: m.get("attributes") for m in labeled["final"]["masks"]}
    assert masks == {0: None, 1: {"wet": True}}


HAND = {"name": "hand", "keypoints": {"points": ["wrist", "thumb"], "edges": [[0, 1]]}}


def test_keypoint_instances_belong_to_the_slice_they_are_placed_on(ui: Ui, page: Page) -> None:
    project_id, _ = series(ui, "Hand series", "image_keypoints", [], labelClasses=[HAND])
    ui.sign_in(page, at=f"/p/{project_id}/label")
    frames = page.locator("#stage #frames")
    on_slice(frames, 0)
    page.keyboard.press("PageDown")  # slice 2 of 4
    on_slice(frames, 1)
    canvas = Canvas(page)
    canvas.click(0.3, 0.3)
    canvas.click(0.5, 0.4)
    shown = page.locator("#canvas g.instance:not(.off-slice)")
    expect(shown).to_have_count(1)
    expect(shown.first).to_have_attribute("data-slice", "1")
    page.keyboard.press("PageUp")
    on_slice(frames, 0)
    expect(shown).to_have_count(0)
    page.keyboard.press("PageDown")
    on_slice(frames, 1)
    expect(shown).to_have_count(1)
    page.keyboard.press("Enter")
    [labeled] = eventually(lambda: ui.items(project_id, "labeled"))
    [instance] = labeled["final"]["keypoints"]
    assert instance["slice"] == 1 and instance["label"] == "hand"
    assert [p["v"] for p in instance["points"]] == [2, 2]
    ui.sign_in(page, at=f"/p/{project_id}/details")
    page.click("#export-open")
    formats = page.locator("#export-format option")
    expect(formats.first).to_be_attached()
    assert "dicom_seg" not in [o.get_attribute("value") for o in formats.all()]


def test_brackets_size_the_brush_and_shift_brackets_the_window_on_both_screens(
    ui: Ui, page: Page
) -> None:
    project_id, item = series(ui, "Bracket series", "image_semantic_segmentation", ["road"])
    ui.sign_in(page, at=f"/p/{project_id}/label")
    on_slice(page.locator("#stage #frames"), 0)
    tool, panel = page.locator("#mask-tool"), page.locator("#window-level")
    for where in ("labeling", "review"):
        expect(tool).to_contain_text("size")
        expect(panel).to_be_visible()
        size, width = tool.text_content(), panel.get_attribute("data-width")
        page.keyboard.press("]")
        expect(tool).not_to_have_text(size or "")
        assert panel.get_attribute("data-width") == width  # the brush, not the window
        page.keyboard.press("Shift+BracketRight")
        expect(panel).not_to_have_attribute("data-width", width or "")
        if where == "labeling":  # the same keys in the reviewer's viewer, where they fix masks
            page.goto(f"{ui.url}/#/p/{project_id}/data")
            page.locator(f'article[data-item-id="{item["id"]}"]').click()
            on_slice(page.locator("#viewer #frames"), 0)
            page.locator("#viewer #mask-canvas").wait_for()
