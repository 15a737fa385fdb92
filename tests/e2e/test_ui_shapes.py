"""Boxes and polygons in a real browser: draw, move, resize, relabel a picked box (a key right
after drawing chooses the next box's class), delete, undo; Esc in the middle of a box never
leaves a zero-size box behind; what is submitted is what the API holds."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.support.ui import Ui, png

pytestmark = pytest.mark.slow


class Canvas:
    """Pointer gestures in fractions of the displayed image."""

    def __init__(self, page: Page) -> None:
        self.page = page
        box = page.locator("#canvas").bounding_box()
        assert box is not None
        self.box = box

    def at(self, x: float, y: float) -> tuple[float, float]:
        return self.box["x"] + x * self.box["width"], self.box["y"] + y * self.box["height"]

    def drag(
        self, start: tuple[float, float], end: tuple[float, float], *, up: bool = True
    ) -> None:
        mouse = self.page.mouse
        mouse.move(*self.at(*start))
        mouse.down()
        mouse.move(*self.at(*end), steps=5)
        if up:
            mouse.up()

    def click(self, x: float, y: float) -> None:
        self.page.mouse.click(*self.at(x, y))


def final(ui: Ui, project_id: str) -> dict[str, Any]:
    labeled = ui.items(project_id, "labeled")
    assert len(labeled) == 1
    value: dict[str, Any] = labeled[0]["final"]
    return value


def test_boxes_draw_edit_escape_and_submit(ui: Ui, page: Page) -> None:
    project_id = ui.project("Street boxes", "image_bounding_box", ["car", "person"])
    ui.upload(project_id, {"street1.png": png(1, (400, 300)), "street2.png": png(2, (400, 300))})
    ui.wait_running(project_id, 2)
    ui.sign_in(page, at=f"/p/{project_id}/label")
    expect(page.locator("#canvas")).to_be_visible()
    canvas = Canvas(page)
    shapes = page.locator("#canvas g.shape")
    first = page.locator("#stage").get_attribute("data-item-id") or ""

    next_class = page.locator("#next-class")
    expect(next_class).to_contain_text("car")
    canvas.drag((0.1, 0.1), (0.4, 0.5))  # a car…
    expect(shapes).to_have_count(1)
    page.keyboard.press("2")  # right after drawing, a key chooses the next box's class…
    expect(next_class).to_contain_text("person")
    expect(shapes.nth(0).locator("text")).to_have_text("car")
    expect(page.locator('#labels li[data-label="car"]')).to_have_class(re.compile("chosen"))
    canvas.click(0.25, 0.15)  # …and relabels a box picked with a click
    expect(next_class).to_contain_text("Picked box")
    page.keyboard.press("2")
    expect(shapes.nth(0).locator("text")).to_have_text("person")
    expect(page.locator('#labels li[data-label="car"]')).not_to_have_class(re.compile("chosen"))
    expect(page.locator('#labels li[data-label="person"]')).to_have_class(re.compile("chosen"))
    page.keyboard.press("Escape")  # deselect; the next box takes the chosen label
    page.keyboard.press("1")
    canvas.drag((0.6, 0.6), (0.9, 0.9))
    expect(shapes).to_have_count(2)
    canvas.drag((0.75, 0.75), (0.65, 0.7))  # move the car by (-0.1, -0.05)
    canvas.click(0.2, 0.2)  # select the person, then resize it by its lower-right corner
    canvas.drag((0.4, 0.5), (0.45, 0.55))
    canvas.drag((0.2, 0.7), (0.3, 0.8))  # a third box, deleted with the Delete key
    expect(shapes).to_have_count(3)
    page.keyboard.press("Delete")
    expect(shapes).to_have_count(2)

    canvas.drag((0.5, 0.1), (0.55, 0.2), up=False)  # Esc in the middle of drawing
    expect(page.locator("#temp-box")).to_have_count(1)
    page.keyboard.press("Escape")
    page.mouse.up()
    expect(page.locator("#temp-box")).to_have_count(0)
    canvas.click(0.3, 0.9)  # a click without a drag draws nothing
    expect(shapes).to_have_count(2)
    page.keyboard.press("Enter")
    expect(page.locator("#stage")).not_to_have_attribute("data-item-id", first)

    boxes = sorted(final(ui, project_id)["boxes"], key=lambda b: b["x"])
    assert [b["label"] for b in boxes] == ["person", "car"]
    person, car = boxes
    assert all(b["w"] > 0.01 and b["h"] > 0.01 for b in boxes)
    assert person["x"] == pytest.approx(0.1, abs=0.01)
    assert person["w"] == pytest.approx(0.35, abs=0.01)
    assert person["h"] == pytest.approx(0.45, abs=0.01)
    assert car["x"] == pytest.approx(0.5, abs=0.01)
    assert car["y"] == pytest.approx(0.55, abs=0.01)
    assert car["w"] == pytest.approx(0.3, abs=0.01)


def test_polygons_click_close_edit_delete_undo(ui: Ui, page: Page) -> None:
    project_id = ui.project("Lakes", "image_polygon", ["lake", "forest"])
    ui.upload(project_id, {"map1.png": png(3, (400, 400)), "map2.png": png(4, (400, 400))})
    ui.wait_running(project_id, 2)
    ui.sign_in(page, at=f"/p/{project_id}/label")
    expect(page.locator("#canvas")).to_be_visible()
    canvas = Canvas(page)
    shapes = page.locator("#canvas g.shape")
    first = page.locator("#stage").get_attribute("data-item-id") or ""

    for x, y in [(0.2, 0.2), (0.6, 0.2), (0.4, 0.6)]:
        canvas.click(x, y)
    canvas.click(0.2, 0.2)  # clicking the first point closes the polygon
    expect(shapes).to_have_count(1)
    canvas.drag((0.4, 0.6), (0.4, 0.7))  # move a point of the selected polygon

    canvas.click(0.7, 0.7)  # a draft that Esc throws away
    canvas.click(0.9, 0.7)
    page.keyboard.press("Escape")
    expect(page.locator("#draft")).to_have_count(0)

    page.keyboard.press("2")
    for x, y in [(0.7, 0.7), (0.9, 0.7), (0.9, 0.9), (0.7, 0.9)]:
        canvas.click(x, y)
    page.keyboard.press("Enter")  # Enter closes a polygon being drawn
    expect(shapes).to_have_count(2)
    page.keyboard.press("Delete")
    expect(shapes).to_have_count(1)
    page.keyboard.press("Control+z")
    expect(shapes).to_have_count(2)
    page.keyboard.press("Control+Shift+z")
    expect(shapes).to_have_count(1)
    page.keyboard.press("Enter")
    expect(page.locator("#stage")).not_to_have_attribute("data-item-id", first)

    polygons = final(ui, project_id)["polygons"]
    assert len(polygons) == 1
    assert polygons[0]["label"] == "lake"
    points = polygons[0]["points"]
    assert len(points) == 3
    assert points[2] == pytest.approx([0.4, 0.7], abs=0.01)
    assert points[0] == pytest.approx([0.2, 0.2], abs=0.01)
