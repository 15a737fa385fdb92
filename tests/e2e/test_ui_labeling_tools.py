"""Labeling tools in a real browser: a true DICOM window/level over the file's own values
(keys, right-drag, presets, reset to the file's window), a labeler's own keys (rebound, swapped,
kept across reloads), zoom and pan on the single-image classification view, and a multi-label
image project labeled by keys."""

from __future__ import annotations

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from tests.support.media import made_dicom
from tests.support.ui import Ui, eventually, png

pytestmark = pytest.mark.slow


def grey(page: Page, x: int, y: int = 10) -> int:
    """The red channel of the DICOM canvas at image pixel (x, y)."""
    value: int = page.evaluate(
        "([x, y]) => document.querySelector('#stage canvas.photo')"
        ".getContext('2d').getImageData(x, y, 1, 1).data[0]",
        [x, y],
    )
    return value


def window_of(page: Page) -> tuple[float, float]:
    panel = page.locator("#window-level")
    return (
        float(panel.get_attribute("data-center") or "nan"),
        float(panel.get_attribute("data-width") or "nan"),
    )


def test_dicom_window_level_over_the_files_values(ui: Ui, page: Page) -> None:
    # A ramp of 12-bit values: column x holds 16·x (0 … 4080), windowed 1000/500 in the file.
    ramp = np.tile(np.arange(0, 4096, 16, dtype=np.uint16), (64, 1))
    project_id = ui.project("Scans", "image_multiclass", ["normal", "finding"])
    ui.upload(project_id, {"chest.dcm": made_dicom(ramp, modality="CT", window=(1000, 500))})
    ui.wait_running(project_id, 1)
    eventually(lambda: (ui.items(project_id)[0].get("derivatives") or {}).get("pixels"))

    ui.sign_in(page, at=f"/p/{project_id}/label")
    canvas = page.locator("#stage canvas.photo")
    expect(canvas).to_be_visible()
    panel = page.locator("#window-level")
    expect(panel).to_be_visible()
    expect(page.locator("#dicom-readout")).to_have_text("C 1000 / W 500")
    assert window_of(page) == (1000, 500)
    # Values, not an 8-bit picture: below the window black, above white, 1008 at 131.6.
    assert grey(page, 40) == 0 and grey(page, 80) == 255
    assert abs(grey(page, 63) - 132) <= 1
    assert abs(grey(page, 50) - 26) <= 1  # 800

    for _ in range(5):  # ] widens by a hundredth of the range (40.8) per press
        page.keyboard.press("]")
    expect(panel).to_have_attribute("data-width", "704")
    assert abs(grey(page, 50) - 55) <= 1  # (800 - 648) / 704 · 255
    page.keyboard.press("'")  # ; ' move the centre (, . move through a volume's frames)
    expect(panel).to_have_attribute("data-center", "1040.8")

    box = canvas.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down(button="right")
    page.mouse.move(box["x"] + box["width"] / 2 + 60, box["y"] + box["height"] / 2 - 40, steps=4)
    page.mouse.up(button="right")
    center, width = window_of(page)
    assert width > 704 and center < 1040.8  # → wider, ↑ lower centre (brighter)

    page.select_option("#dicom-preset", label="Lung (C -600 / W 1500)")
    expect(panel).to_have_attribute("data-center", "-600")
    assert abs(grey(page, 0) - (0 + 1350) / 1500 * 255) <= 1  # window -1350 … 150

    page.keyboard.press("r")  # back to the file's window
    expect(page.locator("#dicom-readout")).to_have_text("C 1000 / W 500")
    assert abs(grey(page, 63) - 132) <= 1

    page.keyboard.press("2")
    expect(page.locator("#stage .chosen")).to_contain_text("finding")
    page.keyboard.press("Enter")
    eventually(lambda: ui.items(project_id, "labeled"))
    assert ui.items(project_id, "labeled")[0]["final"] == {"label": "finding"}


