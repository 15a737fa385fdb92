"""A DICOM series in a real browser: files uploaded one by one become one item whose slices the
labeler moves through with the wheel, keys and the slider; a box drawn on slice 3 belongs to
it (not shown on slice 2, ticked on the slider), the window set stays with the series across a
reload until reset, and the reviewer sees the box on slice 3 only."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.support.media import series_slice
from tests.support.ui import Ui, eventually

pytestmark = pytest.mark.slow

SERIES = "1.2.826.0.1.3680043.2.1125.88.1"
COUNT = 5


def on_slice(frames: Locator, n: int) -> None:
    expect(frames.locator("#frame-readout")).to_contain_text(f"{n + 1} / {COUNT}")
    expect(frames).to_have_attribute("data-shown", str(n))


def drag(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    box = page.locator("#canvas").bounding_box()
    assert box is not None
    at = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in (start, end)]
    page.mouse.move(*at[0])
    page.mouse.down()
    page.mouse.move(*at[1], steps=5)
    page.mouse.up()


def test_a_series_is_one_item_with_shapes_per_slice(ui: Ui, page: Page) -> None:
    project_id = ui.project(
        "Series", "image_bounding_box", ["lesion", "cyst"], ingest={"dicomSeries": True}
    )
    # Sent out of order, one by one: position along the normal decides the order.
    order = [3, 0, 4, 1, 2]
    ui.upload(
        project_id,
        {
            f"ct/{n:03d}.dcm": series_slice(SERIES, z=10.0 * n, value=200 * n, size=(64, 64))
            for n in order
        },
    )
    ui.wait_running(project_id, 1)
    item = eventually(
        lambda: [i for i in ui.items(project_id) if i.get("derivatives") and i["frames"] == COUNT]
    )[0]
    assert item["path"] == f"ct/{SERIES}.dcm"

    ui.sign_in(page, at=f"/p/{project_id}/label")
    frames = page.locator("#stage #frames")
    on_slice(frames, 0)
    box = page.locator("#canvas").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, 100)  # a notch: the next slice
    on_slice(frames, 1)
    page.keyboard.press("End")
    on_slice(frames, COUNT - 1)
    page.keyboard.press("Home")
    on_slice(frames, 0)

    # The window stays with the series: across slices, and when the labeler comes back.
    panel = page.locator("#window-level")
    start = panel.get_attribute("data-width")
    page.keyboard.press("]")
    expect(panel).not_to_have_attribute("data-width", start or "")
    widened = panel.get_attribute("data-width")
    page.keyboard.press(".")
    on_slice(frames, 1)
    expect(panel).to_have_attribute("data-width", widened or "")
    page.reload()
    expect(page.locator("#stage #frames")).to_be_visible()
    expect(page.locator("#window-level")).to_have_attribute("data-width", widened or "")
    page.keyboard.press("r")  # reset: the file's window, and nothing remembered
    expect(page.locator("#window-level")).to_have_attribute("data-width", start or "")
    page.reload()
    expect(page.locator("#window-level")).to_have_attribute("data-width", start or "")

    frames = page.locator("#stage #frames")
    frames.locator("#frame-slider").fill("3")  # slice 3
    on_slice(frames, 2)
    drag(page, (0.2, 0.2), (0.6, 0.5))
    visible = page.locator("#canvas g.shape:not(.off-slice)")
    expect(visible).to_have_count(1)
    expect(visible.first).to_have_attribute("data-slice", "2")
    expect(frames.locator("#frame-readout")).to_have_text(f"3 / {COUNT} ●")
    expect(frames.locator('#frame-marks .frame-mark[data-slice="2"]')).to_have_count(1)

    page.keyboard.press(",")  # slice 2 (the second): the box is not there
    on_slice(frames, 1)
    expect(visible).to_have_count(0)
    expect(frames.locator("#frame-readout")).to_have_text(f"2 / {COUNT}")
    page.keyboard.press(".")
    on_slice(frames, 2)
    expect(visible).to_have_count(1)

    page.keyboard.press("Enter")
    labeled = eventually(lambda: ui.items(project_id, "labeled"))
    [shape] = labeled[0]["final"]["boxes"]
    assert shape["slice"] == 2 and shape["label"] == "lesion"

    # The reviewer: the box is on slice 3 only.
    page.goto(f"{ui.url}/#/p/{project_id}/data")
    tile = page.locator(f'article[data-item-id="{item["id"]}"]')
    expect(tile.locator(".frames-badge")).to_have_text(f"{COUNT} frames · shapes on 1")
    expect(tile.locator(".overlay-shapes rect")).to_have_count(0)  # the thumbnail is slice 1
    tile.click()
    viewer = page.locator("#viewer")
    frames = viewer.locator("#frames")
    on_slice(frames, 0)
    shown = viewer.locator("#canvas g.shape:not(.off-slice)")
    expect(shown).to_have_count(0)
    expect(frames.locator('#frame-marks .frame-mark[data-slice="2"]')).to_have_count(1)
    page.keyboard.press(".")
    on_slice(frames, 1)
    expect(shown).to_have_count(0)
    page.keyboard.press(".")
    on_slice(frames, 2)
    expect(shown).to_have_count(1)
    expect(shown.first).to_have_attribute("data-slice", "2")


def test_the_owner_turns_series_on_in_the_ingestion_settings(ui: Ui, page: Page) -> None:
    project_id = ui.project("Series later", "image_bounding_box", ["lesion"])
    ui.sign_in(page, at=f"/p/{project_id}/details")
    box = page.locator("#ingest-series")
    expect(box).not_to_be_checked()
    box.check()
    page.locator("#ingest-save").click()
    eventually(lambda: ui.api("GET", f"/projects/{project_id}")["ingest"].get("dicomSeries"))
    page.reload()
    expect(page.locator("#ingest-series")).to_be_checked()
