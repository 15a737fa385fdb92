"""A multi-frame DICOM in a real browser: the labeling screen and the review viewer move through
its frames with , . and PageUp/PageDown, the mouse wheel over the image, the slider and Home/End,
say "n / N", draw each frame from its own values through the window the labeler set (which
stays as the frames change, and with the item when it is shown again), and the answer is the
item's, whatever frame it was given on."""

from __future__ import annotations

import statistics
import time

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.support.media import multiframe_dicom
from tests.support.ui import Ui, eventually

pytestmark = pytest.mark.slow

FRAMES, STEP = 12, 300  # frame k: a ramp of 0…252 lifted by 300 × k (12 bits)
WINDOW = (2000.0, 4000.0)  # 0 … 4000: grey = value / 4000 × 255


def grey(page: Page, canvas: str, x: int = 0) -> int:
    value: int = page.evaluate(
        "([selector, x]) => document.querySelector(selector)"
        ".getContext('2d').getImageData(x, 10, 1, 1).data[0]",
        [canvas, x],
    )
    return value


def expected_grey(frame: int, center: float = WINDOW[0], width: float = WINDOW[1]) -> float:
    low = center - width / 2
    return min(255.0, max(0.0, (STEP * frame - low) / width * 255))


def on_frame(frames: Locator, frame: int) -> None:
    expect(frames.locator("#frame-readout")).to_have_text(f"{frame + 1} / {FRAMES}")
    expect(frames).to_have_attribute("data-shown", str(frame))


def test_frames_by_keys_wheel_and_slider_in_labeling_and_review(ui: Ui, page: Page) -> None:
    project_id = ui.project("Volumes", "image_multiclass", ["normal", "finding"])
    volume = multiframe_dicom(FRAMES, step=STEP, window=WINDOW)
    ui.upload(project_id, {"ct/volume.dcm": volume})
    ui.wait_running(project_id, 1)
    item = eventually(lambda: [i for i in ui.items(project_id) if i.get("derivatives")])[0]
    assert item["media"]["frames"] == FRAMES and item["frames"] == FRAMES

    ui.sign_in(page, at=f"/p/{project_id}/label")
    canvas = "#stage canvas.photo"
    frames = page.locator("#stage #frames")
    on_frame(frames, 0)
    assert grey(page, canvas) == 0

    # Keys: . and PageDown forward, , and PageUp back, End and Home to the ends.
    pressed: list[float] = []
    for key, frame in ((".", 1), ("PageDown", 2), ("PageDown", 3), (",", 2), ("PageUp", 1)):
        started = time.perf_counter()
        page.keyboard.press(key)
        on_frame(frames, frame)
        pressed.append(time.perf_counter() - started)
        assert abs(grey(page, canvas) - expected_grey(frame)) <= 1, (key, frame)
    page.keyboard.press("End")
    on_frame(frames, FRAMES - 1)
    assert abs(grey(page, canvas) - expected_grey(FRAMES - 1)) <= 1
    page.keyboard.press("Home")
    on_frame(frames, 0)
    # Again, now that the frames are in memory (and at the server).
    again: list[float] = []
    for frame in range(1, 4):
        started = time.perf_counter()
        page.keyboard.press(".")
        on_frame(frames, frame)
        again.append(time.perf_counter() - started)

    # The wheel over the image: a notch a frame.
    box = page.locator(canvas).bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(3):
        page.mouse.wheel(0, 100)
    on_frame(frames, 6)
    assert abs(grey(page, canvas) - expected_grey(6)) <= 1
    page.mouse.wheel(0, -100)
    on_frame(frames, 5)

    # The slider (1-based, as the readout).
    frames.locator("#frame-slider").fill("10")
    on_frame(frames, 9)
    assert abs(grey(page, canvas) - expected_grey(9)) <= 1

    # The window the labeler sets stays as the frames change; ; ' move the centre.
    panel = page.locator("#window-level")
    expect(panel).to_have_attribute("data-center", "2000")
    for _ in range(3):  # a hundredth of the values seen (0 … 3552) per press
        page.keyboard.press(";")
    center = 2000 - 3 * 35.52
    expect(panel).to_have_attribute("data-center", f"{center:g}")
    page.keyboard.press(",")
    on_frame(frames, 8)
    assert float(panel.get_attribute("data-center") or "nan") == center
    assert abs(grey(page, canvas) - expected_grey(8, center)) <= 1

    # The answer is the item's, given on any frame.
    page.keyboard.press("2")
    expect(page.locator("#stage .chosen")).to_contain_text("finding")
    page.keyboard.press("Enter")
    labeled = eventually(lambda: ui.items(project_id, "labeled"))
    assert labeled[0]["final"] == {"label": "finding"}

    # The review viewer: the same frames, and window/level as on the labeling screen, starting
    # from the window this browser last left on the item.
    page.goto(f"{ui.url}/#/p/{project_id}/data")
    tile = page.locator(f'article[data-item-id="{item["id"]}"]')
    expect(tile.locator(".frames-badge")).to_have_text(f"{FRAMES} frames")  # said on the grid
    tile.click()
    viewer = page.locator("#viewer")
    shown = "#viewer-stage canvas.photo"
    frames = viewer.locator("#frames")
    on_frame(frames, 0)
    expect(viewer.locator("#window-level")).to_be_visible()
    expect(viewer.locator("#dicom-readout")).to_have_text(f"C {center:.0f} / W 4000")
    page.keyboard.press(".")
    on_frame(frames, 1)
    page.keyboard.press("PageDown")
    on_frame(frames, 2)
    assert abs(grey(page, shown) - expected_grey(2, center)) <= 1
    box = viewer.locator(shown).bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, 100)
    on_frame(frames, 3)
    frames.locator("#frame-slider").fill("12")
    on_frame(frames, FRAMES - 1)
    for _ in range(5):  # ] widens by a hundredth of the values seen (0 … 3552) per press
        page.keyboard.press("]")
    width = 4000 + 5 * 35.52
    expect(viewer.locator("#window-level")).to_have_attribute("data-width", f"{width:g}")
    assert abs(grey(page, shown) - expected_grey(FRAMES - 1, center, width)) <= 1
    page.keyboard.press("ArrowRight")  # arrows still move through the items, not the frames
    on_frame(frames, FRAMES - 1)

    print(
        f"\nframe on screen after a key: first visit median "
        f"{statistics.median(pressed) * 1000:.0f} ms (max {max(pressed) * 1000:.0f}), "
        f"again {statistics.median(again) * 1000:.0f} ms (Playwright's round trips included)"
    )