def test_a_labelers_own_keys_are_used_shown_and_kept(ui: Ui, page: Page) -> None:
    project_id = ui.project("My keys", "image_multiclass", ["cat", "dog", "bird"])
    ui.upload(project_id, {f"k{i}.png": png(i) for i in range(4)})
    ui.wait_running(project_id, 4)
    ui.sign_in(page, at=f"/p/{project_id}/label")
    stage = page.locator("#stage")
    expect(stage.locator("img.photo")).to_be_visible()
    dog = page.locator('#labels li[data-label="dog"] kbd')
    expect(dog).to_have_text("2")

    dog.click()  # click a class's key, then press the new one
    expect(dog).to_have_text("…")
    page.keyboard.press("d")
    expect(dog).to_have_text("d")

    page.keyboard.press("?")  # the help lists them and rebinds actions too
    help_ = page.locator("#help")
    expect(help_).to_be_visible()
    expect(help_.locator('[data-bind="class:dog"]')).to_have_text("d")
    help_.locator('[data-bind="action:skip"]').click()
    page.keyboard.press("x")
    expect(help_.locator('[data-bind="action:skip"]')).to_have_text("x")
    help_.locator('[data-bind="class:cat"]').click()
    page.keyboard.press("d")  # taken by dog: the two swap
    expect(help_.locator('[data-bind="class:cat"]')).to_have_text("d")
    expect(help_.locator('[data-bind="class:dog"]')).to_have_text("1")
    help_.locator('[data-bind="class:bird"]').click()
    page.keyboard.press("Enter")  # fixed keys are refused
    expect(page.locator("#error")).to_contain_text("fixed meaning")
    expect(help_.locator('[data-bind="class:bird"]')).to_have_text("3")
    page.keyboard.press("Escape")
    expect(help_).to_be_hidden()
    expect(page.locator('#labels li[data-label="cat"] kbd')).to_have_text("d")

    first = stage.get_attribute("data-item-id") or ""
    page.keyboard.press("1")  # dog now
    expect(stage.locator(".chosen")).to_contain_text("dog")
    page.keyboard.press("Enter")
    expect(stage).not_to_have_attribute("data-item-id", first)
    second = stage.get_attribute("data-item-id") or ""
    page.keyboard.press("s")  # no longer skip…
    page.keyboard.press("x")  # …this is
    expect(stage).not_to_have_attribute("data-item-id", second)

    page.reload()  # kept in this browser, per project
    expect(page.locator('#labels li[data-label="cat"] kbd')).to_have_text("d")
    expect(stage.locator("img.photo")).to_be_visible()
    page.keyboard.press("d")
    expect(stage.locator(".chosen")).to_contain_text("cat")
    eventually(lambda: ui.items(project_id, "skipped"))
    items = {i["id"]: i for i in ui.items(project_id)}
    assert items[first]["final"] == {"label": "dog"}
    assert items[second]["state"] == "skipped"

    page.keyboard.press("?")
    page.click("#reset-keys")
    expect(page.locator('#help [data-bind="class:cat"]')).to_have_text("1")
    expect(page.locator('#help [data-bind="action:skip"]')).to_have_text("s")


def test_zoom_and_pan_on_single_image_classification(ui: Ui, page: Page) -> None:
    project_id = ui.project("Zoom in", "image_multiclass", ["cat", "dog"])
    ui.upload(project_id, {"big.png": png(3, (1200, 900))})
    ui.wait_running(project_id, 1)
    ui.sign_in(page, at=f"/p/{project_id}/label")
    scroller = page.locator("#stage #scroller")
    expect(scroller.locator("img.photo")).to_be_visible()
    expect(scroller).to_have_attribute("data-zoom", "1")

    def sizes() -> dict[str, float]:
        found: dict[str, float] = scroller.evaluate(
            "s => ({sw: s.scrollWidth, cw: s.clientWidth, left: s.scrollLeft, top: s.scrollTop,"
            " img: s.querySelector('img').getBoundingClientRect().width})"
        )
        return found

    at_one = sizes()
    page.keyboard.press("+")
    page.keyboard.press("+")
    expect(scroller).to_have_attribute("data-zoom", "1.5625")
    zoomed = sizes()
    assert zoomed["img"] == pytest.approx(at_one["img"] * 1.5625, rel=0.02)
    assert zoomed["sw"] > zoomed["cw"]
    assert zoomed["left"] > 0  # zooming keeps the centre in view

    box = scroller.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 80, y + 40, steps=4)  # drag right: the view pans left
    page.mouse.up()
    panned = sizes()
    assert panned["left"] == pytest.approx(zoomed["left"] - 80, abs=2)

    page.keyboard.press("2")  # choosing redraws the view: it stays where it was
    expect(page.locator("#stage .chosen")).to_contain_text("dog")
    assert sizes()["left"] == pytest.approx(panned["left"], abs=2)

    page.keyboard.down("Control")
    page.mouse.move(x, y)
    page.mouse.wheel(0, -100)
    page.keyboard.up("Control")
    expect(scroller).to_have_attribute("data-zoom", "1.953125")
    page.keyboard.press("0")
    expect(scroller).to_have_attribute("data-zoom", "1")
    assert sizes()["img"] == pytest.approx(at_one["img"], rel=0.02)
    page.keyboard.press("Enter")
    eventually(lambda: ui.items(project_id, "labeled"))
    assert ui.items(project_id, "labeled")[0]["final"] == {"label": "dog"}


def test_multi_label_image_project_by_keys(ui: Ui, page: Page) -> None:
    project_id = ui.project("Tags", "image_multilabel", ["indoor", "people", "animal"])
    ui.upload(project_id, {f"m{i}.png": png(i) for i in range(2)})
    ui.wait_running(project_id, 2)
    ui.sign_in(page, at=f"/p/{project_id}/label")
    stage = page.locator("#stage")
    chosen = stage.locator(".chosen")
    expect(stage.locator("img.photo")).to_be_visible()
    first = stage.get_attribute("data-item-id") or ""
    page.keyboard.press("1")
    page.keyboard.press("2")
    expect(chosen).to_have_text("indoor, people")
    page.keyboard.press("1")  # a second press takes a label off
    expect(chosen).to_have_text("people")
    page.keyboard.press("3")
    expect(chosen).to_have_text("people, animal")
    page.keyboard.press("Control+z")
    expect(chosen).to_have_text("people")
    page.keyboard.press("Enter")
    expect(stage).not_to_have_attribute("data-item-id", first)
    page.locator('#labels li[data-label="animal"]').click()  # the mouse works too
    expect(chosen).to_have_text("animal")
    page.keyboard.press("Enter")
    eventually(lambda: len(ui.items(project_id, "labeled")) == 2)
    finals = {i["id"]: sorted(i["final"]["labels"]) for i in ui.items(project_id, "labeled")}
    assert finals[first] == ["people"]
    assert sorted(finals.values()) == [["animal"], ["people"]]
